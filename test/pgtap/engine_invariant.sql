-- engine_invariant: expressions that are the same for every patient (built
-- from the measurement period alone) keep their values from one patient to
-- the next (src/engine/elm_invariant.c).  A statement evaluating a whole
-- population with one period must give what evaluations alternating between
-- two periods give (the kept values are dropped at each change of period).
-- Uses the team's demo measure (demo/) and a generated population.
\set ON_ERROR_STOP 1
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(6);

\set patients 100
\set seed 32
\ir include/demo_population.psql

-- "Age at End of Measurement Period" takes "date from end of the period",
-- a value kept for all patients: whole statements, 2026 then 2025, against
-- the ages SQL computes
SELECT is((SELECT count(*) FROM hedis.patient p JOIN pk USING (patient_key)
            WHERE hedis.evaluate_expression('DemoWellness', 'Age at End of Measurement Period', p.fhir_id,
                                            '2026-01-01', '2026-12-31')::int
                  IS DISTINCT FROM extract(year FROM age(date '2026-12-31', p.birth_date))::int),
          0::bigint, 'ages at the end of 2026 are those SQL computes');
SELECT is((SELECT count(*) FROM hedis.patient p JOIN pk USING (patient_key)
            WHERE hedis.evaluate_expression('DemoWellness', 'Age at End of Measurement Period', p.fhir_id,
                                            '2025-01-01', '2025-12-31')::int
                  IS DISTINCT FROM extract(year FROM age(date '2025-12-31', p.birth_date))::int),
          0::bigint, 'then ages at the end of 2025 too (nothing kept from 2026 is used)');

-- one period for the whole statement: the kept values serve every patient
CREATE TEMP TABLE whole AS
SELECT patient_key,
       hedis.evaluate_patient_result('DemoWellness', patient_key, '2025-01-01', '2025-12-31') AS r2025
  FROM pk;
ALTER TABLE whole ADD COLUMN r2026 jsonb;
UPDATE whole SET r2026 = hedis.evaluate_patient_result('DemoWellness', patient_key, '2026-01-01', '2026-12-31');

-- the period changes at every call: nothing kept is ever used
CREATE TEMP TABLE alternating AS
SELECT patient_key,
       hedis.evaluate_patient_result('DemoWellness', patient_key, '2026-01-01', '2026-12-31') AS r2026,
       hedis.evaluate_patient_result('DemoWellness', patient_key, '2025-01-01', '2025-12-31') AS r2025
  FROM pk;

SELECT is((SELECT count(*) FROM whole w JOIN alternating a USING (patient_key)
            WHERE w.r2025 IS DISTINCT FROM a.r2025), 0::bigint,
          '2025, whole statement = 2025 alternating with 2026');
SELECT is((SELECT count(*) FROM whole w JOIN alternating a USING (patient_key)
            WHERE w.r2026 IS DISTINCT FROM a.r2026), 0::bigint,
          '2026 after 2025, whole statement = 2026 alternating with 2025');
SELECT cmp_ok((SELECT count(*) FROM whole WHERE r2025 IS DISTINCT FROM r2026), '>', 0::bigint,
              'the period matters for some patients (the check above can fail)');
SELECT is((SELECT count(*) FROM whole), 100::bigint, 'every patient evaluated');

SELECT * FROM finish();
ROLLBACK;
