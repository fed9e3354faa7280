-- bench/sql/setup.sql: helpers of bench/run.sh, in schema bench of the
-- benchmark database (never part of the extension).
CREATE SCHEMA bench;

-- The patients of the benchmark: measure folder name, copy (0 = the official
-- test patient, k > 0 = replicate.js copy "-rK"), FHIR id, store key.
CREATE TABLE bench.patient_set (
    measure     text NOT NULL,
    copy        int NOT NULL,
    fhir_id     text NOT NULL PRIMARY KEY,
    patient_key bigint
);
CREATE TABLE bench.stage (measure text, copy int, fhir_id text, bundle text);

-- CPU time (user + system, seconds) this backend has used so far, from
-- /proc/self/stat (fields 14 and 15, in clock ticks of 1/100 s).  The
-- benchmark statements run long enough (>= 1 s) for the tick to be < 1 %.
CREATE FUNCTION bench.cpu_seconds() RETURNS double precision
LANGUAGE sql VOLATILE AS $$
    SELECT (f[12]::bigint + f[13]::bigint) / 100.0
      FROM (SELECT string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ') AS f) s
$$;

-- Run one SQL statement, return its CPU and wall seconds in this backend and
-- the first column of its (single-row) result as text.
CREATE FUNCTION bench.time_statement(stmt text, OUT cpu_s double precision,
                                     OUT wall_s double precision, OUT result text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    c0 double precision;
    t0 timestamptz;
BEGIN
    c0 := bench.cpu_seconds();
    t0 := clock_timestamp();
    EXECUTE stmt INTO result;
    wall_s := extract(epoch FROM clock_timestamp() - t0);
    cpu_s := bench.cpu_seconds() - c0;
END
$$;

-- A results table the report is built from.
CREATE TABLE bench.result (
    item      text PRIMARY KEY,
    value     double precision,
    detail    text
);

-- Throughput of a statement whose single result is the number of items it
-- processed (patient-evaluations, patients read, ...).  A first execution
-- warms the backend's caches (compiled ELM, value sets, buffers) and is not
-- counted.  Then the statement is repeated until it has used >= min_cpu_s of
-- CPU (the /proc tick is 10 ms): inside the statement when it contains
-- {REPS} (a generate_series multiplier: still ONE statement), else by
-- executing it again.
CREATE FUNCTION bench.throughput(stmt text, min_cpu_s double precision DEFAULT 1.0,
        OUT items bigint, OUT cpu_s double precision, OUT wall_s double precision,
        OUT per_cpu_s double precision, OUT statements int)
LANGUAGE plpgsql VOLATILE
SET enable_memoize = off      -- every repetition must really read the rows
AS $$
DECLARE
    t record;
    reps int := 1;
    in_stmt boolean := position('{REPS}' IN stmt) > 0;
    c0 double precision;
    w0 timestamptz;
BEGIN
    PERFORM bench.time_statement(replace(stmt, '{REPS}', '1'));      -- warm-up
    LOOP
        c0 := bench.cpu_seconds();
        w0 := clock_timestamp();
        items := 0;
        IF in_stmt THEN
            t := bench.time_statement(replace(stmt, '{REPS}', reps::text));
            items := t.result::bigint;
            statements := 1;
        ELSE
            FOR i IN 1 .. reps LOOP
                t := bench.time_statement(stmt);
                items := items + t.result::bigint;
            END LOOP;
            statements := reps;
        END IF;
        cpu_s := round((bench.cpu_seconds() - c0)::numeric, 2);
        wall_s := extract(epoch FROM clock_timestamp() - w0);
        EXIT WHEN cpu_s >= min_cpu_s OR reps >= 100000;
        reps := reps * greatest(2, ceil(min_cpu_s * 1.2 / greatest(cpu_s, 0.01))::int);
    END LOOP;
    per_cpu_s := items / nullif(cpu_s, 0);
END
$$;

-- hedis.evaluate_patient_result over the patients of bench.patient_set that
-- match (measure LIKE measure_like, copy BETWEEN c0 AND c1), all in one
-- statement; evaluated_measure NULL: each patient with its own measure.
CREATE FUNCTION bench.engine_statement(measure_like text, c0 int, c1 int,
                                       evaluated_measure text DEFAULT NULL)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($q$SELECT count(hedis.evaluate_patient_result(coalesce(%L, p.measure), p.patient_key,
                          '2026-01-01'::date, '2026-12-31'::date))
                   FROM generate_series(1, {REPS}) g, bench.patient_set p
                  WHERE p.measure LIKE %L AND p.copy BETWEEN %s AND %s$q$,
                  evaluated_measure, measure_like, c0, c1)
$$;

-- The engine's set-based form, hedis.evaluate_population, over every patient
-- of the database, {REPS} times: the period's start depends on the
-- repetition, so that the function is called again each time rather than
-- its rows read again from the function scan's store.
CREATE FUNCTION bench.population_statement(measure text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($q$SELECT count(e.result)
                   FROM generate_series(1, {REPS}) g,
                        LATERAL hedis.evaluate_population(%L, '2026-01-01'::date + 0 * g,
                                                          '2026-12-31'::date) e$q$, measure)
$$;

-- The floor: read the same patients' resources, patient by patient, through
-- the (patient_key, resource_type, fhir_id) index as the engine does, with
-- one jsonb key access per resource (detoasts it).  Counts patients.
CREATE FUNCTION bench.floor_statement(measure_like text, c0 int, c1 int)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($q$SELECT count(x.b)  -- x.b: forces reading the resources
                   FROM generate_series(1, {REPS}) g, bench.patient_set p
                   CROSS JOIN LATERAL (
                       SELECT count(*) AS n, sum(length(r.resource->>'resourceType')) AS b
                         FROM hedis.resource r
                        WHERE r.patient_key = p.patient_key AND g.g > 0) x
                  WHERE p.measure LIKE %L AND p.copy BETWEEN %s AND %s$q$,
                  measure_like, c0, c1)
$$;

-- The floor of what the engine has to read: the same without the test decks'
-- expected-result MeasureReports, which are stored in the patients'
-- compartments but which no measure retrieves (the engine skips their rows
-- without detoasting them; 45 % of them are compressed, and decompressing
-- them is most of the plain floor's cost).
CREATE FUNCTION bench.floor_clinical_statement(measure_like text, c0 int, c1 int)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT replace(bench.floor_statement(measure_like, c0, c1), 'AND g.g > 0',
                   'AND g.g > 0 AND r.resource_type <> ''MeasureReport''')
$$;

-- Same, serialising every resource to text (a heavier floor: what reading
-- the documents costs when all of each is looked at).
CREATE FUNCTION bench.floor_text_statement(measure_like text, c0 int, c1 int)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($q$SELECT count(x.b)  -- x.b: forces reading the resources
                   FROM generate_series(1, {REPS}) g, bench.patient_set p
                   CROSS JOIN LATERAL (
                       SELECT count(*) AS n, sum(length(r.resource::text)) AS b
                         FROM hedis.resource r
                        WHERE r.patient_key = p.patient_key AND g.g > 0) x
                  WHERE p.measure LIKE %L AND p.copy BETWEEN %s AND %s$q$,
                  measure_like, c0, c1)
$$;

-- (handwritten.cms125 comes from bench/sql/cms125_handwritten.sql, loaded later)
SET check_function_bodies = off;
-- Per-patient populations of the engine (CMS125) vs handwritten.cms125, for
-- the patients of bench.patient_set; one row per differing patient.
CREATE FUNCTION bench.cms125_mismatches()
RETURNS TABLE (fhir_id text, copy int, own_measure text, engine jsonb, handwritten jsonb)
LANGUAGE sql VOLATILE AS $$
    WITH e AS (
        SELECT p.fhir_id, p.copy, p.measure, p.patient_key,
               hedis.evaluate_patient_result('CMS125FHIRBreastCancerScreening', p.patient_key,
                                             '2026-01-01', '2026-12-31')->'groups'->0->'populations' AS pops
          FROM bench.patient_set p),
    h AS (SELECT * FROM handwritten.cms125('2026-01-01', '2026-12-31'))
    SELECT e.fhir_id, e.copy, e.measure,
           jsonb_build_object('IP', (e.pops->>'initial-population')::int > 0,
                              'DENOM', (e.pops->>'denominator')::int > 0,
                              'DENEX', (e.pops->>'denominator-exclusion')::int > 0,
                              'NUMER', (e.pops->>'numerator')::int > 0),
           jsonb_build_object('IP', h.initial_population, 'DENOM', h.denominator,
                              'DENEX', h.denominator_exclusion, 'NUMER', h.numerator)
      FROM e LEFT JOIN h USING (patient_key)
     WHERE (e.pops->>'initial-population')::int > 0 IS DISTINCT FROM h.initial_population
        OR (e.pops->>'denominator')::int > 0 IS DISTINCT FROM h.denominator
        OR (e.pops->>'denominator-exclusion')::int > 0 IS DISTINCT FROM h.denominator_exclusion
        OR (e.pops->>'numerator')::int > 0 IS DISTINCT FROM h.numerator
     ORDER BY e.copy, e.fhir_id
$$;
