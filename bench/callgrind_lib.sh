# Sourced by bench/run.sh and bench/callgrind_eval.sh.
#
# as_data_owner DATADIR COMMAND...
#   Runs the command as the owner of the data directory when run as root.
as_data_owner() {
    local data=$1
    shift
    if [ "$(id -u)" = 0 ]; then runuser -u "$(stat -c %U "$data")" -- "$@"; else "$@"; fi
}

# callgrind_collect PREFIX DATADIR STATEMENT...
#   Runs `postgres --single` on DATADIR (its server stopped) under callgrind,
#   fed the statements one per line, as the data directory's owner when run
#   as root; prints the instructions collected.  Leaves PREFIX.sql, .out
#   (callgrind's file), .stdout and .log behind; PREFIX's folder must be
#   writable by that owner.
callgrind_collect() {
    local prefix=$1 data=$2
    shift 2
    local bin
    bin=$(/usr/lib/postgresql/15/bin/pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
    printf '%s\n' "$@" > "$prefix.sql"
    chmod a+r "$prefix.sql"
    as_data_owner "$data" valgrind --tool=callgrind --callgrind-out-file="$prefix.out" \
        "$bin/postgres" --single -D "$data" -c shared_preload_libraries=pg_hedis -c jit=off \
        -c enable_memoize=off bench < "$prefix.sql" > "$prefix.stdout" 2> "$prefix.log"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$prefix.log"
}
