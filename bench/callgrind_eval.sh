#!/usr/bin/env bash
# Instructions per warm patient-evaluation, by callgrind, on a data directory
# left by `bench/run.sh --keep` (stop its server first: this runs
# `postgres --single` on it).  Two runs of the same statements — a warm-up
# (the copy-0 patients of every measure), then the evaluation once / twice —
# and the difference divided by the number of patients: startup, compilation
# and the statement's own costs cancel out.  This is how the engine's steps
# in bench/README.md ("What changed in the fifth session") were measured.
#
#   bench/callgrind_eval.sh DATADIR [WHERE] [MEASURE]
#     WHERE    filter on bench.patient_set (default: copies 1..4 of CMS125)
#     MEASURE  the measure evaluated (default CMS125FHIRBreastCancerScreening)
#
# e.g. every measure's test patients evaluated against CMS125:
#   bench/callgrind_eval.sh /tmp/pg_hedis_bench.XXXX/data "copy BETWEEN 1 AND 4"
set -euo pipefail
data=${1:?usage: bench/callgrind_eval.sh DATADIR [WHERE] [MEASURE]}
measure=${3:-CMS125FHIRBreastCancerScreening}
where=${2:-"measure = '$measure' AND copy BETWEEN 1 AND 4"}
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
. "$(dirname "$0")/callgrind_lib.sh"
work=$(mktemp -d)
chmod 777 "$work"	# the server's owner writes the callgrind files
trap 'rm -rf "$work"' EXIT

# the keys first, in a table of their own: the evaluating statement then
# scans just them (its own costs are part of twice - once)
keys="CREATE TEMP TABLE eval_keys AS SELECT patient_key FROM bench.patient_set WHERE $where ORDER BY patient_key;"
warm="SELECT count(hedis.evaluate_patient_result('$measure', patient_key, '2026-01-01', '2026-12-31')) FROM bench.patient_set WHERE copy = 0;"
eval1="SELECT count(hedis.evaluate_patient_result('$measure', patient_key, '2026-01-01', '2026-12-31')) FROM eval_keys;"
once=$(callgrind_collect "$work/once" "$data" "$keys" "$warm" "$eval1")
twice=$(callgrind_collect "$work/twice" "$data" "$keys" "$warm" "$eval1" "$eval1")
n=$(echo "SELECT count(*) FROM bench.patient_set WHERE $where;" |
    as_data_owner "$data" /usr/lib/postgresql/15/bin/postgres --single -D "$data" bench 2>/dev/null |
    sed -n 's/.*count = "\([0-9]*\)".*/\1/p')
echo "$(( (twice - once) / n )) instructions per evaluation ($n patients: $where; measure $measure)"
