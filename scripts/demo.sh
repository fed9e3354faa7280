#!/usr/bin/env bash
# The demo (make demo), run inside the throwaway cluster: scripts/cluster.sh
# sets PGHOST etc. and HEDIS_ECQM.  See docs/demo.md for how to read it.
#
#   1. the team's demo measure (demo/: "pg_hedis Demo: Adult Annual Wellness
#      Visit", not a CMS or NCQA measure) over a synthetic population of
#      DEMO_PATIENTS patients (default 20000): load, compile, generate, one
#      patient, a synchronous run with progress NOTICEs, the same run queued
#      for the background workers and polled, rates per stratum, MeasureReport;
#   2. when ../shared/ecqm is there, the official CMS eCQM material: loaded
#      into a second database, and each measure checked against its test cases;
#   3. scripts/demo.d/*.sh, if any (run with DEMO_DB naming the demo database).
#
# Settings: DEMO_PATIENTS (default 20000), DEMO_SEED (default 42),
# DEMO_PERIOD_START / DEMO_PERIOD_END (default 2026-01-01 / 2026-12-31).
set -euo pipefail
cd "$(dirname "$0")/.."
export PGDATABASE=${PGDATABASE:-postgres}

DB=pg_hedis_demo
ECQM_DB=pg_hedis_demo_ecqm
PATIENTS=${DEMO_PATIENTS:-20000}
SEED=${DEMO_SEED:-42}
P_START=${DEMO_PERIOD_START:-2026-01-01}
P_END=${DEMO_PERIOD_END:-2026-12-31}
PSQL=(psql -X -v ON_ERROR_STOP=1 -d "$DB")

case "$PATIENTS" in
    ''|*[!0-9]*|0) echo "demo: DEMO_PATIENTS must be a positive number of patients, not '$PATIENTS'" >&2; exit 2 ;;
esac
case "$SEED" in
    ''|*[!0-9]*) echo "demo: DEMO_SEED must be a non-negative integer, not '$SEED'" >&2; exit 2 ;;
esac

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
banner() { printf '\n==== %s\n' "$*"; }

demo_start=$(now)

dropdb --if-exists "$DB" >/dev/null 2>&1 || true
createdb -E UTF8 -T template0 "$DB"
"${PSQL[@]}" -q -c 'CREATE EXTENSION pg_hedis'

# ---- 1. the team's demo measure ---------------------------------------------
banner "DEMO measure: pg_hedis Demo: Adult Annual Wellness Visit (written by the pg_hedis team; NOT a CMS or NCQA measure)"
echo "   logic demo/DemoWellness.cql (ELM demo/DemoWellness.elm.json), package demo/{valuesets,library,measure}.json"

# The files are read by psql (client side): the server needs no access to the repository.
"${PSQL[@]}" <<'SQL'
\set valuesets `cat demo/valuesets.json`
\set library `cat demo/library.json`
\set measure `cat demo/measure.json`
\echo '-- load the value sets, the Library (CQL + ELM JSON) and the Measure'
SELECT hedis.load_bundle(:'valuesets'::jsonb) AS valuesets_loaded;
SELECT hedis.load_bundle(jsonb_build_object('resourceType', 'Bundle', 'type', 'collection',
         'entry', jsonb_build_array(jsonb_build_object('resource', :'library'::jsonb),
                                    jsonb_build_object('resource', :'measure'::jsonb)))) AS knowledge_loaded;
\echo '-- compile the logic: an ELM node the engine does not implement would be an error here'
SELECT hedis.compile_library('DemoWellness') AS definitions_compiled;
SELECT v.name AS value_set, count(c.code) AS codes, string_agg(DISTINCT split_part(c.system, '/', -1), ', ') AS code_systems
  FROM hedis.valueset v JOIN hedis.valueset_code c ON c.valueset_url = v.url AND c.valueset_version = v.version
 GROUP BY v.name ORDER BY v.name;
SQL

banner "synthetic population: $PATIENTS patients (seed $SEED), codes drawn from the loaded value sets"
t0=$(now)
"${PSQL[@]}" -q -o /dev/null -c "SELECT hedis.generate_population($PATIENTS, $SEED)"
t1=$(now)
echo "   generated in $(secs "$t0" "$t1") s ($(awk -v n="$PATIENTS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", n / (b - a) }') patients/s)"
"${PSQL[@]}" <<'SQL'
SELECT resource_type, count(*) AS resources FROM hedis.resource
 GROUP BY ROLLUP (resource_type) ORDER BY resource_type NULLS LAST;
