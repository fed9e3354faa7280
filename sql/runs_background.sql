-- runs_background: population runs end to end.  NEEDS THE MEASURE ENGINE
-- (src/engine) and shared_preload_libraries = pg_hedis; reads the CMS125
-- package from ../shared/ecqm (HEDIS_ECQM), and skips when it is absent
-- (expected/runs_background_1.out).  Measure-agnostic checks: a background
-- run gives exactly the results of hedis.run_now(); summaries are the sums of
-- the per-patient results; priorities order the queue; a cancelled run
-- resumes without mixing attempts; replicated patients multiply the counts;
-- memory does not grow with the population.
SET client_min_messages = warning;
\getenv ecqm HEDIS_ECQM
\if :{?ecqm}
\else
\set ecqm ''
\endif
SELECT :'ecqm' <> '' AS have_ecqm \gset
\if :have_ecqm
\else
SELECT 'skipped: ../shared/ecqm is absent' AS runs_background;
\quit
\endif
-- the CMS125 package: value sets, every library, the measure
SELECT sum(hedis.load_bundle(CASE WHEN d->>'resourceType' = 'Bundle' THEN d
           ELSE jsonb_build_object('resourceType', 'Bundle', 'type', 'collection',
                                   'entry', jsonb_build_array(jsonb_build_object('resource', d))) END)) > 0 AS loaded
  FROM (SELECT pg_read_file(:'ecqm' || '/CMS125FHIRBreastCancerScreening/valuesets.json')::jsonb AS d
        UNION ALL
        SELECT pg_read_file(:'ecqm' || '/CMS125FHIRBreastCancerScreening/measure.json')::jsonb
        UNION ALL
        SELECT pg_read_file(:'ecqm' || '/libraries/' || f)::jsonb
          FROM pg_ls_dir(:'ecqm' || '/libraries') f WHERE f LIKE '%.json') files;
\set measure 'https://madie.cms.gov/Measure/CMS125FHIRBreastCancerScreening'
-- the official test patients reach every population; generated ones add volume
SELECT sum(hedis.load_bundle(pg_read_file(:'ecqm' || '/CMS125FHIRBreastCancerScreening/tests/' || f)::jsonb)) > 0
       AS loaded_test_patients
  FROM pg_ls_dir(:'ecqm' || '/CMS125FHIRBreastCancerScreening/tests') f WHERE f LIKE '%.json';
SELECT hedis.generate_population(200, 125) > 200 AS generated;

