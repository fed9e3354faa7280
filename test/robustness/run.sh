#!/usr/bin/env bash
# Robustness suite: FHIR data of the wrong shape does not crash the engine.
#
#   test/robustness/run.sh [-v] [MEASURE_FILTER]
#
# For each measure folder of ../shared/ecqm, in its own database (dropped and
# created afresh on the server the PG* variables name): load the libraries,
# value sets and measure, then test/robustness/typefuzz.py mutates the first
# ROBUSTNESS_PATIENTS (default 2) test patients element by element (null, a
# number, a string, [], {} in place of each element down to depth 5) and
# loads and evaluates each mutation.  A case passes when the backend survives
# and any error carries a user-facing SQLSTATE (not XX000).  Output: one
# line per failure, then "N passed, N failed"; exit 1 when any failed.
# Skips when ../shared/ecqm is absent.  (About 5,000 cases, 1-2 minutes.)
set -uo pipefail
suite=robustness
verbose=0
[ "${1:-}" = "-v" ] && { verbose=1; shift; }
filter=${1:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
ecqm_or_skip
select_measures

passed=0; failed=0
for mdir in "${measures[@]}"; do
    name=$(basename "$mdir")
    db="pg_hedis_robustness_$(echo "$name" | tr 'A-Z' 'a-z' | cut -c1-6)"
    fresh_database "$db" || setup_failed "could not create $db"
    { libraries_sql
      load_resource_sql "$mdir/measure.json"
      printf '\\set content `cat %s`\n' "$(shq "$mdir/valuesets.json")"
      echo "SELECT hedis.load_bundle(:'content'::jsonb);"; } | "${PSQL[@]}" -d "$db" -o /dev/null || setup_failed "could not load $name"
    out=$(python3 "$here/typefuzz.py" "$mdir" "$db" "${ROBUSTNESS_PATIENTS:-2}")
    rc=$?
    echo "$out" | grep '^FAIL' | sed "s/^/$name: /"
    line=$(echo "$out" | tail -1)
    say "$name: $line"
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then echo "$name: $out" | tail -3; failed=$((failed + 1)); continue; fi
    passed=$((passed + p)); failed=$((failed + f))
    [ "$rc" -eq 0 ] && dropdb --if-exists "$db" >/dev/null 2>&1
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
