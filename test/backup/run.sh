#!/usr/bin/env bash
# Backup suite: what pg_dump keeps of a pg_hedis database, and that it
# restores in one transaction.
#
#   test/backup/run.sh [-v]
#
# Needs nothing but the repository (the team's demo measure in demo/) and the
# server the PG* variables name.  In database pg_hedis_backup_src: load the
# demo measure, generate 300 patients, run the measure (hedis.run_now); then
# pg_dump it and restore the dump into pg_hedis_backup_dst with psql
# --single-transaction -v ON_ERROR_STOP=1 (after CREATE EXTENSION by the dump
# itself).  Checks:
#   restore       the restore succeeds as one transaction, without an error
#   store         patients and resources: same counts and same content
#   knowledge     libraries, measures, value sets and codes: same counts
#   runs          runs, per-patient results (as hedis.run_result shows them)
#                 and summaries: the same
#   keys go on    patients loaded after the restore get new keys (the key
#                 sequences were dumped), and a new run gets a new id
#   new run       a run over the restored store gives the results of the
#                 original run for the original patients
# Output: one line per failed check (every check with -v), then
# "N passed, N failed"; exit 1 when a check failed.  The databases are
# dropped at the end when every check passed.
set -uo pipefail
suite=backup
verbose=0
[ "${1:-}" = -v ] && verbose=1
repo=$(cd "$(dirname "$0")/../.." && pwd)
src=pg_hedis_backup_src
dst=pg_hedis_backup_dst
PSQL=(psql -X -q -v ON_ERROR_STOP=1 --no-psqlrc)
passed=0; failed=0
dump=$(mktemp -t pg_hedis_backup.XXXXXX.sql)
trap 'rm -f "$dump"' EXIT

check() {	# check NAME VALUE EXPECTED
    if [ "$2" = "$3" ]; then
        passed=$((passed + 1))
        [ "$verbose" = 1 ] && echo "ok   $1"
    else
        failed=$((failed + 1))
        echo "FAIL $1: got $2, expected $3"
    fi
    return 0
}
setup_failed() { echo "$suite: $*"; echo "0 passed, 1 failed"; exit 1; }
q() { "${PSQL[@]}" -A -t -d "$1" -c "$2"; }

for db in "$src" "$dst"; do dropdb --if-exists "$db" >/dev/null 2>&1; done
createdb -E UTF8 -T template0 "$src" || setup_failed "cannot create $src"
(cd "$repo" && "${PSQL[@]}" -d "$src" -o /dev/null) <<'SQL' || setup_failed "cannot load the demo measure"
CREATE EXTENSION pg_hedis;
\set valuesets `cat demo/valuesets.json`
\set library `cat demo/library.json`
\set measure `cat demo/measure.json`
SELECT hedis.load_bundle(:'valuesets'::jsonb);
SELECT hedis.load_bundle(jsonb_build_object('resourceType', 'Bundle', 'type', 'collection',
         'entry', jsonb_build_array(jsonb_build_object('resource', :'library'::jsonb),
                                    jsonb_build_object('resource', :'measure'::jsonb))));
SELECT hedis.generate_population(300, 11);
SET client_min_messages = warning;
SELECT hedis.run_now('DemoWellness', '2026-01-01', '2026-12-31');
SQL

pg_dump -d "$src" -f "$dump" || setup_failed "pg_dump failed"
createdb -E UTF8 -T template0 "$dst" || setup_failed "cannot create $dst"
if "${PSQL[@]}" -d "$dst" --single-transaction -o /dev/null -f "$dump" 2>"$dump.err"; then
    check restore ok ok
else
    check restore "$(head -3 "$dump.err" | tr '\n' ' ')" ok
fi
rm -f "$dump.err"

# the same query on both sides must give the same answer
same() {	# same NAME QUERY
    local a b
    a=$(q "$src" "$2" 2>&1); b=$(q "$dst" "$2" 2>&1)
    check "$1" "$b" "$a"
}
same "store: patients" "SELECT count(*), md5(string_agg(fhir_id || birth_date || gender, ',' ORDER BY patient_key)) FROM hedis.patient"
same "store: resources" "SELECT count(*), md5(string_agg(resource::text, ',' ORDER BY resource_type, fhir_id)) FROM hedis.resource"
same "knowledge" "SELECT (SELECT count(*) FROM hedis.library), (SELECT count(*) FROM hedis.measure), (SELECT count(*) FROM hedis.valueset), (SELECT count(*) FROM hedis.valueset_code)"
same "runs" "SELECT count(*), min(status), sum(patients_done) FROM hedis.run"
same "runs: results" "SELECT count(*), md5(string_agg(coalesce(result::text, error), ',' ORDER BY run_id, patient_key)) FROM hedis.run_result"
same "runs: summaries" "SELECT md5(string_agg(concat_ws('|', run_id, group_index, stratifier, stratum, population, count, patients), ',' ORDER BY 1)) FROM hedis.run_summary"

# loading and running go on after the restore
max_key=$(q "$dst" "SELECT max(patient_key) FROM hedis.patient")
max_run=$(q "$dst" "SELECT max(run_id) FROM hedis.run")
q "$dst" "SELECT hedis.generate_population(5, 12)" >/dev/null 2>&1
check "keys go on: new patients" "$(q "$dst" "SELECT count(*) FROM hedis.patient WHERE patient_key > $max_key")" 5
new_run=$(q "$dst" "SET client_min_messages = warning; SELECT hedis.run_now('DemoWellness', '2026-01-01', '2026-12-31')" 2>&1 | tail -1)
check "keys go on: new run id" "$([ "${new_run:-0}" -gt "${max_run:-0}" ] 2>/dev/null && echo yes || echo "$new_run")" yes
check "new run: same results for the original patients" \
    "$(q "$dst" "SELECT count(*) FROM hedis.run_result a JOIN hedis.run_result b USING (patient_key) WHERE a.run_id = $max_run AND b.run_id = ${new_run:-0} AND a.result IS NOT DISTINCT FROM b.result AND a.error IS NOT DISTINCT FROM b.error")" \
    "$(q "$dst" "SELECT count(*) FROM hedis.run_result WHERE run_id = $max_run")"

if [ "$failed" -eq 0 ]; then
    for db in "$src" "$dst"; do dropdb --if-exists "$db" >/dev/null 2>&1; done
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