CREATE FUNCTION pg_temp.wait_run(id bigint, seconds int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    s text;
BEGIN
    FOR i IN 1 .. seconds * 10 LOOP
        SELECT status INTO s FROM hedis.run WHERE run_id = id;
        EXIT WHEN s NOT IN ('queued', 'running');
        PERFORM pg_sleep(0.1);
    END LOOP;
    RETURN s;
END
$$;
-- results of run a that differ from those of run b, both ways
CREATE FUNCTION pg_temp.result_diff(a bigint, b bigint) RETURNS bigint
LANGUAGE sql AS $$
    SELECT count(*) FROM (
        (SELECT patient_key, result, error FROM hedis.run_result WHERE run_id = a
         EXCEPT ALL
         SELECT patient_key, result, error FROM hedis.run_result WHERE run_id = b)
        UNION ALL
        (SELECT patient_key, result, error FROM hedis.run_result WHERE run_id = b
         EXCEPT ALL
         SELECT patient_key, result, error FROM hedis.run_result WHERE run_id = a)) d
$$;
-- summary rows of run a that differ from those of run b, both ways
CREATE FUNCTION pg_temp.summary_diff(a bigint, b bigint) RETURNS bigint
LANGUAGE sql AS $$
    SELECT count(*) FROM (
        (SELECT group_index, stratifier, stratum, population, count, patients
           FROM hedis.run_summary WHERE run_id = a
         EXCEPT ALL
         SELECT group_index, stratifier, stratum, population, count, patients
           FROM hedis.run_summary WHERE run_id = b)
        UNION ALL
        (SELECT group_index, stratifier, stratum, population, count, patients
           FROM hedis.run_summary WHERE run_id = b
         EXCEPT ALL
         SELECT group_index, stratifier, stratum, population, count, patients
           FROM hedis.run_summary WHERE run_id = a)) d
$$;

-- ---------------------------------------------------------------- run_now
SELECT hedis.run_now(:'measure', '2026-01-01', '2026-12-31') AS r_now \gset
SELECT status, mode, patients_done = patients_total AS all_done,
       patients_total = (SELECT count(*) FROM hedis.patient) AS every_patient,
       patients_failed, rate IS NOT NULL AS has_rate
  FROM hedis.runs WHERE run_id = :r_now;
SELECT error, count(*) FROM hedis.run_result WHERE run_id = :r_now AND error IS NOT NULL GROUP BY 1;
-- the generated population exercises the measure: every population is reached
SELECT population, count > 0 AS reached FROM hedis.run_summary
 WHERE run_id = :r_now AND stratifier = '' ORDER BY population;
-- patient by patient, a population run gives what hedis.evaluate reports
SELECT count(*) AS patients_differing_from_evaluate
  FROM hedis.run_result r
 CROSS JOIN LATERAL hedis.evaluate(:'measure', r.patient_id, '2026-01-01', '2026-12-31') mr
 WHERE r.run_id = :r_now
   AND EXISTS (SELECT 1
                 FROM jsonb_array_elements(mr->'group') WITH ORDINALITY g(grp, gi),
                      jsonb_array_elements(g.grp->'population') p
                WHERE (r.result->'groups'->(gi::int - 1)->'populations'
                       ->>(p->'code'->'coding'->0->>'code'))::int
                      IS DISTINCT FROM (p->>'count')::int);
-- summary = the sums of the per-patient results (EXCEPT ALL both ways)
SELECT count(*) AS summary_mismatches FROM (
    (SELECT group_index, population, count FROM hedis.run_summary
      WHERE run_id = :r_now AND stratifier = ''
     EXCEPT ALL
     SELECT (g.idx - 1)::int, p.key, sum(p.value::bigint)
       FROM hedis.run_result r, jsonb_array_elements(r.result->'groups') WITH ORDINALITY g(grp, idx),
            jsonb_each_text(g.grp->'populations') p(key, value)
      WHERE r.run_id = :r_now GROUP BY 1, 2)
    UNION ALL
    (SELECT (g.idx - 1)::int, p.key, sum(p.value::bigint)
       FROM hedis.run_result r, jsonb_array_elements(r.result->'groups') WITH ORDINALITY g(grp, idx),
            jsonb_each_text(g.grp->'populations') p(key, value)
      WHERE r.run_id = :r_now GROUP BY 1, 2
     EXCEPT ALL
     SELECT group_index, population, count FROM hedis.run_summary
      WHERE run_id = :r_now AND stratifier = '')) d;
-- each stratifier partitions the group's populations
SELECT count(*) AS strata_mismatches FROM (
    SELECT s.group_index, s.stratifier, s.population, sum(s.count) AS c
      FROM hedis.run_summary s WHERE s.run_id = :r_now AND s.stratifier <> ''
     GROUP BY 1, 2, 3) st
  JOIN hedis.run_summary g ON g.run_id = :r_now AND g.stratifier = ''
   AND g.group_index = st.group_index AND g.population = st.population
 WHERE st.c <> g.count;
-- the MeasureReport carries the summary counts
SELECT count(*) AS report_mismatches
  FROM jsonb_array_elements(hedis.measure_report(:r_now)->'group') WITH ORDINALITY g(grp, idx),
       jsonb_array_elements(g.grp->'population') p
  JOIN hedis.run_summary s ON s.run_id = :r_now AND s.stratifier = ''
   AND s.population = p->'code'->'coding'->0->>'code'
 WHERE s.group_index = g.idx - 1 AND s.count <> (p->>'count')::bigint;

-- ---------------------------------------------------------------- background run
SELECT hedis.run(:'measure', '2026-01-01', '2026-12-31') AS r_bg \gset
SELECT pg_temp.wait_run(:r_bg, 300) AS status;
SELECT mode, patients_done = patients_total AS all_done, workers >= 1 AS had_workers,
       attempt, finished_at IS NOT NULL AS finished
  FROM hedis.run WHERE run_id = :r_bg;
SELECT count(*) AS workers_unfinished FROM hedis.run_worker WHERE run_id = :r_bg AND finished_at IS NULL;
SELECT pg_temp.result_diff(:r_now, :r_bg) AS results_differing_from_run_now,
       pg_temp.summary_diff(:r_now, :r_bg) AS summary_rows_differing;
-- results are stored once per distinct outcome: the patients share a few
SELECT count(DISTINCT outcome) * 10 < count(*) AS outcomes_shared,
       count(*) FILTER (WHERE result IS NOT NULL) AS inline_results
  FROM hedis.run_patient WHERE run_id = :r_bg;
-- an outcome's name already taken by another result in the run (a hash
-- collision, made by hand): its patients get their whole result inline, and
-- every result is still the one run_now gave
BEGIN;
SELECT hedis.run(:'measure', '2026-01-01', '2026-12-31') AS r_col \gset
INSERT INTO hedis.run_outcome (run_id, outcome, result)
SELECT :r_col, outcome, '{"groups": []}' FROM hedis.run_patient
 WHERE run_id = :r_bg GROUP BY outcome ORDER BY count(*) DESC LIMIT 1;
