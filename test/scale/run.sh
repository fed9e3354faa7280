#!/usr/bin/env bash
# Scale suite: correctness of population runs at N+1 times the official decks.
#
#   test/scale/run.sh [-v] [MEASURE_FILTER]
#
#   -v               also print passing checks and progress
#   MEASURE_FILTER   only measure folders whose name contains it (e.g. CMS125)
#
# Environment:
#   SCALE_COPIES     copies of every official test patient (default 3)
#   SCALE_TIMEOUT    seconds to wait for the background run (default 90)
#   SCALE_DB_PREFIX  database name prefix (default pg_hedis_scale)
#   SCALE_KEEP=1     keep the databases even when every check passed
#
# For each measure folder of ../shared/ecqm (relative to the repository root),
# in its own database <prefix>_<cmsNNN> (dropped and created afresh, on the
# server the PG* variables name): load every library, the value sets, the
# measure and every official test patient; copy every test patient
# SCALE_COPIES times with fresh ids (hedis.replicate_patients); run the measure
# over the whole population with hedis.run_now() and, when background workers
# are running (shared_preload_libraries = pg_hedis), once more with a queued
# hedis.run().  Checks, per measure:
#   run              the run is done, every patient evaluated, none failed
#   population P     (one per population of each group) the summary count and
#                    number of patients are (N+1) x the sum of the deck's
#                    expected counts / of the test patients with a count > 0
#   stratifier S     (one per stratifier of the results) stratum by stratum,
#                    (N+1) x the counts of the original patients' own results.
#                    Not the deck's: the strata of the expected MeasureReports
#                    follow no consistent rule (CMS130 puts patients in both
#                    age strata, with populations listed twice; a "false"
#                    stratum counts the patients NOT in population and stratum)
#   deck             each original patient's run result has the populations
#                    of its expected MeasureReport
#   replicas         each copy's result equals its original's (but for the id)
#   evaluate_population  every patient's row of hedis.evaluate_population
#                    equals its full evaluation (hedis.evaluate_patient_result)
#   prescreen        the birth-date screen is at work for the measure: with
#                    every birth date out of range (rolled back) no patient is
#                    left in an initial population, while the full evaluation
#                    finds some
#   background       the background run's results and summary equal run_now's
# Output: one line per mismatch, then "N passed, N failed" (checks); exit 1
# when any check failed.  Skips ("0 passed, 0 failed", exit 0) when
# ../shared/ecqm is absent.  A database is dropped at the end when all its
# checks passed, and left for inspection otherwise.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=scale
# shellcheck source=../lib.sh
. "$here/../lib.sh"
period_start=2026-01-01
period_end=2026-12-31

verbose=0
filter=
while [ $# -gt 0 ]; do
    case "$1" in
        -v|--verbose) verbose=1 ;;
        -h|--help) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "scale: unknown option $1" >&2; exit 2 ;;
        *) filter=$1 ;;
    esac
    shift
done

copies=${SCALE_COPIES:-3}
timeout=${SCALE_TIMEOUT:-90}
prefix=${SCALE_DB_PREFIX:-pg_hedis_scale}
if ! [[ "$copies" =~ ^[0-9]+$ && "$timeout" =~ ^[1-9][0-9]*$ ]]; then
    echo "scale: SCALE_COPIES and SCALE_TIMEOUT take non-negative integers" >&2
    exit 2
fi

ecqm_or_skip

export PGDATABASE=${PGDATABASE:-postgres}
admin_db=$PGDATABASE
select_measures

passed=0
failed=0
drop_dbs=()

