#!/usr/bin/env bash
# pg_hedis benchmark suite: ONE command, every figure measured in the same run
# against a baseline measured in that run too.  See bench/README.md.
#
#   bench/run.sh [options]
#
#   -n N            engine population: every test patient of the 5 measures,
#                   original + N copies with fresh ids (default 20: 6 027 patients)
#   --fqm-n M       fqm-execution population: copies 1..M of every measure's test
#                   patients (default 3: 861 patients; fqm does ~15/CPU-s)
#   --pgbench-s S   seconds of each pgbench latency run (default 20; two runs)
#   --callgrind-k K callgrind evaluates CMS125 copies 1..K (default 4: 264 patients)
#   --pairs K       the floor and hand-written comparisons time the engine and
#                   the baseline alternately K times and take each one's median
#                   (default 5)
#   --pop-n P       patients of the hedis.generate_population + hedis.run_now run
#                   (default 20000)
#   --port P        port of the throwaway cluster (default 5477; never 5499)
#   --skip LIST     comma-separated stages to skip: fqm,handwritten,floor,pgbench,
#                   callgrind,runs
#   --no-install    do not build/install the extension first (use what is installed)
#   --keep          leave the cluster running at the end (prints how to stop it)
#   --out FILE      also write the result table (markdown) to FILE
#
# Needs: root (or the postgres user), PostgreSQL 15 server, node + bench/fqm
# node_modules (npm ci), valgrind (callgrind stage), ../shared/ecqm.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
ecqm="$repo/../shared/ecqm"
PGBIN=$(/usr/lib/postgresql/15/bin/pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
PERIOD="'2026-01-01'::date, '2026-12-31'::date"

N=20
FQM_N=3
PGBENCH_S=20
CG_K=4
PAIRS=5
POP_N=20000
PORT=5477
SKIP=,
INSTALL=1
KEEP=0
OUT=
while [ $# -gt 0 ]; do
    case "$1" in
        -n) N=$2; shift ;;
        --fqm-n) FQM_N=$2; shift ;;
        --pgbench-s) PGBENCH_S=$2; shift ;;
        --callgrind-k) CG_K=$2; shift ;;
        --pairs) PAIRS=$2; shift ;;
        --pop-n) POP_N=$2; shift ;;
        --port) PORT=$2; shift ;;
        --skip) SKIP=",$2,"; shift ;;
        --no-install) INSTALL=0 ;;
        --keep) KEEP=1 ;;
        --out) OUT=$2; shift ;;
        -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[ "$PORT" != 5499 ] || { echo "bench: port 5499 belongs to a colleague's cluster" >&2; exit 2; }
[ "$N" -ge "$FQM_N" ] || { echo "bench: -n must be >= --fqm-n (fqm's patients are a subset of the engine's)" >&2; exit 2; }
skipped() { [[ "$SKIP" == *",$1,"* ]]; }
[ -d "$ecqm" ] || { echo "bench: $ecqm is absent: nothing to measure" >&2; exit 1; }
ecqm=$(cd "$ecqm" && pwd)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------- scratch, build
SCRATCH=$(mktemp -d -t pg_hedis_bench.XXXXXX)
. "$(dirname "$0")/callgrind_lib.sh"
chmod 755 "$SCRATCH"
DATA="$SCRATCH/data"
SOCK="$SCRATCH/sock"
mkdir -p "$SOCK"
if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$SCRATCH" "$SOCK"
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi
server_running=0
cleanup() {
    if [ "$server_running" = 1 ] && [ "$KEEP" = 0 ]; then
        as_pg "$PGBIN/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true
    fi
    if [ "$KEEP" = 0 ]; then rm -rf "$SCRATCH"; fi
}
trap cleanup EXIT

if [ "$INSTALL" = 1 ]; then
    log "build and install pg_hedis"
    make -C "$repo" -s -j"$(nproc)" >/dev/null
    make -C "$repo" -s install >/dev/null
fi

export PGHOST="$SOCK" PGPORT="$PORT" PGUSER=postgres PGDATABASE=bench
GUCS=(-c shared_preload_libraries=pg_hedis -c shared_buffers=1GB -c fsync=off
      -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=4GB
      -c max_connections=40 -c max_worker_processes=16 -c jit=off)
