-- engine_population: hedis.evaluate_population (every patient's result as
-- rows) and the birth-date screen of population evaluations
-- (src/engine/measure_prescreen.c): a measure whose initial population
-- opens with "AgeInYearsAt(end of the period) in Interval[42, 74]" leaves
-- out, by hedis.patient.birth_date, the patients the range excludes for
-- every birth date the column can stand for, and gives them the result
-- the full evaluation gives (checked against hedis.evaluate_patient_result,
-- which evaluates every patient in full).  The patients are born on the
-- days that decide the range, with full and partial birth dates.
\set ECHO none
\i test/fixtures/elm/helpers.sql
\set ECHO all

CREATE FUNCTION elmt.born(id text, birth text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS
$$ SELECT jsonb_build_array(jsonb_strip_nulls(jsonb_build_object('resourceType', 'Patient', 'id', id,
                                                                 'gender', 'female', 'birthDate', birth)),
          jsonb_build_object('resourceType', 'Observation', 'id', id || '-flag', 'status', 'final',
                             'subject', jsonb_build_object('reference', 'Patient/' || id),
                             'code', jsonb_build_object('coding', jsonb_build_array(
                                 jsonb_build_object('system', 'urn:example:eng-pop-flag', 'code', 'ip'))))) $$;

-- at the end of 2024 (and of June 2024, the second period below)
SELECT elmt.load(born('eng-pop-42', '1982-12-31')      -- 42 (41 in June)
              || born('eng-pop-41', '1983-01-01')      -- 41: out
              || born('eng-pop-74', '1950-01-01')      -- 74
              || born('eng-pop-75', '1949-12-31')      -- 75: out (74 in June)
              || born('eng-pop-76', '1948-06-15')      -- 76: out
              || born('eng-pop-y1950', '1950')         -- 74 whatever the day (73 or 74 in June)
              || born('eng-pop-y1949', '1949')         -- 75 whatever the day: out (74 or 75 in June)
              || born('eng-pop-y1983', '1983')         -- 41: out
              || born('eng-pop-m1983', '1983-01')      -- 41: out (stored as 1983-01-01)
              || born('eng-pop-m1949', '1949-07')      -- 75: out (74 in June)
              || born('eng-pop-none', NULL));          -- no birth date: not screened, not in

-- "Initial Population": the age range, and the flag
SELECT elmt.define('Age', opp('CalculateAgeAt', 'Year', prop('value', prop('birthDate', ref('Patient'))),
                              op1('DateFrom', op1('End', '{"type": "ParameterRef", "name": "Measurement Period"}'))));
SELECT elmt.define('Flag', op1('Exists', jsonb_build_object('type', 'Retrieve', 'dataType', '{http://hl7.org/fhir}Observation',
          'codeProperty', 'code', 'codeComparator', '~',
          'codes', op1('ToList', jsonb_build_object('type', 'Code', 'code', 'ip',
                     'system', jsonb_build_object('type', 'CodeSystemRef', 'name', 'Flags'))))));
SELECT elmt.define('ip', op('And', op('In', ref('Age'), ivl(i(42), i(74))), ref('Flag')));
-- the same bounds written as comparisons, the age on either side
SELECT elmt.define('ip_min', op('And', op('GreaterOrEqual', ref('Age'), i(42)), ref('Flag')));
SELECT elmt.define('ip_max', op('And', ref('Flag'), op('Greater', i(75), ref('Age'))));
SELECT elmt.load_library('EngPopLib',
  '{"codeSystems": {"def": [{"name": "Flags", "id": "urn:example:eng-pop-flag", "accessLevel": "Public"}]}}');

CREATE FUNCTION elmt.measure(name text, ips text[]) RETURNS jsonb LANGUAGE sql IMMUTABLE AS
$$ SELECT jsonb_build_array(jsonb_build_object(
     'resourceType', 'Measure', 'id', name, 'url', 'http://example.org/Measure/' || name,
     'version', '1.0.0', 'name', name, 'status', 'active',
     'library', jsonb_build_array('http://example.org/Library/EngPopLib'),
     'scoring', '{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-scoring", "code": "proportion"}]}'::jsonb,
     'group', (SELECT jsonb_agg(jsonb_build_object('id', 'g' || k, 'population', jsonb_build_array(
                 jsonb_build_object('code', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object(
                     'system', 'http://terminology.hl7.org/CodeSystem/measure-population', 'code', 'initial-population'))),
                   'criteria', jsonb_build_object('language', 'text/cql-identifier', 'expression', ips[k])))) ORDER BY k)
                 FROM generate_subscripts(ips, 1) k))) $$;
