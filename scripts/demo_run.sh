#!/usr/bin/env bash
# make demo: dependencies, build, install, throwaway cluster, scripts/demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
exec scripts/cluster.sh scripts/demo.sh