COMMIT;
SELECT pg_temp.wait_run(:r_col, 300) AS status;
SELECT count(*) FILTER (WHERE result IS NOT NULL) > 0 AS some_inline,
       count(*) FILTER (WHERE outcome IS NOT NULL) > 0 AS some_named
  FROM hedis.run_patient WHERE run_id = :r_col;
SELECT pg_temp.result_diff(:r_now, :r_col) AS results_differing_from_run_now,
       pg_temp.summary_diff(:r_now, :r_col) AS summary_rows_differing;

-- ---------------------------------------------------------------- priorities
-- queued together (one commit): the scheduler takes the highest priority first
BEGIN;
SELECT hedis.run(:'measure', '2026-01-01', '2026-12-31', 1) AS r_p1 \gset
SELECT hedis.run(:'measure', '2026-01-01', '2026-12-31', 9) AS r_p9 \gset
SELECT hedis.run(:'measure', '2026-01-01', '2026-12-31', 5) AS r_p5 \gset
COMMIT;
SELECT pg_temp.wait_run(:r_p1, 300), pg_temp.wait_run(:r_p9, 300), pg_temp.wait_run(:r_p5, 300);
SELECT priority FROM hedis.run WHERE run_id IN (:r_p1, :r_p9, :r_p5) ORDER BY started_at;
SELECT pg_temp.summary_diff(:r_now, :r_p1) + pg_temp.summary_diff(:r_now, :r_p9)
       + pg_temp.summary_diff(:r_now, :r_p5) AS summary_rows_differing;

-- ---------------------------------------------------------------- cancel, resume
SELECT hedis.run(:'measure', '2026-01-01', '2026-12-31') AS r_c \gset
CREATE TEMP TABLE cancelled_run AS SELECT :r_c::bigint AS id;
SELECT hedis.cancel_run(:r_c);
SELECT pg_temp.wait_run(:r_c, 10) AS status;
-- no worker keeps working on a cancelled run
DO $$
BEGIN
    FOR i IN 1 .. 300 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity
                               WHERE backend_type = 'pg_hedis run worker'
                                 AND application_name LIKE 'pg_hedis run ' || (SELECT id FROM cancelled_run) || ' %');
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT status, patients_done <= coalesce(patients_total, 0) AS partial FROM hedis.run WHERE run_id = :r_c;
SELECT hedis.resume_run(:r_c) AS attempt;
-- a patient whose evaluation fails gets its error, and the patients after
-- it in the batch (two failures in a row, one further on) are evaluated as
-- usual: the run goes on past an error inside a batch.  The three are of
-- the ages CMS125 reads (42 to 74): a patient outside them is screened out
-- by its hedis.patient.birth_date and never read (docs/engine.md), as a
-- fourth one shows, whose Patient resource is missing too
BEGIN;
CREATE TEMP TABLE broken AS
SELECT fhir_id, n
  FROM (SELECT fhir_id, row_number() OVER (ORDER BY patient_key) AS n
          FROM hedis.patient
         WHERE date_part('year', age('2026-12-31', birth_date)) BETWEEN 42 AND 74) p
 WHERE n IN (11, 12, 41)
