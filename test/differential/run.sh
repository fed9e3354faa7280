#!/usr/bin/env bash
# Differential suite: pg_hedis against fqm-execution (the reference JavaScript
# calculator) on patients the official decks do not contain.
#
#   test/differential/run.sh [-v] [--seed S] [--count N] [MEASURE_FILTER]
#
#   -v               also print agreeing patients
#   --seed S         mutation seed (default 1): the same seed gives the same patients
#   --count N        mutated patients per measure (default 60)
#   MEASURE_FILTER   only measure folders whose name contains it
#
# For each measure folder of ../shared/ecqm (relative to the repository root),
# mutate.js derives N patients from the official test patients (dates shifted,
# events moved across the measurement-period edges, resources dropped or
# duplicated, codes swapped between the measure's value sets, statuses changed),
# each with fresh resource ids, and records fqm-execution's populations for them.
# They are loaded into their own database,
# DIFFERENTIAL_DB (default pg_hedis_differential, made afresh), and evaluated with
# hedis.evaluate in one query per measure.  One line per disagreement, then
# "N passed, N failed" (patients); exit 1 on any disagreement.
# Skips (exit 0, "0 passed, 0 failed") when ../shared/ecqm or node is absent.
# fqm-execution is bench/fqm's pinned dependency (npm ci there if missing).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=differential
# shellcheck source=../lib.sh
. "$here/../lib.sh"
fqmdir="$test_lib_repo/bench/fqm"
period_start=2026-01-01
period_end=2026-12-31

verbose=0
filter=
seed=1
count=60
while [ $# -gt 0 ]; do
    case "$1" in
        -v|--verbose) verbose=1 ;;
        --seed) seed=$2; shift ;;
        --count) count=$2; shift ;;
        -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "differential: unknown option $1" >&2; exit 2 ;;
        *) filter=$1 ;;
    esac
    shift
done
if ! [[ "$seed" =~ ^[0-9]+$ && "$count" =~ ^[1-9][0-9]*$ ]]; then
    echo "differential: --seed and --count take non-negative integers" >&2
    exit 2
fi

ecqm_or_skip
if ! command -v node >/dev/null 2>&1; then
    echo "differential: node is not installed: suite skipped (apt-get install nodejs npm)"
    echo "0 passed, 0 failed"
    exit 0
fi
if [ ! -d "$fqmdir/node_modules/fqm-execution" ]; then
    echo "differential: installing fqm-execution into bench/fqm (npm ci)"
    if ! (cd "$fqmdir" && npm ci --no-audit --no-fund >/dev/null 2>&1); then
        echo "differential: cannot install fqm-execution (npm ci in bench/fqm failed)"
        echo "0 passed, 1 failed"
        exit 1
    fi
fi

select_measures

work=$(mktemp -d -t pg_hedis_differential.XXXXXX)
trap 'rm -rf "$work"' EXIT

# ---- the patients and fqm-execution's answers (no database needed)
for dir in "${measures[@]}"; do
    name=$(basename "$dir")
    say "differential: $name: mutating $count patients (seed $seed) and running fqm-execution"
    if ! out=$(node "$here/mutate.js" "$dir" "$work/$name" --seed "$seed" --count "$count" 2>&1); then
        echo "differential: $name: mutate.js / fqm-execution failed: $out"
        echo "0 passed, 1 failed"
        exit 1
    fi
    say "$out"
done

# ---- the database
fresh_database "${DIFFERENTIAL_DB:-pg_hedis_differential}"
total_patients=0
for dir in "${measures[@]}"; do
    n=$(wc -l < "$work/$(basename "$dir")/manifest.tsv")
    total_patients=$((total_patients + n))
done
load_libraries "$total_patients" patient