SELECT elmt.load(measure('EngPopAge', '{ip}') || measure('EngPopFlag', '{Flag}')
              || measure('EngPopTwo', '{ip,Flag}') || measure('EngPopMin', '{ip_min}')
              || measure('EngPopMax', '{ip_max}'));

-- every patient of the store: its row equals the full evaluation (both
-- periods), read in batches of 3 patients (the last one short)
SET hedis.run_batch_size = 3;
CREATE FUNCTION elmt.differing(measure text, ps date, pe date) RETURNS bigint LANGUAGE sql AS
$$ SELECT count(*) FROM hedis.evaluate_population(measure, ps, pe) e
    WHERE e.result IS DISTINCT FROM hedis.evaluate_patient_result(measure, e.patient_key, ps, pe) - 'patient'
       OR e.patient_id IS DISTINCT FROM hedis.evaluate_patient_result(measure, e.patient_key, ps, pe)->>'patient' $$;
SELECT differing('EngPopAge', '2024-01-01', '2024-12-31') AS differing_year,
       differing('EngPopAge', '2024-01-01', '2024-06-30') AS differing_june,
       differing('EngPopMin', '2024-01-01', '2024-12-31') + differing('EngPopMin', '2024-01-01', '2024-06-30')
         + differing('EngPopMax', '2024-01-01', '2024-12-31') + differing('EngPopMax', '2024-01-01', '2024-06-30')
         AS differing_comparisons,
       (SELECT count(*) FROM hedis.patient) = (SELECT count(*) FROM hedis.evaluate_population('EngPopAge', '2024-01-01', '2024-12-31'))
         AS one_row_per_patient;

CREATE FUNCTION elmt.ip_of(measure text, ps date, pe date) RETURNS TABLE (patient text, ip text) LANGUAGE sql AS
$$ SELECT e.patient_id, e.result->'groups'->0->'populations'->>'initial-population'
     FROM hedis.evaluate_population(measure, ps, pe) e WHERE e.patient_id LIKE 'eng-pop-%' $$;
SELECT y.patient, y.ip AS ip_2024, j.ip AS ip_june_2024
  FROM ip_of('EngPopAge', '2024-01-01', '2024-12-31') y
  JOIN ip_of('EngPopAge', '2024-01-01', '2024-06-30') j USING (patient) ORDER BY 1;

-- the screen reads hedis.patient.birth_date (the loaders write it from the
-- Patient resource): a column changed by hand shows it at work
UPDATE hedis.patient SET birth_date = '1900-01-01' WHERE fhir_id = 'eng-pop-42';
SELECT (SELECT ip FROM ip_of('EngPopAge', '2024-01-01', '2024-12-31') WHERE patient = 'eng-pop-42') AS screened_out,
       hedis.evaluate_patient_result('EngPopAge', p.patient_key, '2024-01-01', '2024-12-31')
           ->'groups'->0->'populations'->>'initial-population' AS full_evaluation
  FROM hedis.patient p WHERE p.fhir_id = 'eng-pop-42';
