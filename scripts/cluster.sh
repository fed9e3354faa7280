#!/usr/bin/env bash
# Build and install pg_hedis, start a throwaway PostgreSQL 15 cluster with
# shared_preload_libraries=pg_hedis, run the given command inside it, stop it.
#
#   scripts/cluster.sh COMMAND [ARGS...]
#
# Inside COMMAND the usual libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE)
# point at the cluster, and:
#   HEDIS_REPO      absolute path of the repository
#   HEDIS_ECQM      absolute path of the eCQM material readable by the server,
#                   or empty when ../shared/ecqm is absent
#   HEDIS_FIXTURES  a copy of test/fixtures readable by the server
#   HEDIS_DESTDIR   the private installation tree (non-root only), else empty
#
# Settings read from the environment:
#   HEDIS_PRIVATE_INSTALL=1  use the private installation tree even as root
#                            (leaves the system's PostgreSQL untouched)
#   HEDIS_ECQM_DIR           where the eCQM material is (default ../shared/ecqm)
#
# As root the extension is installed with `make install` and the cluster is run
# by pg_virtualenv as the postgres user.  As any other user the extension is
# installed into a private tree (make install DESTDIR=...) that the server
# reads through Debian's extension_destdir and dynamic_library_path settings.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
export HEDIS_REPO=$REPO

[ $# -ge 1 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export PG_CONFIG
JOBS=$(nproc 2>/dev/null || echo 2)

SCRATCH=$(mktemp -d -t pg_hedis.XXXXXX)
cleanup() { rm -rf "$SCRATCH"; }
trap cleanup EXIT
chmod 755 "$SCRATCH"

echo "== build"
make -s -j"$JOBS" PG_CONFIG="$PG_CONFIG"

GUCS=(-o shared_preload_libraries=pg_hedis -o max_worker_processes=16)
if [ "$(id -u)" -eq 0 ] && [ "${HEDIS_PRIVATE_INSTALL:-0}" != 1 ]; then
    echo "== install (make install)"
    make -s install PG_CONFIG="$PG_CONFIG"
    export HEDIS_DESTDIR=
    SERVER_USER=postgres
else
    DEST="$SCRATCH/install"
    echo "== install into private tree $DEST"
    make -s install PG_CONFIG="$PG_CONFIG" DESTDIR="$DEST"
    export HEDIS_DESTDIR=$DEST
    GUCS+=(-o "extension_destdir=$DEST"
           -o "dynamic_library_path=$DEST$("$PG_CONFIG" --pkglibdir):\$libdir")
    if [ "$(id -u)" -eq 0 ]; then SERVER_USER=postgres; else SERVER_USER=$(id -un); fi
fi

# Test data the server reads with server-side file functions: make sure the
# server's OS user can read it, else copy it somewhere it can.
server_can_read() {
    if [ "$SERVER_USER" = "$(id -un)" ]; then test -r "$1"
    else runuser -u "$SERVER_USER" -- test -r "$1" 2>/dev/null; fi
}
mkdir -p "$SCRATCH/fixtures"
if [ -d test/fixtures ]; then cp -r test/fixtures/. "$SCRATCH/fixtures/"; fi
chmod -R a+rX "$SCRATCH/fixtures"
export HEDIS_FIXTURES="$SCRATCH/fixtures"

HEDIS_ECQM=
ECQM_DIR=${HEDIS_ECQM_DIR:-../shared/ecqm}
if [ -d "$ECQM_DIR" ]; then
    ecqm=$(cd "$ECQM_DIR" && pwd)
    if server_can_read "$ecqm/README.md"; then
        HEDIS_ECQM=$ecqm
    else
        cp -r "$ecqm" "$SCRATCH/ecqm"
        chmod -R a+rX "$SCRATCH/ecqm"
        HEDIS_ECQM="$SCRATCH/ecqm"
    fi
else
    echo "== $ECQM_DIR is absent: tests that need it will skip"
fi
export HEDIS_ECQM

echo "== start cluster (pg_virtualenv)"
set +e
pg_virtualenv -t -v 15 "${GUCS[@]}" "$@"
rc=$?
set -e
exit $rc
