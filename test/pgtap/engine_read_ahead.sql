-- engine_read_ahead: a statement that evaluates patients in ascending key
-- order has their index entries read ahead, 64 keys per descent of the
-- index (src/engine/fhir_prefetch.c).  The results must be those of patients
-- read one by one (descending order never reads ahead), and entries read
-- before a change of the data must not serve a statement after it.
-- Uses the team's demo measure (demo/) and a generated population.
\set ON_ERROR_STOP 1
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(6);

-- 150 patients with consecutive keys, in pk
\set patients 150
\set seed 31
\ir include/demo_population.psql

-- every patient's result, evaluated in ascending or descending key order in
-- one statement, with the index scans the statement started on the store
CREATE FUNCTION pg_temp.evaluate_all(ascending bool, OUT results text, OUT index_scans bigint)
LANGUAGE plpgsql AS $$
DECLARE
    before bigint;
BEGIN
    SELECT idx_scan INTO before FROM pg_stat_xact_user_tables
     WHERE schemaname = 'hedis' AND relname = 'resource';
    IF ascending THEN
        SELECT string_agg(s.patient_key || ' ' || s.r::text, E'\n' ORDER BY s.patient_key) INTO results
          FROM (SELECT o.patient_key,
                       hedis.evaluate_patient_result('DemoWellness', o.patient_key,
                                                     '2026-01-01', '2026-12-31') AS r
                  FROM (SELECT patient_key FROM pk ORDER BY patient_key OFFSET 0) o) s;
    ELSE
        SELECT string_agg(s.patient_key || ' ' || s.r::text, E'\n' ORDER BY s.patient_key) INTO results
          FROM (SELECT o.patient_key,
                       hedis.evaluate_patient_result('DemoWellness', o.patient_key,
                                                     '2026-01-01', '2026-12-31') AS r
                  FROM (SELECT patient_key FROM pk ORDER BY patient_key DESC OFFSET 0) o) s;
    END IF;
    SELECT idx_scan - before INTO index_scans FROM pg_stat_xact_user_tables
     WHERE schemaname = 'hedis' AND relname = 'resource';
END
$$;

-- the last patient in the initial population (in the last window read
-- ahead) has its encounters taken away for now (the demo's population needs
-- an office visit); they come back, as new rows with new TIDs, after the
-- entries were read ahead
SELECT patient_key AS changed FROM pk p
 WHERE (hedis.evaluate_patient_result('DemoWellness', patient_key, '2026-01-01', '2026-12-31')
          #>> '{groups,0,populations,initial-population}')::int = 1
 ORDER BY patient_key DESC LIMIT 1 \gset
CREATE TEMP TABLE taken AS
SELECT * FROM hedis.resource WHERE patient_key = :changed AND resource_type = 'Encounter';
DELETE FROM hedis.resource WHERE patient_key = :changed AND resource_type = 'Encounter';
SELECT hedis.evaluate_patient_result('DemoWellness', :changed, '2026-01-01', '2026-12-31')::text
       AS changed_before \gset

SELECT * FROM pg_temp.evaluate_all(false) \gset down_
SELECT * FROM pg_temp.evaluate_all(true) \gset up_

SELECT is(:'up_results'::text, :'down_results'::text,
          'results in ascending key order (read ahead) are those read patient by patient');
SELECT cmp_ok(:'down_index_scans'::bigint, '>=', 120::bigint,
              'descending order: about one index scan per patient');
SELECT cmp_ok(:'up_index_scans'::bigint, '<', 30::bigint,
              'ascending order: the entries of 64 keys per index scan');


INSERT INTO hedis.resource SELECT * FROM taken;

-- the first patient of the next statement lies in the window read before
-- the rows came: those entries must not serve it
SELECT hedis.evaluate_patient_result('DemoWellness', :changed, '2026-01-01', '2026-12-31')::text
       AS changed_after \gset
SELECT isnt(:'changed_after'::text, :'changed_before'::text,
            'entries read ahead before new rows do not serve the next statement');
SELECT * FROM pg_temp.evaluate_all(true) \gset up2_
SELECT * FROM pg_temp.evaluate_all(false) \gset down2_
SELECT is(:'up2_results'::text, :'down2_results'::text,
          'after new rows, ascending order gives the results read patient by patient');
SELECT is((SELECT array_agg(split_part(line, ' ', 1)) FROM regexp_split_to_table(:'up2_results', E'\n') line
            WHERE line NOT IN (SELECT regexp_split_to_table(:'up_results', E'\n'))),
          ARRAY[:'changed'], 'and only the changed patient''s result changed');

SELECT * FROM finish();
ROLLBACK;
