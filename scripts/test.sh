#!/usr/bin/env bash
# make test: dependencies, build, install, throwaway cluster, every suite.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --node || exit 1
HEDIS_SUMMARY_FILE=$(mktemp -t pg_hedis_summary.XXXXXX)
export HEDIS_SUMMARY_FILE
scripts/cluster.sh scripts/run_suites.sh
rc=$?
if [ ! -s "$HEDIS_SUMMARY_FILE" ]; then
    # the build, the installation or the cluster failed before any suite ran
    echo
    echo "build, install or cluster start failed: no suite ran"
    echo "0 passed, 1 failed"
    [ $rc -ne 0 ] || rc=1
fi
rm -f "$HEDIS_SUMMARY_FILE"
exit $rc