UNION ALL
(SELECT fhir_id, 0 FROM hedis.patient
  WHERE date_part('year', age('2026-12-31', birth_date)) > 80 ORDER BY patient_key LIMIT 1);
DELETE FROM hedis.resource
 WHERE resource_type = 'Patient' AND fhir_id IN (SELECT fhir_id FROM broken);
SELECT hedis.run_now(:'measure', '2026-01-01', '2026-12-31') AS r_err \gset
SELECT patients_failed, patients_done = patients_total AS all_done FROM hedis.runs WHERE run_id = :r_err;
SELECT count(*) FILTER (WHERE error ~ '^P0002: patient with key [0-9]+ has no Patient resource$') AS missing_patient_errors,
       count(*) FILTER (WHERE result IS NOT NULL) = (SELECT count(*) - 3 FROM hedis.patient) AS others_evaluated
  FROM hedis.run_result WHERE run_id = :r_err;
SELECT r.error IS NULL AS screened_without_error,
       r.result->'groups'->0->'populations'->>'initial-population' AS initial_population
  FROM hedis.run_result r JOIN broken b ON b.fhir_id = r.patient_id
 WHERE r.run_id = :r_err AND b.n = 0;
SELECT count(*) AS others_differing_from_run_now
  FROM hedis.run_result e JOIN hedis.run_result n USING (patient_key)
 WHERE e.run_id = :r_err AND n.run_id = :r_now AND e.error IS NULL AND e.result <> n.result;
ROLLBACK;
SELECT pg_temp.wait_run(:r_c, 300) AS status;
SELECT attempt, patients_done = patients_total AS all_done,
       (SELECT count(*) FROM hedis.run_result r WHERE r.run_id = :r_c AND r.attempt <> hedis.run.attempt)
           AS results_of_other_attempts
  FROM hedis.run WHERE run_id = :r_c;
SELECT pg_temp.result_diff(:r_now, :r_c) AS results_differing_from_run_now,
       pg_temp.summary_diff(:r_now, :r_c) AS summary_rows_differing;
-- a restart is a new attempt with the same outcome
SELECT hedis.cancel_run(:r_c) AS cancelled_done_run;
UPDATE hedis.run SET status = 'interrupted' WHERE run_id = :r_c;
SELECT hedis.resume_run(:r_c, restart => true) AS attempt;
SELECT pg_temp.wait_run(:r_c, 300) AS status;
SELECT attempt, (SELECT count(*) FROM hedis.run_result r WHERE r.run_id = :r_c AND r.attempt <> 2)
           AS results_of_other_attempts,
       pg_temp.summary_diff(:r_now, :r_c) AS summary_rows_differing
  FROM hedis.run WHERE run_id = :r_c;
-- continuing an attempt that has results evaluates only the patients without
-- one (the workers of a new run skip that test): drop every other result,
-- as if the run had been interrupted half-way, and continue it
DELETE FROM hedis.run_patient WHERE run_id = :r_c AND patient_key % 2 = 0;
UPDATE hedis.run SET status = 'interrupted' WHERE run_id = :r_c;
SELECT hedis.resume_run(:r_c) AS attempt_continued;
SELECT pg_temp.wait_run(:r_c, 300) AS status;
SELECT patients_failed,
       (SELECT count(*) FROM hedis.run_result r WHERE r.run_id = :r_c) = patients_total AS one_result_per_patient,
       pg_temp.result_diff(:r_now, :r_c) AS results_differing_from_run_now
  FROM hedis.run WHERE run_id = :r_c;

-- ---------------------------------------------------------------- replicas, memory
-- memory of this backend after a run over the population (caches warm)
SELECT hedis.run_now(:'measure', '2026-01-01', '2026-12-31') IS NOT NULL AS ran_again;
SELECT sum(total_bytes) AS mem_after_first FROM pg_backend_memory_contexts \gset
-- two copies of every generated patient: each population count of the copies
-- is exactly twice that of the originals
SELECT hedis.replicate_patients(ARRAY(SELECT fhir_id FROM hedis.patient
                                       WHERE fhir_id ~ '^gen-125-[0-9]+$'), 2) > 0 AS replicated;