measure_sql() {
    local dir=$1 gen=$2 f
    cat <<'SQL'
CREATE TEMP TABLE differential_case (patient text PRIMARY KEY, base_case text,
    mutation text, fqm text);
SQL
    printf "\\\\copy differential_case FROM %s WITH (FORMAT csv, DELIMITER E'\\\\t', QUOTE E'\\\\x01')\n" \
        "$(printf "'%s'" "${gen//\'/\'\'}/manifest.tsv")"
    echo "BEGIN;"
    printf '\\set content `cat %s`\n' "$(shq "$dir/valuesets.json")"
    echo "SELECT hedis.load_bundle(:'content'::jsonb);"
    load_resource_sql "$dir/measure.json"
    echo "SELECT :'content'::jsonb ->> 'url' AS measure_url \\gset"
    for f in "$gen"/patients/*.json; do
        [ -f "$f" ] || continue
        printf '\\set content `cat %s`\n' "$(shq "$f")"
        echo "SELECT hedis.load_bundle(:'content'::jsonb);"
    done
    echo "COMMIT;"
    guarded_evaluate_sql
    cat <<'SQL'
\pset format unaligned
\pset tuples_only on
\pset fieldsep '\t'
\o
WITH evaluated AS (
    SELECT c.*, c.fqm::jsonb AS fqm_result, r.report, r.error
      FROM differential_case c
     CROSS JOIN LATERAL pg_temp.guarded_evaluate(:'measure_url', c.patient,
                                                      :'period_start', :'period_end') r
     WHERE NOT (c.fqm::jsonb ? 'error')
), ours AS (
    SELECT v.patient, p->'code'->'coding'->0->>'code' AS code, sum((p->>'count')::int) AS count
      FROM evaluated v, jsonb_array_elements(coalesce(v.report->'group', '[]')) g,
           jsonb_array_elements(coalesce(g->'population', '[]')) p
     WHERE v.error IS NULL
     GROUP BY 1, 2
), theirs AS (
    SELECT v.patient, f.key AS code, f.value::int AS count
      FROM evaluated v, jsonb_each_text(v.fqm_result) f
), difference AS (
    SELECT t.patient
      FROM theirs t LEFT JOIN ours o USING (patient, code)
     WHERE o.count IS DISTINCT FROM t.count
     GROUP BY t.patient
), shown AS (
    SELECT v.patient,
           (SELECT string_agg(format('%s=%s', t.code, t.count), ' ' ORDER BY t.code)
              FROM theirs t WHERE t.patient = v.patient) AS fqm_text,
           (SELECT string_agg(format('%s=%s', t.code, coalesce(o.count::text, 'absent')), ' '
                              ORDER BY t.code)
              FROM theirs t LEFT JOIN ours o USING (patient, code)
             WHERE t.patient = v.patient) AS ours_text
      FROM evaluated v
)
SELECT CASE WHEN v.error IS NULL AND v.report IS NOT NULL AND d.patient IS NULL
            THEN 'PASS' ELSE 'FAIL' END,
       v.patient, v.base_case, v.mutation,
       CASE WHEN v.error IS NOT NULL THEN 'error: ' || replace(v.error, E'\n', ' ')
            WHEN v.report IS NULL THEN 'hedis.evaluate returned NULL'
            ELSE format('fqm %s | ours %s', s.fqm_text, s.ours_text) END
  FROM evaluated v
  JOIN shown s USING (patient)
  LEFT JOIN difference d USING (patient)
UNION ALL
SELECT 'SKIP', c.patient, c.base_case, c.mutation, 'fqm-execution: ' || (c.fqm::jsonb ->> 'error')
  FROM differential_case c
 WHERE c.fqm::jsonb ? 'error'
 ORDER BY 2;
SQL
}

passed=0
failed=0
for dir in "${measures[@]}"; do
    name=$(basename "$dir")
    gen="$work/$name"
    n=$(wc -l < "$gen/manifest.tsv")
    out=$(measure_sql "$dir" "$gen" | "${PSQL[@]}" -o /dev/null -v period_start="$period_start" \
          -v period_end="$period_end" 2>&1)
    if [ $? -ne 0 ]; then
        echo "FAIL $name: the mutated patients could not be loaded or evaluated ($n patients count as failed): $(echo "$out" | tr '\n' ' ')"
        failed=$((failed + n))
        continue
    fi
    mp=0; mf=0; ms=0
    while IFS=$'\t' read -r status patient base_case mutation detail; do
        [ -n "$status" ] || continue
        case "$status" in
            PASS) mp=$((mp + 1)); say "agree $name | $patient | from $base_case | $mutation | $detail" ;;
            FAIL) mf=$((mf + 1))
                  echo "FAIL $name | $patient | from $base_case | $mutation | $detail" ;;
            SKIP) ms=$((ms + 1)); echo "skip $name | $patient | from $base_case | $mutation | $detail" ;;
            *) echo "differential: $name: unexpected output: $status $patient $detail" ;;
        esac
    done <<< "$out"
    if [ $((mp + mf + ms)) -ne "$n" ]; then
        echo "FAIL $name: $n mutated patients but $((mp + mf + ms)) results"
        mf=$((n - mp - ms))
    fi
    say "differential: $name: $mp agree, $mf disagree, $ms skipped (fqm-execution error)"
    passed=$((passed + mp)); failed=$((failed + mf))
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