-- the comparisons screen too: 75 > 124 (the column's age) is false; born
-- in 2000 (by the column), 24 >= 42 is false while 75 > 24 holds
SELECT (SELECT ip FROM ip_of('EngPopMax', '2024-01-01', '2024-12-31') WHERE patient = 'eng-pop-42') AS screened_by_max;
UPDATE hedis.patient SET birth_date = '2000-01-01' WHERE fhir_id = 'eng-pop-42';
SELECT (SELECT ip FROM ip_of('EngPopMin', '2024-01-01', '2024-12-31') WHERE patient = 'eng-pop-42') AS screened_by_min,
       (SELECT ip FROM ip_of('EngPopMax', '2024-01-01', '2024-12-31') WHERE patient = 'eng-pop-42') AS not_by_max;
UPDATE hedis.patient SET birth_date = '1900-01-01' WHERE fhir_id = 'eng-pop-42';
-- hedis.prescreen = off evaluates every patient in full
SET hedis.prescreen = off;
SELECT ip AS not_screened FROM ip_of('EngPopAge', '2024-01-01', '2024-12-31') WHERE patient = 'eng-pop-42';
RESET hedis.prescreen;
-- a measure whose initial population has no age range, or a group without
-- one, is not screened
SELECT (SELECT ip FROM ip_of('EngPopFlag', '2024-01-01', '2024-12-31') WHERE patient = 'eng-pop-42') AS no_age_range,
       (SELECT e.result->'groups'->0->'populations'->>'initial-population'
          FROM hedis.evaluate_population('EngPopTwo', '2024-01-01', '2024-12-31') e
         WHERE e.patient_id = 'eng-pop-42') AS group_with_age_range_of_two;
-- population runs screen their patients too
SELECT hedis.run_now('EngPopAge', '2024-01-01', '2024-12-31') AS run \gset
SELECT result->'groups'->0->'populations'->>'initial-population' AS run_screened_out
  FROM hedis.run_result WHERE run_id = :run AND patient_id = 'eng-pop-42';
UPDATE hedis.patient SET birth_date = '1982-12-31' WHERE fhir_id = 'eng-pop-42';
SELECT hedis.run_now('EngPopAge', '2024-01-01', '2024-12-31') AS run \gset
SELECT count(*) AS run_rows_differing
  FROM hedis.run_result r JOIN hedis.evaluate_population('EngPopAge', '2024-01-01', '2024-12-31') e USING (patient_key)
 WHERE r.run_id = :run AND (r.result - 'patient') IS DISTINCT FROM e.result;

-- bad input
SELECT count(*) FROM hedis.evaluate_population(NULL, '2024-01-01', '2024-12-31');
SELECT count(*) FROM hedis.evaluate_population('EngPopAge', '2024-12-31', '2024-01-01');
SELECT count(*) FROM hedis.evaluate_population('NoSuchMeasure', '2024-01-01', '2024-12-31');

-- the caller's right to read hedis.patient is checked, as a query's would
-- be; row security, which the function does not apply, is refused
CREATE ROLE regress_pop_reader;
GRANT USAGE ON SCHEMA hedis TO regress_pop_reader;
SET ROLE regress_pop_reader;
SELECT count(*) FROM hedis.evaluate_population('EngPopAge', '2024-01-01', '2024-12-31');
RESET ROLE;
GRANT SELECT ON hedis.patient TO regress_pop_reader;
ALTER TABLE hedis.patient ENABLE ROW LEVEL SECURITY;
SET ROLE regress_pop_reader;
SELECT count(*) FROM hedis.evaluate_population('EngPopAge', '2024-01-01', '2024-12-31');
RESET ROLE;
ALTER TABLE hedis.patient DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON hedis.patient FROM regress_pop_reader;
REVOKE ALL ON SCHEMA hedis FROM regress_pop_reader;
DROP ROLE regress_pop_reader;

-- a measure whose library is missing: the run's screening meets the error
-- in its own subtransaction and screens none out; each patient's
-- evaluation then records it, and the run goes on
SELECT elmt.load(jsonb_build_array(jsonb_build_object(
  'resourceType', 'Measure', 'id', 'eng-pop-broken', 'url', 'http://example.org/Measure/EngPopBroken',
  'version', '1.0.0', 'name', 'EngPopBroken', 'status', 'active',
  'library', jsonb_build_array('http://example.org/Library/EngPopMissing'),
  'group', jsonb_build_array(jsonb_build_object('id', 'g1', 'population', jsonb_build_array(
     jsonb_build_object('code', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object(
         'system', 'http://terminology.hl7.org/CodeSystem/measure-population', 'code', 'initial-population'))),
       'criteria', jsonb_build_object('language', 'text/cql-identifier', 'expression', 'ip'))))))));
SET client_min_messages = warning;
SELECT hedis.run_now('EngPopBroken', '2024-01-01', '2024-12-31') AS run \gset
RESET client_min_messages;
SELECT patients_failed = patients_total AS every_patient_failed, status
  FROM hedis.runs WHERE run_id = :run;
SELECT DISTINCT error FROM hedis.run_result WHERE run_id = :run;
SELECT count(*) FROM hedis.evaluate_population('EngPopBroken', '2024-01-01', '2024-12-31');

-- every measure of the store (with the test files before this one: ratio,
-- continuous-variable and episode-based groups, observations, strata,
-- which are not screened): evaluate_population's rows are the full
-- evaluation's (a measure that does not compile must fail both ways)
CREATE FUNCTION pg_temp.rows_differing(m text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  RETURN (SELECT count(*) FROM hedis.evaluate_population(m, '2024-01-01', '2024-12-31') e
           WHERE e.result IS DISTINCT FROM
                 hedis.evaluate_patient_result(m, e.patient_key, '2024-01-01', '2024-12-31') - 'patient');
EXCEPTION WHEN OTHERS THEN
  BEGIN
    PERFORM hedis.evaluate_patient_result(m, patient_key, '2024-01-01', '2024-12-31') FROM hedis.patient;
    RETURN 1;                   -- the full evaluation does not fail
  EXCEPTION WHEN OTHERS THEN
    RETURN 0;
  END;
END $$;
SELECT count(*) FILTER (WHERE pg_temp.rows_differing(url || '|' || version) > 0) AS measures_differing
  FROM hedis.measure;
