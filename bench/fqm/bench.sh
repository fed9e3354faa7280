#!/usr/bin/env bash
# fqm-execution baseline: patient-evaluations per CPU-second for each measure of
# ../shared/ecqm (one batched Calculator.calculate over its test patients, checked
# against the expected MeasureReports), then CMS125's patients replicated N times
# (default 20) for a figure not dominated by startup.  Each is timed twice: with
# Calculator.calculate (the population results; the figure of record) and with
# Calculator.calculateRaw (CQL execution alone).
#
# Usage: bench/fqm/bench.sh [N]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
ecqm="$root/../shared/ecqm"
n="${1:-20}"

if [ ! -d "$ecqm" ]; then
    echo "bench/fqm: $ecqm is absent, nothing to measure"
    exit 0
fi
if ! command -v node >/dev/null 2>&1; then
    echo "bench/fqm: node is missing, nothing to measure"
    exit 0
fi
if [ ! -d "$here/node_modules/fqm-execution" ]; then
    (cd "$here" && npm ci --no-audit --no-fund >/dev/null)
fi

status=0
for dir in "$ecqm"/*/; do
    [ -f "$dir/measure.json" ] || continue
    node "$here/run_fqm.js" "$dir" --check --quiet 2>&1 | sed "s|^|$(basename "$dir"): |" || status=1
    node "$here/run_fqm.js" "$dir" --raw 2>&1 | sed "s|^|$(basename "$dir"): |" || status=1
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
measure="$ecqm/CMS125FHIRBreastCancerScreening"
node "$here/replicate.js" "$measure" "$n" "$tmp/patients"
node "$here/run_fqm.js" "$measure" --patients "$tmp/patients" --check --quiet 2>&1 \
    | sed "s|^|CMS125 x$n: |" || status=1
node "$here/run_fqm.js" "$measure" --patients "$tmp/patients" --raw 2>&1 \
    | sed "s|^|CMS125 x$n: |" || status=1
exit $status