SQL

banner "one patient: hedis.evaluate (its individual MeasureReport: populations)"
"${PSQL[@]}" -v ps="$P_START" -v pe="$P_END" <<'SQL'
-- the first generated patient who is in the numerator (else the first patient)
SELECT p.fhir_id AS patient
  FROM (SELECT fhir_id, patient_key FROM hedis.patient ORDER BY patient_key LIMIT 200) p
 ORDER BY hedis.evaluate_expression('DemoWellness', 'Initial Population', p.fhir_id, :'ps', :'pe') = 'true'
          AND hedis.evaluate_expression('DemoWellness', 'Numerator', p.fhir_id, :'ps', :'pe') = 'true' DESC,
          p.patient_key
 LIMIT 1 \gset
SELECT :'patient' AS patient, pop -> 'code' -> 'coding' -> 0 ->> 'code' AS population, pop ->> 'count' AS count
  FROM jsonb_array_elements(hedis.evaluate('DemoWellness', :'patient', :'ps', :'pe') -> 'group' -> 0 -> 'population') pop;
\echo '-- the definitions behind it (hedis.evaluate_expression)'
SELECT hedis.evaluate_expression('DemoWellness', 'Age at End of Measurement Period', :'patient', :'ps', :'pe') AS "Age",
       hedis.evaluate_expression('DemoWellness', 'Age Band', :'patient', :'ps', :'pe') #>> '{}' AS "Age Band",
       jsonb_array_length(hedis.evaluate_expression('DemoWellness', 'Office Visits', :'patient', :'ps', :'pe')) AS "Office Visits",
       jsonb_array_length(hedis.evaluate_expression('DemoWellness', 'Wellness Visits', :'patient', :'ps', :'pe')) AS "Wellness Visits",
       jsonb_array_length(hedis.evaluate_expression('DemoWellness', 'Blood Pressure Readings', :'patient', :'ps', :'pe')) AS "Blood Pressure Readings",
       jsonb_array_length(hedis.evaluate_expression('DemoWellness', 'Hospice Care', :'patient', :'ps', :'pe')) AS "Hospice Care";
SQL

banner "synchronous run: hedis.run_now (progress NOTICEs every 10 %)"
out=$(mktemp)
t0=$(now)
# the NOTICEs go to stderr as they come; the run id to $out
"${PSQL[@]}" -At -o "$out" -c "SELECT hedis.run_now('DemoWellness', '$P_START', '$P_END')"
t1=$(now)
sync_run=$(cat "$out")
rm -f "$out"
echo "   run $sync_run done in $(secs "$t0" "$t1") s"

banner "background run: hedis.run queues it, the pg_hedis workers evaluate it; polling hedis.runs"
bg_run=$("${PSQL[@]}" -At -c "SELECT hedis.run('DemoWellness', '$P_START', '$P_END')")
t0=$(now)
status=queued
last=
while :; do
    line=$("${PSQL[@]}" -At -F ' ' -c "
        SELECT status, coalesce(patients_done, 0), coalesce(patients_total::text, '?'),
               coalesce(percent_done::text, '0'), coalesce(workers::text, '-'),
               coalesce(round(100 * rate, 1)::text, '-'),
               coalesce(extract(epoch FROM eta)::numeric(10,1)::text, '-')
          FROM hedis.runs WHERE run_id = $bg_run")
    read -r status done total pct workers rate eta <<<"$line"
    msg=$(printf '   run %s  %-9s %6s / %-6s patients  %5s %%  workers %s  rate so far %s %%  eta %s s' \
          "$bg_run" "$status" "$done" "$total" "$pct" "$workers" "$rate" "$eta")
    [ "$msg" != "$last" ] && echo "$msg"
    last=$msg
    case "$status" in done|cancelled|interrupted) break ;; esac
    if [ "$(secs "$t0" "$(now)" | cut -d. -f1)" -ge 600 ]; then
        echo "demo: run $bg_run still $status after 600 s (are background workers running? shared_preload_libraries=pg_hedis)" >&2
        exit 1
    fi
    sleep 0.5