start_server() {
    as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$SCRATCH/server.log" -w \
        -o "-p $PORT -k $SOCK -c listen_addresses= ${GUCS[*]}" start >/dev/null
    server_running=1
}
stop_server() {
    as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    server_running=0
}
log "initdb + start a throwaway cluster on port $PORT (socket $SOCK)"
as_pg "$PGBIN/initdb" -D "$DATA" -U postgres -A trust --no-sync >/dev/null
start_server
PSQL=(psql -X -q -v ON_ERROR_STOP=1 --no-psqlrc)
q() { "${PSQL[@]}" -At -F $'\t' "$@"; }
createdb bench
q -c 'CREATE EXTENSION pg_hedis'
q -f "$here/sql/setup.sql"

# ---------------------------------------------------------------- data
log "prepare patients: originals + $N copies of every test patient"
node "$here/fqm/prepare.js" "$ecqm" "$N" "$SCRATCH/bundles.dat"
chmod a+r "$SCRATCH/bundles.dat"

load_resource_sql() {  # psql script loading one non-Bundle resource file
    printf '\\set content `cat %q`\n' "$1"
    printf "SELECT hedis.load_bundle(jsonb_build_object('resourceType','Bundle','type','collection','entry',jsonb_build_array(jsonb_build_object('resource', :'content'::jsonb))));\n"
}
knowledge_sql() {  # psql script loading every library, measure and value set, in one transaction
    echo "BEGIN;"
    for f in "$ecqm"/libraries/*.json; do load_resource_sql "$f"; done
    for d in "$ecqm"/*/; do
        [ -f "$d/measure.json" ] || continue
        load_resource_sql "$d/measure.json"
        printf '\\set content `cat %q`\n' "$d/valuesets.json"
        echo "SELECT hedis.load_bundle(:'content'::jsonb);"
    done
    echo "COMMIT;"
}
log "load libraries, measures, value sets"
knowledge_sql | "${PSQL[@]}" -o /dev/null

log "load patients (hedis.load_bundle per bundle)"
t0=$(date +%s.%N)
q <<SQL
\\copy bench.stage FROM '$SCRATCH/bundles.dat' WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')
SELECT count(hedis.load_bundle(bundle::jsonb)) FROM bench.stage;
INSERT INTO bench.patient_set SELECT s.measure, s.copy, s.fhir_id, p.patient_key
  FROM bench.stage s JOIN hedis.patient p USING (fhir_id);
TRUNCATE bench.stage;
VACUUM ANALYZE;
SQL
t1=$(date +%s.%N)
npat=$(q -c 'SELECT count(*) FROM bench.patient_set')
npat_db=$(q -c 'SELECT count(*) FROM hedis.patient')
# patients whose hedis.evaluate_population row differs from their full evaluation
set_differing_sql="SELECT count(*) FROM hedis.evaluate_population('CMS125FHIRBreastCancerScreening', '2026-01-01', '2026-12-31') e
  WHERE e.result IS DISTINCT FROM hedis.evaluate_patient_result('CMS125FHIRBreastCancerScreening', e.patient_key, '2026-01-01', '2026-12-31') - 'patient'"
nres=$(q -c 'SELECT count(*) FROM hedis.resource WHERE patient_key IS NOT NULL')
log "loaded $npat patients, $nres resources in $(printf '%.1f' "$(echo "$t1 - $t0" | bc)") s"


