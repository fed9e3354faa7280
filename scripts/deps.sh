#!/usr/bin/env bash
# Install (as root) or check (otherwise) everything pg_hedis needs to build and test.
#   scripts/deps.sh          system packages
#   scripts/deps.sh --node   also npm packages of test/*/ and bench/ folders that have a package.json
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(make gcc libc6-dev postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap
      libcsv-dev libtap-parser-sourcehandler-pgtap-perl postgresql-common jq python3)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "deps: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    else
        echo "deps: missing Debian packages: ${missing[*]}" >&2
        echo "deps: run as root:  apt-get update && apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

if [ "${1:-}" = "--node" ]; then
    for dir in test/*/ bench/ bench/*/; do
        [ -f "$dir/package.json" ] || continue
        [ -d "$dir/node_modules" ] && continue
        if ! command -v npm >/dev/null 2>&1; then
            if [ "$(id -u)" -eq 0 ]; then
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
            else
                echo "deps: $dir needs npm (apt-get install -y nodejs npm)" >&2
                exit 1
            fi
        fi
        echo "deps: npm packages for $dir"
        # a failure here is reported, not fatal: the suite that needs the
        # packages fails on its own and says why
        if [ -f "$dir/package-lock.json" ]; then
            (cd "$dir" && npm ci --no-audit --no-fund) ||
                (cd "$dir" && npm install --no-audit --no-fund) ||
                echo "deps: warning: npm install failed in $dir" >&2
        else
            (cd "$dir" && npm install --no-audit --no-fund) ||
                echo "deps: warning: npm install failed in $dir" >&2
        fi
    done
fi
