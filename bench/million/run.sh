#!/usr/bin/env bash
# Million-patient run: generate a synthetic population, run one measure over it
# with background workers, report wall time, patients/second and the peak
# memory of every run worker.  See "Million-patient run" in bench/README.md.
#
#   bench/million/run.sh [options]
#
#   -n N              patients to generate (default 1000000)
#   --chunk C         patients per hedis.generate_population call / transaction
#                     (default 50000; chunk k uses seed k, so ids never collide)
#   --measure M       measure folder of ../shared/ecqm whose package is loaded
#                     and run (default CMS125FHIRBreastCancerScreening; a
#                     prefix such as CMS125 is enough)
#   --workers LIST    comma-separated hedis.max_workers of the successive runs
#                     (default 2,1)
#   --warmup W        first an unmeasured run with hedis.max_workers = W
#                     (default 2; 0: none): it is reported apart, and the
#                     scaling pairs start after it
#   --port P          port of the throwaway cluster (default 5533; never 5499)
#   --shared-buffers S  shared_buffers of the cluster (default 4GB)
#   --no-install      do not build and install the extension first
#   --out FILE        also write the results (markdown) to FILE
#
# Needs root (or the postgres user), PostgreSQL 15 with pg_virtualenv
# (postgresql-common), ../shared/ecqm, ~25 GB of free disk for a million
# patients (database ~15 GB + WAL).  The cluster is a pg_virtualenv throwaway:
#   shared_preload_libraries=pg_hedis, max_worker_processes=16,
#   shared_buffers=4GB, max_wal_size=16GB, checkpoint_timeout=30min
# (durability settings left at their defaults: fsync and synchronous_commit on).
#
# Steps, all timed: load the measure package; generate the population in
# chunks; VACUUM ANALYZE the store; CHECKPOINT and sync (the runs start on a
# quiet machine); then the warm-up run (--warmup: the first run after the
# generation scaled worst in every invocation, ×1.52–1.69 where the others
# gave ×1.76–1.95), then, for each entry of --workers, one
# background run (hedis.run) with hedis.max_workers set to it, while a
# sampler reads /proc/<pid>/status (VmRSS, VmHWM, RssAnon) and /proc/<pid>/stat
# (CPU time) of every "pg_hedis run worker" backend once a second; half-way
# through, pg_log_backend_memory_contexts() logs each worker's memory contexts
# (their "Grand total" is reported).  Each run must finish with every patient
# evaluated and none failed, the runs must have identical summaries, and the
# summary must equal the sums of the per-patient results; otherwise exit 1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
ecqm="$repo/../shared/ecqm"

N=1000000
CHUNK=50000
MEASURE=CMS125FHIRBreastCancerScreening
WORKERS=2,1
WARMUP=2
PORT=5533
SB=4GB
INSTALL=1
OUT=
INNER=0
while [ $# -gt 0 ]; do
    case "$1" in
        -n) N=$2; shift ;;
        --chunk) CHUNK=$2; shift ;;
        --measure) MEASURE=$2; shift ;;
        --workers) WORKERS=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --port) PORT=$2; shift ;;
        --shared-buffers) SB=$2; shift ;;
        --no-install) INSTALL=0 ;;
        --out) OUT=$2; shift ;;
        --inner) INNER=1 ;;
        -h|--help) sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "million: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[[ "$N" =~ ^[1-9][0-9]*$ && "$CHUNK" =~ ^[1-9][0-9]*$ ]] \
    || { echo "million: -n and --chunk take positive integers" >&2; exit 2; }