MEASURES=()
for d in "$ecqm"/*/; do [ -f "$d/measure.json" ] && MEASURES+=("$(basename "$d")"); done
fnum() { awk -v x="$1" -v f="${2:-%.0f}" 'BEGIN { printf f, x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f", a / b; else printf "n/a" }'; }
RESULTS="$SCRATCH/results.md"
: >"$RESULTS"
row() { local IFS='|'; echo "| $* |" >>"$RESULTS"; }

# ---------------------------------------------------------------- 1. engine vs fqm
declare -A ENG_RATE ENG_RATE_ALL FQM_RATE FQM_RAW_RATE FQM_N_PAT
log "1. engine throughput per measure (copies 1..$FQM_N = fqm's patients, and all copies 0..$N)"
tp() { q -c "SELECT items, cpu_s, wall_s, per_cpu_s FROM bench.throughput($1)"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# A ratio's two sides timed one after the other, PAIRS times, alternately (the
# machine's speed drifts by 10-30 % within minutes): "median(A) median(B)"
# (or of three: "median(A) median(B) median(C)")
paired() {
    local ra=() rb=() rc=() r
    for _ in $(seq 1 "$PAIRS"); do
        IFS=$'\t' read -r _ _ _ r < <(tp "$1"); ra+=("$r")
        IFS=$'\t' read -r _ _ _ r < <(tp "$2"); rb+=("$r")
        if [ $# -gt 2 ]; then IFS=$'\t' read -r _ _ _ r < <(tp "$3"); rc+=("$r"); fi
    done
    if [ $# -gt 2 ]; then
        log "   rates of $PAIRS alternate runs: ${ra[*]} | ${rb[*]} | ${rc[*]}"
        echo "$(median "${ra[@]}") $(median "${rb[@]}") $(median "${rc[@]}")"
    else
        log "   rates of $PAIRS alternate runs: ${ra[*]} | ${rb[*]}"
        echo "$(median "${ra[@]}") $(median "${rb[@]}")"
    fi
}
for m in "${MEASURES[@]}"; do
    IFS=$'\t' read -r ev cpu wall rate < <(tp "bench.engine_statement('$m', 1, $FQM_N)")
    ENG_RATE[$m]=$rate
    IFS=$'\t' read -r ev2 cpu2 wall2 rate2 < <(tp "bench.engine_statement('$m', 0, $N)")
    ENG_RATE_ALL[$m]=$rate2
    log "   $m: $(fnum "$rate") evals/CPU-s on fqm's patients ($ev evals, $cpu s CPU, $(fnum "$wall" %.2f) s wall); $(fnum "$rate2") on copies 0..$N"
done
IFS=$'\t' read -r ev cpu wall ENG_MIX < <(tp "bench.engine_statement('%', 0, $N)")
log "   all measures, each patient with its own measure: $(fnum "$ENG_MIX") evals/CPU-s ($ev evals, $cpu s CPU, $(fnum "$wall" %.2f) s wall)"

if ! skipped fqm; then
    [ -d "$here/fqm/node_modules/fqm-execution" ] || (cd "$here/fqm" && npm ci --no-audit --no-fund >/dev/null)
    log "1. fqm-execution: batched Calculator.calculate / calculateRaw over copies 1..$FQM_N"
    for m in "${MEASURES[@]}"; do
        pdir="$SCRATCH/fqm/$m"
        node "$here/fqm/replicate.js" "$ecqm/$m" "$FQM_N" "$pdir" 2>/dev/null
        node "$here/fqm/run_fqm.js" "$ecqm/$m" --patients "$pdir" --check --quiet 2>"$SCRATCH/fqm_$m.log" \
            || log "   fqm --check reported differences for $m (see below)"
        node "$here/fqm/run_fqm.js" "$ecqm/$m" --patients "$pdir" --raw 2>"$SCRATCH/fqm_raw_$m.log" || true
        # "run 1: 198 patients, cpu 12.345 s, wall 12.400 s, 16.0 patient-evaluations per cpu-second"
        read -r np fcpu fwall < <(sed -n 's/^run 1: \([0-9]*\) patients, cpu \([0-9.]*\) s, wall \([0-9.]*\) s.*/\1 \2 \3/p' "$SCRATCH/fqm_$m.log")
        read -r rcpu < <(sed -n 's/^raw run 1: [0-9]* patients, cpu \([0-9.]*\) s.*/\1/p' "$SCRATCH/fqm_raw_$m.log")
        FQM_N_PAT[$m]=$np
        FQM_RATE[$m]=$(awk -v n="$np" -v c="$fcpu" 'BEGIN{printf "%.2f", n/c}')
        FQM_RAW_RATE[$m]=$(awk -v n="$np" -v c="$rcpu" 'BEGIN{printf "%.2f", n/c}')
        log "   $m: $np patients, calculate ${FQM_RATE[$m]}/CPU-s (cpu $fcpu s), calculateRaw ${FQM_RAW_RATE[$m]}/CPU-s; $(tail -1 "$SCRATCH/fqm_$m.log")"
        grep '^FAIL' "$SCRATCH/fqm_$m.log" | head -5 >&2 || true
    done
fi