done
t1=$(now)
echo "   run $bg_run $status in $(secs "$t0" "$t1") s (queued to finished)"
[ "$status" = done ] || { echo "demo: background run $bg_run ended $status" >&2; exit 1; }

"${PSQL[@]}" -v a="$sync_run" -v b="$bg_run" <<'SQL'
\echo '-- hedis.runs'
SELECT run_id, mode, status, workers, patients_done AS done, patients_failed AS failed,
       round(100 * rate, 1) AS "rate %", elapsed
  FROM hedis.runs WHERE run_id IN (:a, :b) ORDER BY run_id;
SELECT CASE WHEN NOT EXISTS (
           (SELECT group_index, stratifier, stratum, population, count FROM hedis.run_summary WHERE run_id = :a
            EXCEPT SELECT group_index, stratifier, stratum, population, count FROM hedis.run_summary WHERE run_id = :b)
           UNION ALL
           (SELECT group_index, stratifier, stratum, population, count FROM hedis.run_summary WHERE run_id = :b
            EXCEPT SELECT group_index, stratifier, stratum, population, count FROM hedis.run_summary WHERE run_id = :a))
            THEN 'yes' ELSE 'NO' END AS same
\gset
\echo '-- background counts = synchronous counts:' :same
SQL

banner "rates of run $bg_run (hedis.run_summary, hedis.run_rates)"
"${PSQL[@]}" -v r="$bg_run" <<'SQL'
SELECT CASE WHEN s.stratifier = '' THEN 'all patients' ELSE s.stratifier END AS stratifier,
       CASE WHEN s.stratum = '' THEN '' ELSE s.stratum::jsonb #>> '{}' END AS stratum,
       sum(s.count) FILTER (WHERE s.population = 'initial-population') AS "initial pop",
       sum(s.count) FILTER (WHERE s.population = 'denominator') AS denominator,
       sum(s.count) FILTER (WHERE s.population = 'denominator-exclusion') AS "denom excl",
       sum(s.count) FILTER (WHERE s.population = 'numerator') AS numerator,
       round(100 * rr.rate, 1) AS "rate %"
  FROM hedis.run_summary s
  JOIN hedis.run_rates rr USING (run_id, group_index, stratifier, stratum)
 WHERE s.run_id = :r
 GROUP BY s.group_index, s.stratifier, s.stratum, rr.rate
HAVING sum(s.count) FILTER (WHERE s.population = 'initial-population') > 0
 ORDER BY s.group_index, s.stratifier <> '', s.stratifier, s.stratum;
SQL
echo "   rate = (numerator - numerator exclusions) / (denominator - denominator exclusions - exceptions)"

