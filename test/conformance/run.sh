#!/usr/bin/env bash
# Conformance suite: every test case of the official eCQM decks in ../shared/ecqm
# (relative to the repository root), evaluated by hedis.evaluate and compared,
# population by population, with the MeasureReport the measure developers wrote.
#
#   test/conformance/run.sh [-v] [MEASURE_FILTER]
#
#   -v               also print passing cases and loading progress
#   MEASURE_FILTER   only measure folders whose name contains it (e.g. CMS125)
#
# Runs against the server that the PG* environment variables name (scripts/
# cluster.sh starts one).  It works in its own database, CONFORMANCE_DB (default
# pg_hedis_conformance), dropped and created afresh with the extension, so other
# suites' data cannot interfere; the database is left behind for inspection.
#
# Per measure: one psql session loads the shared libraries, valuesets.json,
# measure.json and every tests/*.json bundle (files are read by psql, so the
# server needs no access to them), then ONE query evaluates every test patient
# (a PL/pgSQL wrapper catches an error per patient) and compares the counts.
# Output: one line per failing case, then "N passed, N failed" (cases).
# Exit status 1 when any case failed, 0 otherwise (also when ../shared/ecqm is
# absent: the suite is then skipped).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=conformance
# shellcheck source=../lib.sh
. "$here/../lib.sh"
period_start=2026-01-01
period_end=2026-12-31

verbose=0
filter=
while [ $# -gt 0 ]; do
    case "$1" in
        -v|--verbose) verbose=1 ;;
        -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "conformance: unknown option $1" >&2; exit 2 ;;
        *) filter=$1 ;;
    esac
    shift
done

ecqm_or_skip
fresh_database "${CONFORMANCE_DB:-pg_hedis_conformance}"
select_measures

passed=0
failed=0

