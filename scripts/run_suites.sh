#!/usr/bin/env bash
# Runs every test suite against the cluster described by PGHOST/PGPORT/PGUSER
# (normally started by scripts/cluster.sh).  One line per suite, then a final
# "N passed, N failed" line counting suites; exits non-zero if any suite failed.
#
# Suites, in order:
#   regress      pg_regress over sql/*.sql (make installcheck)
#   pgtap        pg_prove over test/pgtap/*.sql
#   conformance  test/conformance/run.sh, when present and executable
#   <name>       every other executable test/<name>/run.sh
set -uo pipefail
cd "$(dirname "$0")/.."
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export PGDATABASE=${PGDATABASE:-postgres}

passed=0; failed=0; failed_names=()
run_suite() {
    local name=$1; shift
    echo
    echo "======== suite: $name"
    if "$@"; then
        passed=$((passed + 1)); echo "======== suite $name: ok"
    else
        failed=$((failed + 1)); failed_names+=("$name"); echo "======== suite $name: FAILED"
    fi
}

regress() {
    if ! ls sql/*.sql >/dev/null 2>&1; then echo "no sql/*.sql"; return 0; fi
    if make -s installcheck PG_CONFIG="$PG_CONFIG"; then return 0; fi
    [ -f regression.diffs ] && head -200 regression.diffs
    return 1
}

pgtap() {
    if ! ls test/pgtap/*.sql >/dev/null 2>&1; then echo "no test/pgtap/*.sql"; return 0; fi
    local db=pg_hedis_pgtap
    dropdb --if-exists "$db" >/dev/null 2>&1
    createdb -E UTF8 -T template0 "$db" || return 1
    psql -X -q -d "$db" -v ON_ERROR_STOP=1 \
         -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION pg_hedis' || return 1
    # each test file runs in its own transaction (pg_prove wraps nothing: the
    # files begin/rollback themselves), so they do not see each other's data
    PGDATABASE=$db pg_prove --ext .sql -v test/pgtap/*.sql
}

run_suite regress regress
run_suite pgtap pgtap
if [ -x test/conformance/run.sh ]; then
    run_suite conformance test/conformance/run.sh
fi
for runner in test/*/run.sh; do
    [ -x "$runner" ] || continue
    name=$(basename "$(dirname "$runner")")
    [ "$name" = conformance ] && continue
    run_suite "$name" "$runner"
done

echo
[ ${#failed_names[@]} -gt 0 ] && echo "failed suites: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ -n "${HEDIS_SUMMARY_FILE:-}" ] && echo "$passed passed, $failed failed" > "$HEDIS_SUMMARY_FILE"
[ "$failed" -eq 0 ]