banner "summary MeasureReport of run $bg_run: SELECT hedis.measure_report($bg_run, 'summary') (first lines)"
report=$("${PSQL[@]}" -At -c "SELECT hedis.measure_report($bg_run, 'summary')")
# jq only puts the telling keys first (jsonb stores keys sorted by length)
pretty=$(jq '{resourceType, status, type, measure, period, date} + .
             | .group |= map({id, measureScore} + .)' <<<"$report")
head -n 45 <<<"$pretty"
echo "   ... ($(wc -l <<<"$pretty") lines in all)"

banner "team demo done in $(secs "$demo_start" "$(now)") s"

# ---- 2. the official eCQM material (../shared/ecqm), when present -----------
if [ -n "${HEDIS_ECQM:-}" ]; then
    banner "official CMS eCQM material from $HEDIS_ECQM (database $ECQM_DB)"
    t0=$(now)
    dropdb --if-exists "$ECQM_DB" >/dev/null 2>&1 || true
    createdb -E UTF8 -T template0 "$ECQM_DB"
    psql -X -q -v ON_ERROR_STOP=1 -d "$ECQM_DB" -c 'CREATE EXTENSION pg_hedis'
    psql -X -v ON_ERROR_STOP=1 -d "$ECQM_DB" -v ecqm="$HEDIS_ECQM" <<'SQL'
\echo '-- value sets, libraries, measures and the 287 test patients (server-side files)'
SELECT sum(hedis.load_bundle(pg_read_file(:'ecqm' || '/' || m || '/valuesets.json')::jsonb)) AS valueset_resources
  FROM pg_ls_dir(:'ecqm') m WHERE m LIKE 'CMS%';
SELECT sum(hedis.load_bundle(jsonb_build_object('resourceType', 'Bundle', 'type', 'collection',
           'entry', jsonb_build_array(jsonb_build_object('resource', pg_read_file(f)::jsonb))))) AS knowledge_resources
  FROM (SELECT :'ecqm' || '/libraries/' || l AS f FROM pg_ls_dir(:'ecqm' || '/libraries') l
        UNION ALL
        SELECT :'ecqm' || '/' || m || '/measure.json' FROM pg_ls_dir(:'ecqm') m WHERE m LIKE 'CMS%') files;
SELECT sum(hedis.load_bundle(pg_read_file(:'ecqm' || '/' || m || '/tests/' || f)::jsonb)) AS test_resources
  FROM pg_ls_dir(:'ecqm') m, pg_ls_dir(:'ecqm' || '/' || m || '/tests') f WHERE m LIKE 'CMS%';
SELECT (SELECT count(*) FROM hedis.library) AS libraries,
       (SELECT count(*) FROM hedis.measure) AS measures,
       (SELECT count(*) FROM hedis.valueset) AS valuesets,
       (SELECT count(*) FROM hedis.valueset_code) AS valueset_codes,
       (SELECT count(*) FROM hedis.patient) AS patients,
       (SELECT count(*) FROM hedis.resource) AS resources;
\echo '-- each measure evaluated for each of its test patients (hedis.evaluate), compared with'
\echo '-- the expected MeasureReport of the test case (every population must match)'
WITH tc AS (
    SELECT m AS folder, b
      FROM pg_ls_dir(:'ecqm') m, pg_ls_dir(:'ecqm' || '/' || m || '/tests') f,
           LATERAL (SELECT pg_read_file(:'ecqm' || '/' || m || '/tests/' || f)::jsonb AS b) x
     WHERE m LIKE 'CMS%'
), cases AS (
    SELECT folder,
           (SELECT e -> 'resource' ->> 'id' FROM jsonb_array_elements(b -> 'entry') e
             WHERE e -> 'resource' ->> 'resourceType' = 'Patient' LIMIT 1) AS patient,
           (SELECT e -> 'resource' FROM jsonb_array_elements(b -> 'entry') e
             WHERE e -> 'resource' ->> 'resourceType' = 'MeasureReport' LIMIT 1) AS expected
      FROM tc
), evaluated AS (
    SELECT c.*, m.name AS measure, hedis.evaluate(m.url, c.patient, '2026-01-01', '2026-12-31') AS got
      FROM cases c JOIN hedis.measure m ON m.name = c.folder
), compared AS (
    SELECT measure,
           (SELECT jsonb_object_agg(p -> 'code' -> 'coding' -> 0 ->> 'code', (p ->> 'count')::int)
              FROM jsonb_array_elements(expected -> 'group' -> 0 -> 'population') p) AS want,
           (SELECT jsonb_object_agg(p -> 'code' -> 'coding' -> 0 ->> 'code', (p ->> 'count')::int)
              FROM jsonb_array_elements(got -> 'group' -> 0 -> 'population') p) AS have
      FROM evaluated
)
SELECT measure, count(*) AS test_cases,
       count(*) FILTER (WHERE want <@ have) AS matching,
       count(*) FILTER (WHERE (have ->> 'initial-population')::int > 0) AS in_initial_pop,
       count(*) FILTER (WHERE (have ->> 'numerator')::int > 0) AS in_numerator
  FROM compared GROUP BY measure ORDER BY measure;
SQL
    echo "   official material loaded and checked in $(secs "$t0" "$(now)") s"
    echo "   (docs/official-measures.md: loading an official measure package and running it)"
else
    banner "../shared/ecqm is absent: the official CMS eCQM material is not shown"
fi

# ---- 3. further sections ----------------------------------------------------
for part in scripts/demo.d/*.sh; do
    [ -f "$part" ] || continue
    banner "$(basename "$part")"
    DEMO_DB=$DB bash "$part"
done

banner "demo finished in $(secs "$demo_start" "$(now)") s"