# ---------------------------------------------------------------- 3. floor
C125=CMS125FHIRBreastCancerScreening
if ! skipped floor; then
    log "3. floor: reading the CMS125 patients' resources (copies 0..$N) through the patient index"
    read -r FLOOR_KEY ENG_FLOOR < <(paired "bench.floor_statement('$C125', 0, $N)" "bench.engine_statement('$C125', 0, $N)")
    read -r FLOOR_CLIN ENG_FLOOR_CLIN < <(paired "bench.floor_clinical_statement('$C125', 0, $N)" "bench.engine_statement('$C125', 0, $N)")
    IFS=$'\t' read -r _ _ _ FLOOR_TEXT < <(tp "bench.floor_text_statement('$C125', 0, $N)")
    log "   jsonb key per resource: $(fnum "$FLOOR_KEY") patients/CPU-s (median); engine $(fnum "$ENG_FLOOR") evals/CPU-s (median, timed alternately); without the MeasureReports: $(fnum "$FLOOR_CLIN") (engine $(fnum "$ENG_FLOOR_CLIN")); resource::text: $(fnum "$FLOOR_TEXT") patients/CPU-s"
fi

# ---------------------------------------------------------------- 4. handwritten SQL
if ! skipped handwritten; then
    log "4. handwritten SQL for CMS125: identical populations? then time both over all $npat patients"
    q -f "$here/sql/cms125_handwritten.sql" 2>&1 | grep -v '^NOTICE' >&2 || true
    q -c "ANALYZE"
    q -c "SELECT * FROM bench.cms125_mismatches()" >"$SCRATCH/mismatches.tsv"
    HW_MISMATCH=$(wc -l <"$SCRATCH/mismatches.tsv")
    HW_MISMATCH_OFFICIAL=$(awk -F'\t' '$2 == 0 && $3 == "'$C125'"' "$SCRATCH/mismatches.tsv" | wc -l)
    n_official=$(q -c "SELECT count(*) FROM bench.patient_set WHERE measure = '$C125' AND copy = 0")
    SET_DIFFERING=$(q -c "$set_differing_sql")
    log "   mismatches: $HW_MISMATCH_OFFICIAL of $n_official official CMS125 test patients, $HW_MISMATCH of all $npat patients; evaluate_population rows differing from the full evaluation: $SET_DIFFERING of $npat_db"
    head -20 "$SCRATCH/mismatches.tsv" | sed 's/^/   MISMATCH /' >&2
    read -r HW_RATE ENG_ALL125 SET_ALL125 < <(paired "\$\$SELECT count(*) FROM handwritten.cms125('2026-01-01', '2026-12-31')\$\$" \
                                          "bench.engine_statement('%', 0, $N, '$C125')" \
                                          "bench.population_statement('$C125')")
    log "   handwritten: $(fnum "$HW_RATE") patients/CPU-s; engine CMS125 over the same patients: $(fnum "$ENG_ALL125") per patient, $(fnum "$SET_ALL125") by hedis.evaluate_population (medians, timed alternately)"
fi