[[ "$WORKERS" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] \
    || { echo "million: --workers takes a comma-separated list of positive integers" >&2; exit 2; }
[[ "$WARMUP" =~ ^[0-9]+$ ]] || { echo "million: --warmup takes a number of workers (0: no warm-up run)" >&2; exit 2; }
[ "$PORT" != 5499 ] || { echo "million: port 5499 belongs to a colleague's cluster" >&2; exit 2; }
[ -d "$ecqm" ] || { echo "million: $ecqm is absent: nothing to run" >&2; exit 1; }
ecqm=$(cd "$ecqm" && pwd)
mdir=
for d in "$ecqm"/"$MEASURE"*/; do
    [ -f "$d/measure.json" ] && { mdir=${d%/}; break; }
done
[ -n "$mdir" ] || { echo "million: no measure folder $ecqm/$MEASURE*" >&2; exit 1; }

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------- outer: cluster
if [ "$INNER" = 0 ]; then
    if [ "$INSTALL" = 1 ]; then
        log "build and install"
        make -s -C "$repo" -j"$(nproc 2>/dev/null || echo 2)" PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
        make -s -C "$repo" install PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
    fi
    log "throwaway cluster on port $PORT (pg_virtualenv), shared_buffers=$SB"
    args=(-n "$N" --chunk "$CHUNK" --measure "$(basename "$mdir")" --workers "$WORKERS" --warmup "$WARMUP" --inner)
    [ -n "$OUT" ] && args+=(--out "$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")")
    PGPORT=$PORT exec pg_virtualenv -t -v 15 \
        -o shared_preload_libraries=pg_hedis -o max_worker_processes=16 \
        -o shared_buffers="$SB" -o max_wal_size=16GB -o checkpoint_timeout=30min \
        -o hedis.max_workers=2 \
        "$0" "${args[@]}"
fi

# ---------------------------------------------------------------- inner: the benchmark
DB=pg_hedis_million
SCRATCH=$(mktemp -d -t pg_hedis_million.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
PSQL=(psql -X -q -v ON_ERROR_STOP=1 --no-psqlrc -d "$DB")
Q() { "${PSQL[@]}" -A -t -c "$1"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
logfile=$(pg_lsclusters -h 2>/dev/null | awk '{ print $7 }' | head -1)
measure_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$mdir/measure.json" 2>/dev/null \
              || sed -n 's/^  "url" *: *"\([^"]*\)".*/\1/p' "$mdir/measure.json" | head -1)
results=()   # markdown lines
say() { echo "$*"; results+=("$*"); }

shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
load_resource_sql() {
    printf '\\set content `cat %s`\n' "$(shq "$1")"
    printf "SELECT hedis.load_bundle(jsonb_build_object('resourceType', 'Bundle', 'type', 'collection', 'entry', jsonb_build_array(jsonb_build_object('resource', :'content'::jsonb))));\n"
}

cpus=$(nproc 2>/dev/null || echo '?')
log "server $(psql -X -A -t -d postgres -c 'SHOW server_version'), $cpus CPUs, port $PGPORT, log $logfile"
createdb "$DB"
"${PSQL[@]}" -c 'CREATE EXTENSION pg_hedis'

t0=$(now)
{
    echo "BEGIN;"
    for f in "$ecqm"/libraries/*.json "$mdir/measure.json"; do load_resource_sql "$f"; done
    printf '\\set content `cat %s`\n' "$(shq "$mdir/valuesets.json")"
    echo "SELECT hedis.load_bundle(:'content'::jsonb);"
    echo "COMMIT;"
} | "${PSQL[@]}" -o /dev/null
log "loaded $(basename "$mdir") and the libraries in $(secs "$t0" "$(now)") s"

# ---- sampler: every second, /proc of every run worker (and of the generating backend)
# line: epoch pid VmRSS_kB VmHWM_kB RssAnon_kB cpu_ticks label...
#
# Each sampler is one psql connection re-running its query (\watch): spawning a
# psql five times a second took CPU from the workers being measured, and more
# so with two workers on two cores than with one (it biased the scaling).
sampler() {
    local out=$1 stop=$2 watcher
    set +e +o pipefail
    psql -X -A -t -F '|' -d "$DB" 2>/dev/null > >(sample_proc >> "$out") <<< \
        "SELECT pid, coalesce(nullif(application_name, ''), backend_type) FROM pg_stat_activity
          WHERE backend_type = 'pg_hedis run worker' OR application_name = 'million_gen' \\watch 1" &
    watcher=$!
    while [ ! -e "$stop" ]; do sleep 1; done
    kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null
}
# "pid|label" lines in, one /proc sample per line out
sample_proc() {
    local pid label f
    while IFS='|' read -r pid label; do
        f=/proc/$pid/status
        [ -r "$f" ] || continue
        awk -v t="$(date +%s)" -v pid="$pid" -v label="$label" \
            -v cpu="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }')" \
            '$1 == "VmRSS:" { rss = $2 } $1 == "VmHWM:" { hwm = $2 } $1 == "RssAnon:" { anon = $2 }
             END { if (rss != "") print t, pid, rss, hwm, anon, cpu, label }' "$f"
    done
}
# every second: the wait event of every run worker ("running" when none).
# Sampling costs CPU the two workers of a two-worker run need (both CPUs are
# theirs; a one-worker run leaves one free): at 5 Hz the samplers took 9 %
# of a CPU and lowered the measured scaling by 2-3 % (bench/README.md).
wait_sampler() {
    local out=$1 stop=$2 watcher
    set +e +o pipefail
    psql -X -A -t -d "$DB" >> "$out" 2>/dev/null <<< \
        "SELECT coalesce(wait_event_type || ':' || wait_event, 'running') FROM pg_stat_activity
          WHERE backend_type = 'pg_hedis run worker' \\watch 1" &
    watcher=$!
    while [ ! -e "$stop" ]; do sleep 1; done
    kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null
}
start_sampler() {
    rm -f "$SCRATCH/stop"; : > "$1"; : > "$1.waits"
    sampler "$1" "$SCRATCH/stop" & sampler_pid=$!
    wait_sampler "$1.waits" "$SCRATCH/stop" & wait_sampler_pid=$!
}
stop_sampler() { touch "$SCRATCH/stop"; wait "$sampler_pid" "$wait_sampler_pid" 2>/dev/null || true; }
# the three most frequent wait states of the run workers, in % of samples
top_waits() {
    sort "$1" | uniq -c | sort -rn | awk '{ n[NR] = $1; w[NR] = $2; t += $1 }
        END { for (i = 1; i <= 3 && i <= NR; i++) printf "%s%s %.0f %%", (i > 1 ? ", " : ""), w[i], 100 * n[i] / t }'
}
# per pid: peak VmHWM, peak VmRSS, peak RssAnon (MB), CPU s, label
peaks() {
    awk -v hz="$(getconf CLK_TCK)" '{
            pid = $2; lab = ""; for (i = 7; i <= NF; i++) lab = lab (i > 7 ? " " : "") $i
            if ($3 > rss[pid]) rss[pid] = $3; if ($4 > hwm[pid]) hwm[pid] = $4
            if ($5 > anon[pid]) anon[pid] = $5; cpu[pid] = $6; label[pid] = lab }
         END { for (p in rss) printf "%s\t%.0f\t%.0f\t%.0f\t%.1f\t%s\n", p, hwm[p] / 1024, rss[p] / 1024,
                                     anon[p] / 1024, cpu[p] / hz, label[p] }' "$1" | sort -t$'\t' -k6
}

# ---- generation
say "## Million-patient run: $(date -u +%Y-%m-%d) — $(basename "$mdir"), $N patients"
say ""
say "- machine: $cpus CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); PostgreSQL $(psql -X -A -t -d postgres -c 'SHOW server_version'); shared_buffers $(Q 'SHOW shared_buffers'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
start_sampler "$SCRATCH/gen.samples"
tg=$(now)
done_n=0; seed=0
while [ "$done_n" -lt "$N" ]; do
    seed=$((seed + 1))
    n=$CHUNK; [ $((done_n + n)) -gt "$N" ] && n=$((N - done_n))
    tc=$(now)
    res=$(PGAPPNAME=million_gen Q "SELECT hedis.generate_population($n, $seed)")
    done_n=$((done_n + n))
    secs "$tc" "$(now)" >> "$SCRATCH/chunks"; echo >> "$SCRATCH/chunks"
    el=$(secs "$tg" "$(now)")
    log "generated $done_n / $N patients (chunk seed $seed: $n patients, $res resources, $(secs "$tc" "$(now)") s; $(awk -v n="$done_n" -v s="$el" 'BEGIN { printf "%.0f", n / s }') patients/s overall)"
done
stop_sampler
gen_s=$(secs "$tg" "$(now)")
gen_mem=$(peaks "$SCRATCH/gen.samples" | awk -F'\t' '{ if ($2 > h) h = $2; if ($4 > a) a = $4 } END { printf "peak VmHWM %s MB, peak RssAnon %s MB", h, a }')
gen_cpu=$(peaks "$SCRATCH/gen.samples" | awk -F'\t' '{ s += $5 } END { printf "%.0f", s }')
tv=$(now)
Q "VACUUM (ANALYZE) hedis.patient, hedis.resource" >/dev/null
vac_s=$(secs "$tv" "$(now)")
# the runs start on a quiet machine: the generation leaves gigabytes of dirty
# pages, whose writeback took CPU and I/O from the first run (x1.50-1.54 for
# the first pair of runs, x1.70-1.76 for the second, in three invocations)
tq=$(now)
Q "CHECKPOINT" >/dev/null
sync
log "checkpoint and sync before the runs: $(secs "$tq" "$(now)") s"
npat=$(Q "SELECT count(*) FROM hedis.patient")
nres=$(Q "SELECT count(*) FROM hedis.resource")
say "- generation: $npat patients, $nres resources in $gen_s s = **$(awk -v n="$npat" -v s="$gen_s" 'BEGIN { printf "%.0f", n / s }') patients/s**; fastest chunk $(sort -n "$SCRATCH/chunks" | head -1) s, slowest $(sort -n "$SCRATCH/chunks" | tail -1) s; backend CPU ~$gen_cpu s = $(awk -v n="$npat" -v s="$gen_cpu" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "?" }') patients/CPU-s (chunks of $CHUNK, one backend; generating backend: $gen_mem); VACUUM ANALYZE $vac_s s; database $(Q "SELECT pg_size_pretty(pg_database_size(current_database()))")"

# ---- the runs
IFS=, read -r -a worker_list <<< "$WORKERS"
# the warm-up run (label w) first, then the measured ones (label m)
plan=()
[ "$WARMUP" -gt 0 ] && plan+=("$WARMUP:w")
for w in "${worker_list[@]}"; do plan+=("$w:m"); done
run_ids=()
walls=()   # "workers wall" of the measured runs, in order
say ""
say "| run | hedis.max_workers | workers | wall s | patients/s | patients/s, slowest-fastest 10 s window | worker CPU s | patients/CPU-s | peak VmHWM per worker MB | peak RssAnon per worker MB | memory contexts at 50 % (MB) | worker states (1 Hz samples) |"
say "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|"
for entry in "${plan[@]}"; do
    w=${entry%:*}; kind=${entry#*:}
    psql -X -q -d postgres -c "ALTER SYSTEM SET hedis.max_workers = $w" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 2   # the scheduler reads the setting when it dispatches a run
    start_sampler "$SCRATCH/run.samples"
    tr=$(now)
    rid=$(Q "SELECT hedis.run('$measure_url', '2026-01-01', '2026-12-31')")
    run_ids+=("$rid")
    logged=0; last=-1
    : > "$SCRATCH/progress"
    while :; do
        IFS='|' read -r st done_p total pct < <(Q "SELECT status, patients_done, coalesce(patients_total, 0), coalesce(percent_done, 0) FROM hedis.runs WHERE run_id = $rid")
        echo "$(now) $done_p" >> "$SCRATCH/progress"
        [ "$st" = queued ] || [ "$st" = running ] || break
        if [ "$logged" = 0 ] && awk -v p="$pct" 'BEGIN { exit !(p >= 50) }'; then
            Q "SELECT pg_log_backend_memory_contexts(pid) FROM pg_stat_activity WHERE backend_type = 'pg_hedis run worker'" >/dev/null || true
            logged=1
        fi
        if [ "$((SECONDS / 15))" != "$last" ]; then
            last=$((SECONDS / 15)); log "run $rid ($w workers): $st, $done_p / $total ($pct %)"
        fi
        sleep 1
    done
    wall=$(secs "$tr" "$(now)")
    stop_sampler
    IFS='|' read -r st workers done_p total failed rwall < <(Q "SELECT status, workers, patients_done, patients_total, patients_failed, round(extract(epoch FROM finished_at - started_at)::numeric, 1) FROM hedis.run WHERE run_id = $rid")
    log "run $rid: $st, $done_p / $total patients, $failed failed, $rwall s between start and finish ($wall s from queueing)"
    if [ "$st" != done ] || [ "$done_p" != "$npat" ] || [ "$total" != "$npat" ] || [ "$failed" != 0 ]; then
        log "run $rid did not evaluate every patient without error: status $st, $done_p / $total, $failed failed"
        Q "SELECT error, count(*) FROM hedis.run_result WHERE run_id = $rid AND error IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 5" >&2 || true
        exit 1
    fi
    # slowest and fastest 10-second window of the run (a stall shows here)
    windows=$(awk '$2 > 0 { t[n] = $1; d[n] = $2; n++ }
                   END { j = 0; min = -1; max = 0
                         for (i = 0; i < n; i++) {
                             while (j < i && t[i] - t[j] > 10) j++
                             if (t[i] - t[j] >= 9 && i > j) {
                                 r = (d[i] - d[j]) / (t[i] - t[j])
                                 if (min < 0 || r < min) min = r; if (r > max) max = r } }
                         if (min < 0) print "?"; else printf "%.0f-%.0f", min, max }' "$SCRATCH/progress")
    pk=$(peaks "$SCRATCH/run.samples")
    echo "$pk" | sed 's/^/    pid\/HWM\/RSS\/anon MB\/CPU s: /' >&2
    cpu=$(echo "$pk" | awk -F'\t' '{ s += $5 } END { printf "%.1f", s }')
    hwm=$(echo "$pk" | awk -F'\t' '{ printf "%s%s", (NR > 1 ? ", " : ""), $2 }')
    anon=$(echo "$pk" | awk -F'\t' '{ printf "%s%s", (NR > 1 ? ", " : ""), $4 }')
    ctx=
    if [ -n "$logfile" ] && [ -r "$logfile" ]; then
        for pid in $(echo "$pk" | cut -f1); do
            g=$(grep "\[$pid\]" "$logfile" | grep 'Grand total' | tail -1 | sed -n 's/.*Grand total: \([0-9]*\) bytes.*/\1/p' || true)
            [ -n "$g" ] && ctx="$ctx${ctx:+, }$(awk -v b="$g" 'BEGIN { printf "%.1f", b / 1048576 }')"
        done
    fi
    waits=$(top_waits "$SCRATCH/run.samples.waits")
    log "run $rid worker states: $waits"
    label=$rid; [ "$kind" = w ] && label="$rid (warm-up)"
    [ "$kind" = m ] && walls+=("$w $rwall")
    say "| $label | $w | $workers | $rwall | **$(awk -v n="$npat" -v s="$rwall" 'BEGIN { printf "%.0f", n / s }')** | $windows | $cpu | $(awk -v n="$npat" -v s="$cpu" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "?" }') | $hwm | $anon | ${ctx:-?} | $waits |"
    tv=$(now)
    Q "VACUUM (ANALYZE) hedis.run_patient, hedis.run_outcome, hedis.run_summary_part" >/dev/null
    Q "CHECKPOINT" >/dev/null
    sync
    log "VACUUM ANALYZE of the results, checkpoint and sync: $(secs "$tv" "$(now)") s"
done

# ---- correctness at this scale
first=${run_ids[0]}
bad=0
for rid in "${run_ids[@]:1}"; do
    d=$(Q "SELECT count(*) FROM (
             (SELECT group_index, stratifier, stratum, population, count, patients FROM hedis.run_summary WHERE run_id = $first
              EXCEPT ALL
              SELECT group_index, stratifier, stratum, population, count, patients FROM hedis.run_summary WHERE run_id = $rid)
             UNION ALL
             (SELECT group_index, stratifier, stratum, population, count, patients FROM hedis.run_summary WHERE run_id = $rid
              EXCEPT ALL
              SELECT group_index, stratifier, stratum, population, count, patients FROM hedis.run_summary WHERE run_id = $first)) d")
    [ "$d" = 0 ] || { log "runs $first and $rid: $d summary rows differ"; bad=1; }
done
d=$(Q "SELECT count(*) FROM (
         (SELECT group_index, population, count FROM hedis.run_summary WHERE run_id = $first AND stratifier = ''
          EXCEPT ALL
          SELECT (g.idx - 1)::int, p.key, sum(p.value::bigint)
            FROM hedis.run_result r, jsonb_array_elements(r.result->'groups') WITH ORDINALITY g(grp, idx),
                 jsonb_each_text(g.grp->'populations') p(key, value)
           WHERE r.run_id = $first GROUP BY 1, 2)
         UNION ALL
         (SELECT (g.idx - 1)::int, p.key, sum(p.value::bigint)
            FROM hedis.run_result r, jsonb_array_elements(r.result->'groups') WITH ORDINALITY g(grp, idx),
                 jsonb_each_text(g.grp->'populations') p(key, value)
           WHERE r.run_id = $first GROUP BY 1, 2
          EXCEPT ALL
          SELECT group_index, population, count FROM hedis.run_summary WHERE run_id = $first AND stratifier = '')) d")
[ "$d" = 0 ] || { log "run $first: $d summary rows differ from the sums of its results"; bad=1; }
counts=$(Q "SELECT string_agg(population || ' ' || count, ', ' ORDER BY population) FROM hedis.run_summary WHERE run_id = $first AND stratifier = ''")
rate=$(Q "SELECT rate FROM hedis.runs WHERE run_id = $first")
say ""
say "- populations: $counts; rate $rate"
# scaling: each two-worker run against the one-worker run right after it
pairs=$(printf '%s\n' "${walls[@]}" | awk '
    { w[NR] = $1; s[NR] = $2 }
    END { for (i = 1; i < NR; i++) if (w[i] == 2 && w[i + 1] == 1 && s[i] > 0) {
              r = s[i + 1] / s[i]; out = out (n++ ? ", " : "") sprintf("x%.2f", r); t1 += s[i + 1]; t2 += s[i] }
          if (n) printf "%s; over the %d pairs x%.2f", out, n, t1 / t2 }')
[ -n "$pairs" ] && say "- scaling, each two-worker run against the one-worker run after it (warm-up excluded): $pairs"
if [ "$bad" = 0 ]; then
    say "- every run: all $npat patients evaluated, 0 errors; identical summaries across the runs; summary = sums of the per-patient results"
else
    say "- CHECK FAILED: see the log above"
fi
say "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "$OUT" ]; then printf '%s\n' "${results[@]}" > "$OUT"; fi
exit "$bad"