# Load one measure package and its test patients; keep the expected reports
# in scale_case (patient id -> expected MeasureReport).
load_sql() {
    local dir=$1 f
    echo "CREATE EXTENSION pg_hedis;"
    echo "CREATE TABLE scale_bundle (file text PRIMARY KEY, bundle jsonb NOT NULL);"
    echo "BEGIN;"
    for f in "$ecqm"/libraries/*.json; do
        [ -f "$f" ] && load_resource_sql "$f"
    done
    printf '\\set content `cat %s`\n' "$(shq "$dir/valuesets.json")"
    echo "SELECT hedis.load_bundle(:'content'::jsonb);"
    load_resource_sql "$dir/measure.json"
    for f in "$dir"/tests/*.json; do
        [ -f "$f" ] || continue
        printf '\\set content `cat %s`\n' "$(shq "$f")"
        printf "INSERT INTO scale_bundle VALUES (%s, :'content'::jsonb);\n" \
            "'$(basename "$f" .json | sed "s/'/''/g")'"
    done
    echo "SELECT hedis.load_bundle(bundle) FROM scale_bundle ORDER BY file;"
    echo "COMMIT;"
    cat <<'SQL'
CREATE TABLE scale_case AS
SELECT b.file,
       (SELECT e->'resource'->>'id' FROM jsonb_array_elements(b.bundle->'entry') e
         WHERE e->'resource'->>'resourceType' = 'Patient' LIMIT 1) AS patient,
       (SELECT e->'resource' FROM jsonb_array_elements(b.bundle->'entry') e
         WHERE e->'resource'->>'resourceType' = 'MeasureReport' LIMIT 1) AS expected
  FROM scale_bundle b;
-- expected counts per patient and population (whole groups; the strata of
-- the expected reports are not used: see the header)
CREATE TABLE scale_expected AS
SELECT c.patient, (g.idx - 1)::int AS group_index,
       p->'code'->'coding'->0->>'code' AS population, (p->>'count')::bigint AS count
  FROM scale_case c, jsonb_array_elements(c.expected->'group') WITH ORDINALITY g(grp, idx),
       jsonb_array_elements(g.grp->'population') p;
SQL
}

# The checks over run :r_now (and :r_bg when not 0) of a population with
# :copies copies of every test patient.  Output rows: check, PASS|FAIL, detail.
checks_sql() {
    cat <<'SQL'
\pset format unaligned
\pset tuples_only on
\pset fieldsep '\t'
CREATE TEMP VIEW originals AS
SELECT c.patient, r.result, r.error FROM scale_case c
  LEFT JOIN hedis.run_result r ON r.run_id = :r_now AND r.patient_id = c.patient;
-- whole groups: (N+1) x the deck; strata: (N+1) x the originals' own results
CREATE TEMP VIEW want AS
SELECT group_index, ''::text AS stratifier, ''::text AS stratum, population,
       (:copies + 1) * sum(count) AS count,
       (:copies + 1) * count(*) FILTER (WHERE count > 0) AS patients
  FROM scale_expected GROUP BY 1, 2, 3, 4
UNION ALL
SELECT (g.idx - 1)::int, coalesce(st.s->>'id', (st.sidx - 1)::text),
       coalesce(st.s->'value', 'null'::jsonb)::text, p.key,
       (:copies + 1) * sum(p.value::numeric::bigint),
       (:copies + 1) * count(*) FILTER (WHERE p.value::numeric > 0)
  FROM originals o, jsonb_array_elements(o.result->'groups') WITH ORDINALITY g(grp, idx),
       jsonb_array_elements(coalesce(g.grp->'stratifiers', '[]')) WITH ORDINALITY st(s, sidx),
       jsonb_each_text(g.grp->'populations') p(key, value)
 GROUP BY 1, 2, 3, 4;
CREATE TEMP VIEW got AS
SELECT group_index, stratifier, stratum, population, count, patients
  FROM hedis.run_summary WHERE run_id = :r_now;
\o
-- run: done, every patient evaluated, no error
SELECT 'run', CASE WHEN d IS NULL THEN 'PASS' ELSE 'FAIL' END, coalesce(d, '')
  FROM (SELECT nullif(concat_ws('; ',
            CASE WHEN r.status <> 'done' THEN 'status ' || r.status END,
            CASE WHEN r.patients_total IS DISTINCT FROM (:copies + 1) * (SELECT count(*) FROM scale_case)
                 THEN format('%s patients in the run, expected %s', r.patients_total,
                             (:copies + 1) * (SELECT count(*) FROM scale_case)) END,
            CASE WHEN r.patients_done IS DISTINCT FROM r.patients_total
                 THEN format('%s of %s patients done', r.patients_done, r.patients_total) END,
            CASE WHEN r.patients_failed <> 0
                 THEN format('%s patients failed, e.g. %s', r.patients_failed,
                             (SELECT min(error) FROM hedis.run_result e
                               WHERE e.run_id = r.run_id AND e.error IS NOT NULL)) END), '') AS d
          FROM hedis.run r WHERE r.run_id = :r_now) x;
-- population P and stratifier S: (N+1) x the deck
WITH cmp AS (
    SELECT coalesce(w.group_index, g.group_index) AS group_index,
           coalesce(w.stratifier, g.stratifier) AS stratifier,
           coalesce(w.stratum, g.stratum) AS stratum,
           coalesce(w.population, g.population) AS population,
           w.count AS want_count, w.patients AS want_patients,
           g.count AS got_count, g.patients AS got_patients
      FROM want w FULL JOIN got g USING (group_index, stratifier, stratum, population)
), checked AS (
    SELECT CASE WHEN stratifier = '' THEN 'population ' || population
                ELSE 'stratifier ' || stratifier END AS check_name,
           CASE WHEN stratifier = '' THEN '' ELSE format('stratum %s %s: ', stratum, population) END
           || CASE WHEN got_count IS NULL THEN format('missing from the run summary (expected count %s)', want_count)
                   WHEN want_count IS NULL THEN format('count %s, patients %s, but expected none',
                                                       got_count, got_patients)
                   ELSE format('count %s expected %s, patients %s expected %s',
                               got_count, want_count, got_patients, want_patients) END AS detail,
           got_count IS NOT DISTINCT FROM want_count
               AND got_patients IS NOT DISTINCT FROM want_patients AS ok,
           (group_index, stratifier, stratum, population) AS k
      FROM cmp
)
SELECT check_name, CASE WHEN ok THEN 'PASS' ELSE 'FAIL' END, CASE WHEN ok THEN '' ELSE detail END
  FROM checked
 WHERE NOT ok OR NOT EXISTS (SELECT 1 FROM checked c2 WHERE c2.check_name = checked.check_name
                                                         AND NOT c2.ok)
 ORDER BY 1, k;
-- deck: each original patient's result has its expected populations
WITH diff AS (
    SELECT o.patient,
           CASE WHEN o.result IS NULL THEN coalesce('error: ' || o.error, 'no result')
                ELSE (SELECT string_agg(format('%s expected %s got %s', e.population, e.count,
                                               coalesce(o.result->'groups'->e.group_index->'populations'
                                                        ->>e.population, 'none')), '; '
                                        ORDER BY e.population)
                        FROM scale_expected e
                       WHERE e.patient = o.patient
                         AND (o.result->'groups'->e.group_index->'populations'->>e.population)::numeric
                             IS DISTINCT FROM e.count) END AS detail
      FROM originals o
)
SELECT 'deck', 'FAIL', patient || ': ' || detail FROM diff WHERE detail IS NOT NULL
UNION ALL
SELECT 'deck', 'PASS', '' WHERE NOT EXISTS (SELECT 1 FROM diff WHERE detail IS NOT NULL)
ORDER BY 3;
-- replicas: each copy's result equals its original's, but for the patient id
WITH pair AS (
    SELECT o.patient, o.patient || '-copy' || c AS copy, o.result, o.error
      FROM originals o, generate_series(1, :copies) c
), diff AS (
    SELECT p.copy,
           CASE WHEN r.patient_id IS NULL THEN 'no result for the copy'
                WHEN (r.result - 'patient') IS DISTINCT FROM (p.result - 'patient')
                     OR r.error IS DISTINCT FROM p.error
                THEN format('differs from %s: %s vs %s', p.patient,
                            coalesce((r.result - 'patient')::text, r.error),
                            coalesce((p.result - 'patient')::text, p.error)) END AS detail
      FROM pair p
      LEFT JOIN hedis.run_result r ON r.run_id = :r_now AND r.patient_id = p.copy
)
SELECT 'replicas', 'FAIL', copy || ': ' || detail FROM diff WHERE detail IS NOT NULL
UNION ALL
SELECT 'replicas', 'PASS', '' WHERE NOT EXISTS (SELECT 1 FROM diff WHERE detail IS NOT NULL)
ORDER BY 3;
-- evaluate_population: every patient's row equals its full evaluation
-- (hedis.evaluate_patient_result reads every patient; population
-- evaluations screen by birth date first)
SELECT 'evaluate_population', CASE WHEN n = 0 THEN 'PASS' ELSE 'FAIL' END,
       CASE WHEN n = 0 THEN '' ELSE format('%s patients differ, e.g. %s', n, ex) END
  FROM (SELECT count(*) AS n, min(e.patient_id) AS ex
          FROM hedis.run r, hedis.evaluate_population(r.measure_ref, r.period_start, r.period_end) e
         WHERE r.run_id = :r_now
           AND e.result IS DISTINCT FROM hedis.evaluate_patient_result(r.measure_ref, e.patient_key,
                                             r.period_start, r.period_end) - 'patient') x;
-- prescreen: the screen is at work for this measure: with every birth date
-- of hedis.patient moved out of any age range (rolled back), no patient is
-- left in an initial population by evaluate_population, while the full
-- evaluation (which reads the Patient resources) still finds the deck's
BEGIN;
UPDATE hedis.patient SET birth_date = '1800-01-01';
SELECT 'prescreen', CASE WHEN screened = 0 AND full_ip > 0 THEN 'PASS' ELSE 'FAIL' END,
       CASE WHEN screened = 0 AND full_ip > 0 THEN ''
            ELSE format('%s patients in an initial population after screening, %s by the full evaluation',
                        screened, full_ip) END
  FROM (SELECT count(*) FILTER (WHERE e.result::text ~ '"initial-population": [1-9]') AS screened,
               count(*) FILTER (WHERE hedis.evaluate_patient_result(r.measure_ref, e.patient_key,
                                   r.period_start, r.period_end)::text ~ '"initial-population": [1-9]') AS full_ip
          FROM hedis.run r, hedis.evaluate_population(r.measure_ref, r.period_start, r.period_end) e
         WHERE r.run_id = :r_now) x;
ROLLBACK;
-- background: the queued run gives exactly run_now's results and summary
\if :has_bg
SELECT 'background', CASE WHEN d IS NULL THEN 'PASS' ELSE 'FAIL' END, coalesce(d, '')
  FROM (SELECT nullif(concat_ws('; ',
            CASE WHEN r.status <> 'done'
                 THEN format('status %s after %s s (%s of %s patients done)%s', r.status,
                             :'timeout', r.patients_done, coalesce(r.patients_total::text, '?'),
                             coalesce(': ' || r.message, '')) END,
            CASE WHEN r.status = 'done' AND rd.n > 0
                 THEN format('%s result rows differ from run_now''s', rd.n) END,
            CASE WHEN r.status = 'done' AND sd.n > 0
                 THEN format('%s summary rows differ from run_now''s', sd.n) END), '') AS d
          FROM hedis.run r,
               LATERAL (SELECT count(*) AS n FROM (
                   (SELECT patient_key, result, error FROM hedis.run_result WHERE run_id = :r_now
                    EXCEPT ALL
                    SELECT patient_key, result, error FROM hedis.run_result WHERE run_id = :r_bg)
                   UNION ALL
                   (SELECT patient_key, result, error FROM hedis.run_result WHERE run_id = :r_bg
                    EXCEPT ALL
                    SELECT patient_key, result, error FROM hedis.run_result WHERE run_id = :r_now)) x) rd,
               LATERAL (SELECT count(*) AS n FROM (
                   (SELECT group_index, group_id, stratifier, stratum, population, count, patients
                      FROM hedis.run_summary WHERE run_id = :r_now
                    EXCEPT ALL
                    SELECT group_index, group_id, stratifier, stratum, population, count, patients
                      FROM hedis.run_summary WHERE run_id = :r_bg)
                   UNION ALL
                   (SELECT group_index, group_id, stratifier, stratum, population, count, patients
                      FROM hedis.run_summary WHERE run_id = :r_bg
                    EXCEPT ALL
                    SELECT group_index, group_id, stratifier, stratum, population, count, patients
                      FROM hedis.run_summary WHERE run_id = :r_now)) x) sd
         WHERE r.run_id = :r_bg) y;
\endif
SQL
}

# Wait (in SQL, at most :timeout s) for run :r_bg to leave queued / running.
wait_sql() {
    cat <<'SQL'
DO $$
DECLARE
    deadline timestamptz := clock_timestamp() + make_interval(secs => current_setting('scale.timeout')::int);
BEGIN
    LOOP
        EXIT WHEN (SELECT status FROM hedis.run WHERE run_id = current_setting('scale.run')::bigint)
                  NOT IN ('queued', 'running')
               OR clock_timestamp() > deadline;
        PERFORM pg_sleep(0.2);
    END LOOP;
END
$$;
SQL
}

# Do background workers serve this cluster?  (the launcher runs only with the preload)
bg_ok=$("${PSQL[@]}" -d "$admin_db" -A -t -c \
    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_hedis run launcher')" 2>/dev/null)
if [ "$bg_ok" != t ]; then
    echo "scale: no pg_hedis run launcher (shared_preload_libraries lacks pg_hedis): background runs are not checked"
fi

for dir in "${measures[@]}"; do
    name=$(basename "$dir")
    short=$(echo "$name" | sed -E 's/^(CMS[0-9]+).*/\1/' | tr 'A-Z' 'a-z' | tr -c 'a-z0-9\n' '_')
    db="${prefix}_${short}"
    start=$SECONDS
    say "scale: $name: database $db, $copies copies of every test patient"

    fail_measure() {   # the whole measure failed before its checks: count one failed check
        echo "FAIL $name | setup | $1"
        failed=$((failed + 1))
    }

    "${PSQL[@]}" -d "$admin_db" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1
    if ! err=$("${PSQL[@]}" -d "$admin_db" -c "CREATE DATABASE \"$db\"" 2>&1); then
        fail_measure "cannot create database $db: $err"
        continue
    fi
    if ! out=$(load_sql "$dir" | "${PSQL[@]}" -d "$db" -o /dev/null 2>&1); then
        fail_measure "loading the measure package and test patients failed: $(echo "$out" | tr '\n' ' ')"
        continue
    fi
    # replicate every official test patient, then one synchronous run
    if ! r_now=$("${PSQL[@]}" -d "$db" -A -t -v copies="$copies" 2>&1 <<SQL
SET client_min_messages = warning;
SELECT hedis.replicate_patients(ARRAY(SELECT patient FROM scale_case ORDER BY patient), :copies)
       IS NOT NULL AS replicated \\gset
SELECT hedis.run_now((SELECT m.url FROM hedis.measure m ORDER BY m.version DESC LIMIT 1),
                     '$period_start', '$period_end');
SQL
    ); then
        fail_measure "replicate_patients or run_now failed: $(echo "$r_now" | tr '\n' ' ')"
        continue
    fi
    say "scale: $name: run_now is run $r_now ($((SECONDS - start)) s)"

    r_bg=0
    if [ "$bg_ok" = t ]; then
        if ! r_bg=$("${PSQL[@]}" -d "$db" -A -t -c \
            "SELECT hedis.run((SELECT m.url FROM hedis.measure m ORDER BY m.version DESC LIMIT 1),
                              '$period_start', '$period_end')" 2>&1); then
            fail_measure "hedis.run failed: $(echo "$r_bg" | tr '\n' ' ')"
            continue
        fi
        if ! err=$(PGOPTIONS="-c scale.timeout=$timeout -c scale.run=$r_bg" \
                   "${PSQL[@]}" -d "$db" 2>&1 < <(wait_sql)); then
            fail_measure "waiting for background run $r_bg failed: $(echo "$err" | tr '\n' ' ')"
            continue
        fi
        say "scale: $name: background run $r_bg finished ($((SECONDS - start)) s)"
    fi
    has_bg=false; [ "$r_bg" != 0 ] && has_bg=true

    if ! out=$(checks_sql | "${PSQL[@]}" -d "$db" -v copies="$copies" -v r_now="$r_now" \
               -v r_bg="$r_bg" -v has_bg="$has_bg" -v timeout="$timeout" 2>&1); then
        fail_measure "the checks could not run: $(echo "$out" | tr '\n' ' ')"
        continue
    fi
    declare -A status=()
    order=()
    while IFS=$'\t' read -r check result detail; do
        [ -n "$check" ] || continue
        if [ -z "${status[$check]+x}" ]; then order+=("$check"); status[$check]=PASS; fi
        if [ "$result" = FAIL ]; then
            status[$check]=FAIL
            echo "FAIL $name | $check | $detail"
        elif [ "$result" != PASS ]; then
            status[$check]=FAIL
            echo "FAIL $name | unexpected output: $check $result $detail"
        fi
    done <<< "$out"
    mp=0; mf=0
    for check in "${order[@]}"; do
        if [ "${status[$check]}" = PASS ]; then
            mp=$((mp + 1)); say "pass $name | $check"
        else
            mf=$((mf + 1))
        fi
    done
    unset status
    if [ $((mp + mf)) -eq 0 ]; then
        fail_measure "the checks printed nothing"
        continue
    fi
    say "scale: $name: $mp passed, $mf failed ($((SECONDS - start)) s)"
    passed=$((passed + mp)); failed=$((failed + mf))
    if [ "$mf" -eq 0 ] && [ "${SCALE_KEEP:-0}" != 1 ]; then drop_dbs+=("$db"); fi
done

# Drop the databases whose checks all passed, once their run schedulers have
# exited (they leave after a few idle seconds; FORCE only past 20 s).
if [ ${#drop_dbs[@]} -gt 0 ]; then
    list=$(printf "'%s'," "${drop_dbs[@]}"); list=${list%,}
    for _ in $(seq 1 100); do
        busy=$("${PSQL[@]}" -d "$admin_db" -A -t -c \
            "SELECT count(*) FROM pg_stat_activity WHERE datname IN ($list)" 2>/dev/null)
        [ "$busy" = 0 ] && break
        sleep 0.2
    done
    for db in "${drop_dbs[@]}"; do
        "${PSQL[@]}" -d "$admin_db" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1
    done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