# ---------------------------------------------------------------- 5. pgbench latency
pgbench_run() {  # name, SQL function call with :fid
    local name=$1 call=$2
    cat >"$SCRATCH/pgbench_$name.sql" <<SQL
\\set k random(1, $N125)
SELECT $call FROM bench.pgbench_patient WHERE i = :k;
SQL
    rm -f "$SCRATCH"/pgblog_"$name".*
    (cd "$SCRATCH" && pgbench -n -c 16 -j 2 -T "$PGBENCH_S" -M prepared -f "pgbench_$name.sql" \
        --log --log-prefix="pgblog_$name" bench >"$SCRATCH/pgbench_$name.out" 2>&1)
    # log line: client_id transaction_no latency_us script_no epoch epoch_us;
    # the first transaction of each client (new backend: compiles the measure) apart
    cat "$SCRATCH"/pgblog_"$name".* | awk 'seen[$1]++ { print $3 }' | sort -n >"$SCRATCH/lat_$name.txt"
    cat "$SCRATCH"/pgblog_"$name".* | awk '!seen[$1]++ { print $3 }' | sort -n >"$SCRATCH/lat_first_$name.txt"
    local tps
    tps=$(sed -n 's/^tps = \([0-9]*\).*/\1/p' "$SCRATCH/pgbench_$name.out" | head -1)
    pct() { awk -v p="$1" '{ a[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } i = int(p * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; printf "%.2f", a[i] / 1000 }' "$2"; }
    echo "$tps $(pct 0.5 "$SCRATCH/lat_$name.txt") $(pct 0.99 "$SCRATCH/lat_$name.txt") $(pct 0.5 "$SCRATCH/lat_first_$name.txt") $(wc -l <"$SCRATCH/lat_$name.txt")"
}
if ! skipped pgbench; then
    q -c "CREATE TABLE bench.pgbench_patient AS SELECT row_number() OVER (ORDER BY fhir_id) AS i, fhir_id, patient_key FROM bench.patient_set WHERE measure = '$C125'; CREATE UNIQUE INDEX ON bench.pgbench_patient (i); ANALYZE bench.pgbench_patient"
    N125=$(q -c "SELECT count(*) FROM bench.pgbench_patient")
    log "5. pgbench: 16 clients, ${PGBENCH_S} s each, random CMS125 patient of $N125"
    read -r PGB_TPS PGB_P50 PGB_P99 PGB_FIRST PGB_N < <(pgbench_run evaluate \
        "hedis.evaluate('$C125', fhir_id, '2026-01-01', '2026-12-31')")
    log "   hedis.evaluate: $PGB_TPS tps, p50 $PGB_P50 ms, p99 $PGB_P99 ms ($PGB_N transactions; first call of a backend p50 $PGB_FIRST ms)"
    read -r PGR_TPS PGR_P50 PGR_P99 PGR_FIRST PGR_N < <(pgbench_run result \
        "hedis.evaluate_patient_result('$C125', patient_key, '2026-01-01', '2026-12-31')")
    log "   hedis.evaluate_patient_result: $PGR_TPS tps, p50 $PGR_P50 ms, p99 $PGR_P99 ms ($PGR_N transactions; first call p50 $PGR_FIRST ms)"
fi

