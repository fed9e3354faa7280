-- engine_store_open: the store's relations are locked once per
-- subtransaction (src/engine/fhir_data.c, open_store), and the slot rows are
-- read with is kept for the transaction (reader_take).  A lock taken in a
-- subtransaction that rolled back is gone, so the next evaluation must take
-- it again; an evaluation that failed must leave the kept slot usable.
-- Uses the team's demo measure (demo/) and a generated population.
\set ON_ERROR_STOP 1
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(7);

\set patients 30
\set seed 43
\ir include/demo_population.psql

-- does this backend hold AccessShareLock on the store's patient index (taken
-- only by opening it for reading: loading the population locks it for
-- writing)
CREATE FUNCTION pg_temp.index_read_locked() RETURNS bool LANGUAGE sql AS $$
    SELECT EXISTS (SELECT 1 FROM pg_locks
                    WHERE pid = pg_backend_pid() AND granted
                      AND relation = 'hedis.resource_patient_idx'::regclass
                      AND mode = 'AccessShareLock')
$$;

CREATE FUNCTION pg_temp.results() RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(patient_key || ' ' ||
                      hedis.evaluate_patient_result('DemoWellness', patient_key,
                                                    '2026-01-01', '2026-12-31')::text,
                      E'\n' ORDER BY patient_key)
      FROM pk
$$;

SELECT min(patient_key) AS first FROM pk \gset

SELECT ok(NOT pg_temp.index_read_locked(), 'no read lock on the patient index before any evaluation');

SAVEPOINT inner_work;
SELECT hedis.evaluate_patient_result('DemoWellness', :first, '2026-01-01', '2026-12-31')::text
       AS in_savepoint \gset
ROLLBACK TO SAVEPOINT inner_work;
SELECT ok(NOT pg_temp.index_read_locked(),
          'the lock taken in a rolled-back subtransaction is released');

SELECT is(hedis.evaluate_patient_result('DemoWellness', :first, '2026-01-01', '2026-12-31')::text,
          :'in_savepoint', 'the same result after the rollback');
SELECT ok(pg_temp.index_read_locked(),
          'the evaluation after the rollback locked the index again');

SELECT pg_temp.results() AS before_failure \gset

-- a patient whose Patient resource is gone fails after its rows were opened
SAVEPOINT failing;
DELETE FROM hedis.resource WHERE patient_key = :first AND resource_type = 'Patient';
SELECT throws_ok(format($$SELECT hedis.evaluate_patient_result('DemoWellness', %s, '2026-01-01', '2026-12-31')$$, :first),
                 'P0002', NULL, 'a patient without a Patient resource fails');
ROLLBACK TO SAVEPOINT failing;

SELECT is(pg_temp.results(), :'before_failure',
          'after a failed evaluation, every patient gives the same result');
SELECT is((SELECT count(*) FROM pk JOIN hedis.patient p USING (patient_key)
            WHERE hedis.evaluate_patient_result('DemoWellness', pk.patient_key, '2026-01-01',
                                                '2026-12-31') ->> 'patient' = p.fhir_id),
          (SELECT count(*) FROM pk),
          'every result names its own patient (the kept slot is refilled per patient)');

SELECT * FROM finish();
ROLLBACK;