SELECT hedis.run_now(:'measure', '2026-01-01', '2026-12-31') AS r_rep \gset
SELECT count(*) AS populations_not_tripled FROM (
    SELECT p.key,
           sum(p.value::bigint) FILTER (WHERE r.patient_id ~ '^gen-125-[0-9]+$') AS orig,
           sum(p.value::bigint) FILTER (WHERE r.patient_id ~ '^gen-125-[0-9]+-copy[12]$') AS copies
      FROM hedis.run_result r, jsonb_array_elements(r.result->'groups') g,
           jsonb_each_text(g->'populations') p
     WHERE r.run_id = :r_rep GROUP BY 1) x
 WHERE copies IS DISTINCT FROM 2 * orig;
-- three times the patients, and this backend holds no more memory than
-- after the first run_now (within 1 MB): memory does not grow with the population
SELECT sum(total_bytes) - :mem_after_first < 1024 * 1024 AS memory_bounded
  FROM pg_backend_memory_contexts;

-- ---------------------------------------------------------------- units of keys
-- a run's patient keys are cut into units of hedis.run_batch_size keys that
-- the workers claim one at a time; units left empty by deleted patients (30
-- consecutive keys: more than four units of 7) are jumped over.  Small units
-- give every result of the big-unit run above, for the patients left.
DELETE FROM hedis.patient
 WHERE patient_key IN (SELECT patient_key FROM hedis.patient ORDER BY patient_key OFFSET 40 LIMIT 30);
SET hedis.run_batch_size = 7;
SELECT hedis.run_now(:'measure', '2026-01-01', '2026-12-31') AS r_small \gset
RESET hedis.run_batch_size;
ALTER SYSTEM SET hedis.run_batch_size = 7;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);			-- the scheduler reads the setting when it dispatches
SELECT hedis.run(:'measure', '2026-01-01', '2026-12-31') AS r_units \gset
SELECT pg_temp.wait_run(:r_units, 300) AS status;
ALTER SYSTEM RESET hedis.run_batch_size;
SELECT pg_reload_conf();
SELECT r.run_id = :r_small AS sync, r.patients_done = r.patients_total AS all_done,
       r.patients_total = (SELECT count(*) FROM hedis.patient) AS every_patient,
       (SELECT count(*) FROM hedis.run_result x WHERE x.run_id = r.run_id) = r.patients_total
           AS one_result_per_patient,
       (SELECT count(*) FROM hedis.run_result x
          JOIN hedis.run_result big ON big.run_id = :r_rep AND big.patient_key = x.patient_key
         WHERE x.run_id = r.run_id AND x.result IS NOT DISTINCT FROM big.result
           AND x.error IS NOT DISTINCT FROM big.error) = r.patients_total AS results_of_the_big_units
  FROM hedis.run r WHERE r.run_id IN (:r_small, :r_units) ORDER BY 1 DESC;
SELECT pg_temp.result_diff(:r_small, :r_units) AS results_differing_from_run_now,
       pg_temp.summary_diff(:r_small, :r_units) AS summary_rows_differing;

-- a trigger of the DBA's on run_patient: the rows go in through SQL (the
-- direct insert fires no trigger but run_patient's own), the trigger fires
-- for every patient, and the results are the same
CREATE TABLE run_rows_seen (patient_key bigint);
CREATE FUNCTION run_row_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO run_rows_seen VALUES (NEW.patient_key);
    RETURN NEW;
END
$$;
CREATE TRIGGER dba_row_seen AFTER INSERT ON hedis.run_patient
    FOR EACH ROW EXECUTE FUNCTION run_row_seen();
SELECT hedis.run_now(:'measure', '2026-01-01', '2026-12-31') AS r_trig \gset
SELECT (SELECT count(*) FROM run_rows_seen) = patients_total AS trigger_fired_per_patient,
       pg_temp.result_diff(:r_small, :r_trig) AS results_differing_from_run_now
  FROM hedis.run WHERE run_id = :r_trig;
DROP TRIGGER dba_row_seen ON hedis.run_patient;
DROP FUNCTION run_row_seen();
DROP TABLE run_rows_seen;

-- leave the store empty for the suites that follow
TRUNCATE hedis.run CASCADE;
TRUNCATE hedis.resource, hedis.patient CASCADE;
TRUNCATE hedis.library, hedis.measure, hedis.valueset, hedis.valueset_code CASCADE;
