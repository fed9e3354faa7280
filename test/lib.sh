# test/lib.sh — what the shell suites over ../shared/ecqm share (conformance,
# differential, scale).  Sourced, never run: run_suites.sh runs test/*/run.sh.
#
# A suite sets `suite` (its name, for messages), `verbose` and `filter`, then:
#   ecqm_or_skip            ../shared/ecqm absolute, or "suite skipped" + exit 0
#   select_measures         measures=(every measure folder matching $filter)
#   fresh_database DB       drop, create, CREATE EXTENSION pg_hedis; PGDATABASE=DB
#   load_resource_sql FILE  psql lines loading a non-Bundle resource file
#   libraries_sql           psql lines loading every shared library, in one transaction
#   load_libraries N WHAT   run them; on failure all N cases (WHAT: "case") fail
#   guarded_evaluate_sql    psql lines defining pg_temp.guarded_evaluate(measure,
#                           patient, start, end) -> (report, error): hedis.evaluate
#                           with an error caught, so that it fails one case only
# Setup failures print the suite's summary line ("0 passed, 1 failed") and exit 1,
# as run_suites.sh expects of every suite.

test_lib_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ecqm="$test_lib_repo/../shared/ecqm"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 --no-psqlrc)

say() { [ "${verbose:-0}" -eq 1 ] && echo "$@"; return 0; }

# psql quoting of a file name inside a backtick command: single quotes for the shell
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

setup_failed() {
    echo "$suite: $*"
    echo "0 passed, 1 failed"
    exit 1
}

ecqm_or_skip() {
    if [ ! -d "$ecqm" ]; then
        echo "$suite: $ecqm is absent: suite skipped"
        echo "0 passed, 0 failed"
        exit 0
    fi
    ecqm=$(cd "$ecqm" && pwd)
}

select_measures() {
    local dir name
    measures=()
    for dir in "$ecqm"/*/; do
        dir=${dir%/}
        [ -f "$dir/measure.json" ] || continue
        name=$(basename "$dir")
        if [ -n "${filter:-}" ] && [[ "$name" != *"$filter"* ]]; then continue; fi
        measures+=("$dir")
    done
    if [ ${#measures[@]} -eq 0 ]; then
        echo "$suite: no measure folder in $ecqm matches '${filter:-}'"
        echo "0 passed, 0 failed"
        exit 1
    fi
}

fresh_database() {
    local db=$1 err
    export PGDATABASE=${PGDATABASE:-postgres}
    dropdb --if-exists "$db" >/dev/null 2>&1
    createdb "$db" || setup_failed "cannot create database $db"
    export PGDATABASE=$db
    if ! err=$("${PSQL[@]}" -c 'CREATE EXTENSION IF NOT EXISTS pg_hedis' 2>&1); then
        setup_failed "CREATE EXTENSION pg_hedis failed: $err"
    fi
}

load_resource_sql() {
    printf '\\set content `cat %s`\n' "$(shq "$1")"
    printf "SELECT hedis.load_bundle(jsonb_build_object('resourceType', 'Bundle', 'type', 'collection', 'entry', jsonb_build_array(jsonb_build_object('resource', :'content'::jsonb))));\n"
}

libraries_sql() {
    local f
    echo "BEGIN;"
    for f in "$ecqm"/libraries/*.json; do
        [ -f "$f" ] && load_resource_sql "$f"
    done
    echo "COMMIT;"
}

load_libraries() {
    local total=$1 what=$2 err
    say "$suite: loading libraries from $ecqm/libraries"
    if ! err=$(libraries_sql | "${PSQL[@]}" -o /dev/null 2>&1); then
        echo "$suite: loading the libraries failed (every $what counts as failed): $err"
        echo "0 passed, $total failed"
        exit 1
    fi
}

guarded_evaluate_sql() {
    cat <<'SQL'
CREATE FUNCTION pg_temp.guarded_evaluate(measure text, patient text, period_start date,
                                         period_end date, OUT report jsonb, OUT error text)
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE 'SELECT hedis.evaluate($1, $2, $3, $4)' INTO report
        USING measure, patient, period_start, period_end;
EXCEPTION WHEN OTHERS THEN
    error := SQLERRM || ' (SQLSTATE ' || SQLSTATE || ')';
END
$fn$;
SQL
}