count_cases() { local n=0 f; for f in "$1"/tests/*.json; do [ -f "$f" ] && n=$((n + 1)); done; echo $n; }

total=0
for dir in "${measures[@]}"; do total=$((total + $(count_cases "$dir"))); done
load_libraries "$total" case

# ---- one measure: load, then one query that evaluates and compares every case
measure_sql() {
    local dir=$1 f
    cat <<'SQL'
CREATE TEMP TABLE conformance_case (uuid text, name text, period text,
    c1 text, c2 text, c3 text, c4 text, c5 text, c6 text);
CREATE TEMP TABLE conformance_bundle (file text PRIMARY KEY, bundle jsonb NOT NULL);
SQL
    if [ -f "$dir/cases.tsv" ]; then
        # the developers' case names; quoting off (no field is quoted)
        printf "\\\\copy conformance_case FROM %s WITH (FORMAT csv, DELIMITER E'\\\\t', HEADER true, QUOTE E'\\\\x01')\n" \
            "$(printf "'%s'" "${dir//\'/\'\'}/cases.tsv")"
    fi
    echo "BEGIN;"
    printf '\\set content `cat %s`\n' "$(shq "$dir/valuesets.json")"
    echo "SELECT hedis.load_bundle(:'content'::jsonb);"
    load_resource_sql "$dir/measure.json"
    echo "SELECT :'content'::jsonb ->> 'url' AS measure_url \\gset"
    for f in "$dir"/tests/*.json; do
        [ -f "$f" ] || continue
        printf '\\set content `cat %s`\n' "$(shq "$f")"
        printf "INSERT INTO conformance_bundle VALUES (%s, :'content'::jsonb);\n" \
            "'$(basename "$f" .json | sed "s/'/''/g")'"
    done
    echo "SELECT hedis.load_bundle(bundle) FROM conformance_bundle ORDER BY file;"
    echo "COMMIT;"
    guarded_evaluate_sql
    cat <<'SQL'
\pset format unaligned
\pset tuples_only on
\pset fieldsep '\t'
\o
WITH test_case AS (
    SELECT b.file,
           (SELECT e->'resource'->>'id' FROM jsonb_array_elements(b.bundle->'entry') e
             WHERE e->'resource'->>'resourceType' = 'Patient' LIMIT 1) AS patient,
           (SELECT e->'resource' FROM jsonb_array_elements(b.bundle->'entry') e
             WHERE e->'resource'->>'resourceType' = 'MeasureReport' LIMIT 1) AS expected,
           (SELECT e->'resource'->>'id' FROM jsonb_array_elements(b.bundle->'entry') e
             WHERE e->'resource'->>'resourceType' = 'Bundle' LIMIT 1) AS nested_id
      FROM conformance_bundle b
), evaluated AS (
    SELECT t.*, coalesce(c.name, t.nested_id, t.file) AS case_name, r.report, r.error
      FROM test_case t
      LEFT JOIN conformance_case c ON c.uuid = t.file
      CROSS JOIN LATERAL pg_temp.guarded_evaluate(:'measure_url', t.patient,
                                                      :'period_start', :'period_end') r
), expected_population AS (
    SELECT v.file, p->'code'->'coding'->0->>'code' AS code, sum((p->>'count')::int) AS count
      FROM evaluated v, jsonb_array_elements(v.expected->'group') g,
           jsonb_array_elements(g->'population') p
     GROUP BY 1, 2
), got_population AS (
    SELECT v.file, p->'code'->'coding'->0->>'code' AS code, sum((p->>'count')::int) AS count
      FROM evaluated v, jsonb_array_elements(coalesce(v.report->'group', '[]')) g,
           jsonb_array_elements(coalesce(g->'population', '[]')) p
     WHERE v.error IS NULL
     GROUP BY 1, 2
), difference AS (
    SELECT e.file,
           string_agg(format('%s expected %s got %s', e.code, e.count,
                             coalesce(o.count::text, 'no such population')),
                      '; ' ORDER BY e.code) AS text
      FROM expected_population e
      LEFT JOIN got_population o USING (file, code)
     WHERE o.count IS DISTINCT FROM e.count
     GROUP BY e.file
)
SELECT CASE WHEN v.error IS NULL AND v.expected IS NOT NULL AND v.patient IS NOT NULL
                 AND v.report IS NOT NULL AND d.text IS NULL
            THEN 'PASS' ELSE 'FAIL' END,
       v.case_name,
       v.patient,
       CASE WHEN v.patient IS NULL THEN 'the bundle holds no Patient'
            WHEN v.expected IS NULL THEN 'the bundle holds no expected MeasureReport'
            WHEN v.error IS NOT NULL THEN 'error: ' || replace(v.error, E'\n', ' ')
            WHEN v.report IS NULL THEN 'hedis.evaluate returned NULL'
            ELSE coalesce(d.text, '') END
  FROM evaluated v
  LEFT JOIN difference d USING (file)
 ORDER BY v.case_name, v.file;
SQL
}

for dir in "${measures[@]}"; do
    name=$(basename "$dir")
    ncases=$(count_cases "$dir")
    say "conformance: $name: loading and evaluating $ncases cases"
    start=$SECONDS
    out=$(measure_sql "$dir" | "${PSQL[@]}" -o /dev/null -v period_start="$period_start" \
          -v period_end="$period_end" 2>&1)
    rc=$?
    if [ $rc -ne 0 ]; then
        # loading failed or the comparison query itself broke: every case of the measure fails
        echo "FAIL $name: the measure could not be loaded or evaluated ($ncases cases count as failed): $(echo "$out" | tr '\n' ' ')"
        failed=$((failed + ncases))
        continue
    fi
    mp=0; mf=0
    while IFS=$'\t' read -r status case_name patient detail; do
        [ -n "$status" ] || continue
        if [ "$status" = PASS ]; then
            mp=$((mp + 1))
            say "pass $name | $case_name | $patient"
        elif [ "$status" = FAIL ]; then
            mf=$((mf + 1))
            echo "FAIL $name | $case_name | $patient | $detail"
        else
            echo "conformance: $name: unexpected output: $status $case_name $patient $detail"
        fi
    done <<< "$out"
    if [ $((mp + mf)) -ne "$ncases" ]; then
        echo "FAIL $name: $ncases test bundles but $((mp + mf)) results"
        mf=$((ncases - mp))
    fi
    say "conformance: $name: $mp passed, $mf failed ($((SECONDS - start)) s)"
    passed=$((passed + mp)); failed=$((failed + mf))
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