# ---------------------------------------------------------------- 6. population runs
if ! skipped runs; then
    RUNS_NOTE="hedis.generate_population / hedis.run_now missing"
    if [ "$(q -c "SELECT to_regprocedure('hedis.generate_population(int,int,date)') IS NOT NULL AND to_regprocedure('hedis.run_now(text,date,date)') IS NOT NULL")" = t ]; then
        log "6. population run: hedis.generate_population($POP_N) + hedis.run_now (CMS125) in database bench_pop"
        createdb bench_pop
        { echo "CREATE EXTENSION pg_hedis;"; knowledge_sql; } | "${PSQL[@]}" -d bench_pop -o /dev/null
        if out=$(q -d bench_pop 2>&1 <<SQL
\\timing on
SELECT hedis.generate_population($POP_N, 1);
VACUUM ANALYZE;
SELECT hedis.run_now('$C125', '2026-01-01', '2026-12-31');
SQL
        ); then
            POP_GEN_MS=$(echo "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sed -n 1p)
            POP_RUN_MS=$(echo "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sed -n 3p)
            POP_RATE=$(awk -v n="$POP_N" -v ms="$POP_RUN_MS" 'BEGIN { if (ms > 0) printf "%.0f", n / (ms / 1000) }')
            RUNS_NOTE="run_now: $POP_N generated patients in $(fnum "$POP_RUN_MS" %.0f) ms wall = $POP_RATE patients/s (generation $(fnum "$POP_GEN_MS" %.0f) ms); 1 vs 2 background workers: bench/million/run.sh"
            log "   $RUNS_NOTE"
            if ! skipped handwritten; then
                # the hand-written SQL against the engine on a population of
                # generated patients (the test decks are nearly all edge
                # cases): identical populations first, then both timed
                log "   handwritten SQL for CMS125 over the $POP_N generated patients: identical populations? then time both"
                { cat "$here/sql/setup.sql" "$here/sql/cms125_handwritten.sql"
                  echo "INSERT INTO bench.patient_set SELECT 'generated', 0, fhir_id, patient_key FROM hedis.patient;"
                  echo "ANALYZE;"; } | q -d bench_pop 2>&1 | grep -v '^NOTICE' >&2 || true
                POP_HW_MISMATCH=$(q -d bench_pop -c "SELECT count(*) FROM bench.cms125_mismatches()")
                POP_IP=$(q -d bench_pop -c "SELECT count(*) FILTER (WHERE initial_population) || ' in the initial population, ' || count(*) FILTER (WHERE denominator_exclusion) || ' excluded, ' || count(*) FILTER (WHERE numerator) || ' in the numerator' FROM handwritten.cms125('2026-01-01', '2026-12-31')")
                POP_SET_DIFFERING=$(q -d bench_pop -c "$set_differing_sql")
                log "   mismatches: $POP_HW_MISMATCH of $POP_N generated patients ($POP_IP); evaluate_population rows differing from the full evaluation: $POP_SET_DIFFERING"
                read -r POP_HW_RATE POP_ENG_RATE POP_SET_RATE < <(PGDATABASE=bench_pop paired "\$\$SELECT count(*) FROM handwritten.cms125('2026-01-01', '2026-12-31')\$\$" \
                                                          "bench.engine_statement('generated', 0, 0, '$C125')" \
                                                          "bench.population_statement('$C125')")
                log "   handwritten: $(fnum "$POP_HW_RATE") patients/CPU-s; engine: $(fnum "$POP_ENG_RATE") per patient, $(fnum "$POP_SET_RATE") by hedis.evaluate_population (medians, timed alternately)"
            fi
        else
            log "   population run failed: $(echo "$out" | tail -3)"
            RUNS_NOTE="hedis.run_now failed here: $(echo "$out" | grep ERROR | head -1)"
        fi
    fi
fi

# ---------------------------------------------------------------- 2. callgrind
if ! skipped callgrind && command -v valgrind >/dev/null; then
    K=$CG_K
    nk=$(q -c "SELECT count(*) FROM bench.patient_set WHERE measure = '$C125' AND copy BETWEEN 1 AND $K")
    K2=$(( N > K ? N : K + 1 ))
    nk2=$(q -c "SELECT count(*) FROM bench.patient_set WHERE measure = '$C125' AND copy BETWEEN 1 AND $K2")
    log "2. callgrind: single-user postgres evaluating CMS125 copies 1..$K ($nk patients) once, twice, then 1..$K2 ($nk2)"
    stop_server
    warm="SELECT count(hedis.evaluate_patient_result('$C125', patient_key, '2026-01-01', '2026-12-31')) FROM bench.patient_set WHERE measure = '$C125' AND copy = 0;"
    ev_for() { echo "SELECT count(hedis.evaluate_patient_result('$C125', patient_key, '2026-01-01', '2026-12-31')) FROM bench.patient_set WHERE measure = '$C125' AND copy BETWEEN 1 AND $1;"; }
    ev=$(ev_for "$K")
    # likewise the evaluations: copies 1..N minus 1..K, both after a warm
    # evaluation of 1..K, is the engine per patient without the statement's
    # own costs (twice - once, the figure until the fifth session, counted
    # them: ~15,000 instructions per patient over 264 patients)
    # the floor statement over copies 1..K and over 1..N: their difference is
    # the floor per patient without the statement's own costs (planning, the
    # scan of bench.patient_set), which over K copies alone were half of it
    fl_for() { echo "SELECT count(x.b) FROM bench.patient_set p CROSS JOIN LATERAL (SELECT count(*) AS n, sum(length(r.resource->>'resourceType')) AS b FROM hedis.resource r WHERE r.patient_key = p.patient_key AND r.resource_type <> 'MeasureReport') x WHERE p.measure = '$C125' AND p.copy BETWEEN 1 AND $1;"; }
    fl=$(fl_for "$K")
    cg() { local name=$1; shift; callgrind_collect "$SCRATCH/cg_$name" "$DATA" "$@"; }
    CG_ONCE=$(cg once "$warm" "$ev")
    CG_TWICE=$(cg twice "$warm" "$ev" "$ev")
    CG_FLOOR=$(cg floor "$warm" "$ev" "$fl")
    CG_FLOOR2=$(cg floor2 "$warm" "$ev" "$(fl_for "$K2")")
    CG_EVAL2=$(cg eval2 "$warm" "$ev" "$(ev_for "$K2")")
    CG_EVAL_TWICE=$(awk -v a="$CG_ONCE" -v b="$CG_TWICE" -v n="$nk" 'BEGIN { printf "%.0f", (b - a) / n }')
    CG_EVAL=$(awk -v b="$CG_TWICE" -v e="$CG_EVAL2" -v n="$nk" -v n2="$nk2" 'BEGIN { printf "%.0f", (e - b) / (n2 - n) }')
    CG_FLOOR_PP=$(awk -v c="$CG_FLOOR" -v d="$CG_FLOOR2" -v n="$nk" -v n2="$nk2" 'BEGIN { printf "%.0f", (d - c) / (n2 - n) }')
    log "   instructions: once $CG_ONCE, twice $CG_TWICE, once+eval(1..$K2) $CG_EVAL2, once+floor(1..$K) $CG_FLOOR, once+floor(1..$K2) $CG_FLOOR2"
    log "   => $CG_EVAL instructions per patient-evaluation (copies 1..$K2 - 1..$K; twice - once: $CG_EVAL_TWICE); floor (read the same resources, without the MeasureReports) $CG_FLOOR_PP per patient"
    if command -v callgrind_annotate >/dev/null; then
        log "   top functions (self instructions) of the run evaluating twice:"
        callgrind_annotate "$SCRATCH/cg_twice.out" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | head -15 | sed 's/^/      /' >&2 || true
    fi
    start_server
fi

# ---------------------------------------------------------------- report
{
    echo "pg_hedis benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, PostgreSQL $(q -c 'SHOW server_version' | cut -d' ' -f1), node $(node --version 2>/dev/null)"
    echo "engine population: originals + $N copies = $npat patients ($nres resources); fqm population: copies 1..$FQM_N"
    echo
    echo "| measure | fqm patients | fqm \`calculate\` evals/CPU-s | fqm \`calculateRaw\` evals/CPU-s | pg_hedis evals/CPU-s (same patients) | ratio vs calculate | ratio vs calculateRaw | pg_hedis evals/CPU-s (copies 0..$N) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    tf=0; tr=0; tn=0
    for m in "${MEASURES[@]}"; do
        if [ -n "${FQM_RATE[$m]:-}" ]; then
            echo "| ${m%%FHIR*} | ${FQM_N_PAT[$m]} | ${FQM_RATE[$m]} | ${FQM_RAW_RATE[$m]} | $(fnum "${ENG_RATE[$m]}") | **$(ratio "${ENG_RATE[$m]}" "${FQM_RATE[$m]}")×** | $(ratio "${ENG_RATE[$m]}" "${FQM_RAW_RATE[$m]}")× | $(fnum "${ENG_RATE_ALL[$m]}") |"
        else
            echo "| ${m%%FHIR*} | – | – | – | $(fnum "${ENG_RATE[$m]}") | – | – | $(fnum "${ENG_RATE_ALL[$m]}") |"
        fi
    done
    echo
    echo "| figure | value | baseline | ratio |"
    echo "|---|---:|---:|---:|"
    echo "| all 5 measures mixed (each patient its own measure), evals/CPU-s | $(fnum "$ENG_MIX") | | |"
    [ -n "${CG_EVAL:-}" ] && echo "| callgrind: instructions per CMS125 patient-evaluation (copies 1..$K2 − 1..$K; twice − once over $nk patients: $CG_EVAL_TWICE) | $CG_EVAL | floor: $CG_FLOOR_PP instructions/patient to read its resources (without the MeasureReports; copies 1..$K2 − 1..$K) | $(awk -v a="$CG_EVAL" -v b="$CG_FLOOR_PP" 'BEGIN { if (b > 0) printf "%.1f", a / b; else printf "n/a" }')× |"
    [ -n "${FLOOR_KEY:-}" ] && echo "| floor: CMS125 patients read/CPU-s (index + jsonb key per resource; medians of $PAIRS alternate runs) | $(fnum "$FLOOR_KEY") | engine CMS125 $(fnum "$ENG_FLOOR") evals/CPU-s | engine costs $(awk -v a="$FLOOR_KEY" -v b="$ENG_FLOOR" 'BEGIN{printf "%.1f", a/b}')× the floor |"
    [ -n "${FLOOR_CLIN:-}" ] && echo "| floor without the test decks' MeasureReports (what the engine reads; medians of $PAIRS alternate runs) | $(fnum "$FLOOR_CLIN") | engine CMS125 $(fnum "$ENG_FLOOR_CLIN") evals/CPU-s | engine costs $(awk -v a="$FLOOR_CLIN" -v b="$ENG_FLOOR_CLIN" 'BEGIN{printf "%.1f", a/b}')× the floor |"
    [ -n "${FLOOR_TEXT:-}" ] && echo "| floor: CMS125 patients read/CPU-s (index + resource::text) | $(fnum "$FLOOR_TEXT") | engine CMS125 $(fnum "$ENG_FLOOR") evals/CPU-s | engine costs $(awk -v a="$FLOOR_TEXT" -v b="$ENG_FLOOR" 'BEGIN{printf "%.2f", a/b}')× the floor |"
    [ -n "${HW_RATE:-}" ] && echo "| handwritten SQL CMS125, patients/CPU-s (all $npat patients, one set-based query; medians of $PAIRS alternate runs) | $(fnum "$HW_RATE") | engine CMS125 over the same patients: $(fnum "$ENG_ALL125") | engine $(awk -v a="$ENG_ALL125" -v b="$HW_RATE" 'BEGIN{printf "%.2f", a/b}')× handwritten |"
    [ -n "${SET_ALL125:-}" ] && echo "| the same, the engine set-based: \`hedis.evaluate_population\` over the database's $npat_db patients (screened by birth date), patients/CPU-s | $(fnum "$SET_ALL125") | handwritten $(fnum "$HW_RATE") | engine $(awk -v a="$SET_ALL125" -v b="$HW_RATE" 'BEGIN{printf "%.2f", a/b}')× handwritten |"
    [ -n "${HW_MISMATCH:-}" ] && echo "| handwritten vs engine: per-patient population mismatches | $HW_MISMATCH_OFFICIAL of $n_official official CMS125 cases; $HW_MISMATCH of $npat patients; evaluate_population vs the full evaluation: $SET_DIFFERING of $npat_db | | |"
    [ -n "${POP_HW_RATE:-}" ] && echo "| handwritten SQL CMS125 over $POP_N generated patients ($POP_IP), patients/CPU-s (medians of $PAIRS alternate runs) | $(fnum "$POP_HW_RATE") | engine CMS125 over the same patients: $(fnum "$POP_ENG_RATE") | engine $(awk -v a="$POP_ENG_RATE" -v b="$POP_HW_RATE" 'BEGIN{printf "%.2f", a/b}')× handwritten |"
    [ -n "${POP_SET_RATE:-}" ] && echo "| the same, the engine set-based: \`hedis.evaluate_population\`, patients/CPU-s | $(fnum "$POP_SET_RATE") | handwritten $(fnum "$POP_HW_RATE") | engine $(awk -v a="$POP_SET_RATE" -v b="$POP_HW_RATE" 'BEGIN{printf "%.2f", a/b}')× handwritten |"
    [ -n "${POP_HW_MISMATCH:-}" ] && echo "| handwritten vs engine over the generated patients: per-patient population mismatches | $POP_HW_MISMATCH of $POP_N patients; evaluate_population vs the full evaluation: $POP_SET_DIFFERING | | |"
    [ -n "${PGB_P50:-}" ] && echo "| pgbench 16 clients, \`hedis.evaluate\` (MeasureReport + evidence): tps / p50 / p99 ms | $PGB_TPS / $PGB_P50 / $PGB_P99 | first call in a backend p50 $PGB_FIRST ms | |"
    [ -n "${PGR_P50:-}" ] && echo "| pgbench 16 clients, \`hedis.evaluate_patient_result\`: tps / p50 / p99 ms | $PGR_TPS / $PGR_P50 / $PGR_P99 | first call in a backend p50 $PGR_FIRST ms | |"
    echo "| population run, 1 vs 2 workers | ${RUNS_NOTE:-not measured (skipped)} | | |"
    echo "| million-patient run, 1 vs 2 workers, memory per worker | bench/million/run.sh (separate: ~10 min, ~25 GB of disk) | | |"
} >"$RESULTS"
echo
cat "$RESULTS"
[ -z "$OUT" ] || cp "$RESULTS" "$OUT"

if [ "$KEEP" = 1 ]; then
    log "cluster kept: PGHOST=$SOCK PGPORT=$PORT PGDATABASE=bench; stop with: runuser -u postgres -- $PGBIN/pg_ctl -D $DATA stop"
fi
