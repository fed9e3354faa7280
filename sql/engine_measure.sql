-- engine_measure: a tiny proportion Measure + Library to pin down the
-- population dependency rules (FHIR Measure / CQF Measures):
--   denominator only within the initial population; exclusions and numerator
--   within the denominator; numerator only for those not excluded;
--   exceptions only for those neither excluded nor in the numerator;
-- plus a stratifier and the MeasureReport's shape.
-- Each patient carries "flag" Observations (local code system) that make the
-- corresponding raw definition true; the expected populations follow from the
-- rules above, not from the raw flags.
\set ECHO none
\i test/fixtures/elm/helpers.sql
\set ECHO all

CREATE FUNCTION elmt.flag_patient(id text, gender text, flags text[]) RETURNS jsonb LANGUAGE sql IMMUTABLE AS
$$ SELECT jsonb_build_array(jsonb_build_object('resourceType', 'Patient', 'id', id, 'gender', gender, 'birthDate', '1970-01-01'))
       || coalesce((SELECT jsonb_agg(jsonb_build_object('resourceType', 'Observation', 'id', id || '-' || f, 'status', 'final',
                      'subject', jsonb_build_object('reference', 'Patient/' || id),
                      'code', jsonb_build_object('coding', jsonb_build_array(
                          jsonb_build_object('system', 'urn:example:eng-measure-flag', 'code', f)))))
                      FROM unnest(flags) f), '[]') $$;

SELECT elmt.load(flag_patient('eng-m-p1', 'female', '{ip,den,num}')
              || flag_patient('eng-m-p2', 'male',   '{den,num}')
              || flag_patient('eng-m-p3', 'female', '{ip,den,denex,num}')
              || flag_patient('eng-m-p4', 'male',   '{ip,den,denexcep}')
              || flag_patient('eng-m-p5', 'female', '{ip,den,num,denexcep}')
              || flag_patient('eng-m-p6', 'male',   '{ip}'));

-- raw definitions: "exists [Observation: Code 'x' from Flags]"
SELECT elmt.define(f, op1('Exists', jsonb_build_object('type', 'Retrieve', 'dataType', '{http://hl7.org/fhir}Observation',
          'codeProperty', 'code', 'codeComparator', '~',
          'codes', op1('ToList', jsonb_build_object('type', 'Code', 'code', f,
                     'system', jsonb_build_object('type', 'CodeSystemRef', 'name', 'Flags'))))))
  FROM unnest(ARRAY['ip', 'den', 'denex', 'num', 'denexcep']) f;
SELECT elmt.define('Gender', prop('gender.value', ref('Patient')));
SELECT elmt.load_library('EngMeasureLib',
  '{"codeSystems": {"def": [{"name": "Flags", "id": "urn:example:eng-measure-flag", "accessLevel": "Public"}]}}');

CREATE FUNCTION elmt.pop(code text, expr text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS
$$ SELECT jsonb_build_object('id', code, 'code', jsonb_build_object('coding', jsonb_build_array(
            jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/measure-population', 'code', code))),
          'criteria', jsonb_build_object('language', 'text/cql-identifier', 'expression', expr)) $$;
SELECT elmt.load(jsonb_build_array(jsonb_build_object(
  'resourceType', 'Measure', 'id', 'eng-measure', 'url', 'http://example.org/Measure/EngMeasure',
  'version', '1.0.0', 'name', 'EngMeasure', 'status', 'active',
  'library', jsonb_build_array('http://example.org/Library/EngMeasureLib'),
  'scoring', '{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-scoring", "code": "proportion"}]}'::jsonb,
  'group', jsonb_build_array(jsonb_build_object('id', 'g1',
     'population', jsonb_build_array(pop('initial-population', 'ip'), pop('denominator', 'den'),
                                     pop('denominator-exclusion', 'denex'), pop('numerator', 'num'),
                                     pop('denominator-exception', 'denexcep')),
     'stratifier', jsonb_build_array(jsonb_build_object('id', 'by-gender',
        'criteria', jsonb_build_object('language', 'text/cql-identifier', 'expression', 'Gender'))))))));

-- populations per patient: the counts the MeasureReport gives, next to the expected ones
CREATE TEMP TABLE expected_pops (patient text, ip int, den int, denex int, num int, denexcep int, why text);
INSERT INTO expected_pops VALUES
  ('eng-m-p1', 1, 1, 0, 1, 0, 'all of ip, den, num'),
  ('eng-m-p2', 0, 0, 0, 0, 0, 'den and num without ip count nothing'),
  ('eng-m-p3', 1, 1, 1, 0, 0, 'excluded: numerator not counted'),
  ('eng-m-p4', 1, 1, 0, 0, 1, 'exception when neither excluded nor numerator'),
  ('eng-m-p5', 1, 1, 0, 1, 0, 'numerator wins over exception'),
  ('eng-m-p6', 1, 0, 0, 0, 0, 'ip only');
CREATE TEMP TABLE reports AS
  SELECT patient, hedis.evaluate('http://example.org/Measure/EngMeasure', patient, '2024-01-01', '2024-12-31') AS r
    FROM expected_pops;
CREATE FUNCTION pg_temp.count_of(r jsonb, code text) RETURNS int LANGUAGE sql IMMUTABLE AS
$$ SELECT (p->>'count')::int FROM jsonb_array_elements(r->'group'->0->'population') p
    WHERE p->'code'->'coding'->0->>'code' = code $$;
SELECT e.patient, e.why,
       format('%s/%s/%s/%s/%s', pg_temp.count_of(r, 'initial-population'), pg_temp.count_of(r, 'denominator'),
              pg_temp.count_of(r, 'denominator-exclusion'), pg_temp.count_of(r, 'numerator'),
              pg_temp.count_of(r, 'denominator-exception')) AS "got ip/den/denex/num/denexcep",
       format('%s/%s/%s/%s/%s', ip, den, denex, num, denexcep) AS expected,
       (pg_temp.count_of(r, 'initial-population'), pg_temp.count_of(r, 'denominator'),
        pg_temp.count_of(r, 'denominator-exclusion'), pg_temp.count_of(r, 'numerator'),
        pg_temp.count_of(r, 'denominator-exception')) = (ip, den, denex, num, denexcep) AS ok
  FROM expected_pops e JOIN reports USING (patient) ORDER BY e.patient;

-- the report itself: an individual MeasureReport for the patient and period
SELECT r->>'resourceType' AS resource_type, r->>'type' AS type, r->>'status' AS status,
       r->'subject'->>'reference' AS subject, r->'period' AS period, r->>'measure' AS measure
  FROM reports WHERE patient = 'eng-m-p1';
-- parts that are the same in every report (a population's code, a
-- definition's name and the usual results in the evidence) are made once
-- and nested as stored jsonb: the document reads back as itself, twice in a
-- row, and its parts are found by path
SELECT patient, r = r::text::jsonb AS reads_back,
       r = hedis.evaluate('http://example.org/Measure/EngMeasure', patient, '2024-01-01', '2024-12-31') AS same_again,
       jsonb_path_query_array(r, '$.group[0].population[*].code.coding[0].code') AS population_codes,
       jsonb_path_query_array(r, '$.contained[0].extension[*].extension[*] ? (@.url == "result").valueString') AS results
  FROM reports WHERE patient IN ('eng-m-p1', 'eng-m-p6') ORDER BY patient;
-- the stratifier: one stratum, the value of the patient's gender
SELECT patient, s->>'id' AS stratifier, jsonb_array_length(s->'stratum') AS strata, s->'stratum'->0->'value'->>'text' AS stratum
  FROM reports, jsonb_array_elements(r->'group'->0->'stratifier') s
 ORDER BY patient;

-- the same populations through the compact per-patient result runs store
SELECT e.patient, hedis.evaluate_patient_result('http://example.org/Measure/EngMeasure', p.patient_key, '2024-01-01', '2024-12-31') AS compact
  FROM expected_pops e JOIN hedis.patient p ON p.fhir_id = e.patient WHERE e.patient IN ('eng-m-p3', 'eng-m-p4') ORDER BY e.patient;

-- a measure may be named by canonical url|version or by name
SELECT pg_temp.count_of(hedis.evaluate('http://example.org/Measure/EngMeasure|1.0.0', 'eng-m-p1', '2024-01-01', '2024-12-31'), 'numerator') AS by_url_version,
       pg_temp.count_of(hedis.evaluate('EngMeasure', 'eng-m-p1', '2024-01-01', '2024-12-31'), 'numerator') AS by_name;

-- a caller's objects cannot shadow the engine's own queries: with operators
-- = and || on text that lie first on search_path, and every cache dropped (so
-- the measure, its libraries and value sets are read again), the results do
-- not change
CREATE SCHEMA shadow;
CREATE FUNCTION shadow.never_equal(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT false';
CREATE FUNCTION shadow.garbled(text, text) RETURNS text LANGUAGE sql AS $$SELECT 'garbled'$$;
CREATE OPERATOR shadow.= (LEFTARG = text, RIGHTARG = text, FUNCTION = shadow.never_equal);
CREATE OPERATOR shadow.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = shadow.garbled);
CREATE TEMP TABLE unshadowed AS
SELECT patient_key, hedis.evaluate_patient_result('EngMeasure', patient_key, '2024-01-01', '2024-12-31') AS compact
  FROM hedis.patient WHERE fhir_id LIKE 'eng-m-p%';
UPDATE hedis.knowledge_state SET generation = generation + 1;
SET search_path = shadow, pg_catalog, public;
CREATE TEMP TABLE shadowed AS
SELECT u.patient_key,
       hedis.evaluate_patient_result('EngMeasure', u.patient_key, '2024-01-01', '2024-12-31') AS compact,
       hedis.evaluate('EngMeasure', p.fhir_id, '2024-01-01', '2024-12-31') AS report
  FROM unshadowed u JOIN hedis.patient p USING (patient_key);
RESET search_path;
SELECT count(*) AS patients,
       count(*) FILTER (WHERE s.compact = u.compact) AS same_results,
       count(*) FILTER (WHERE pg_temp.count_of(s.report, 'initial-population')
                              = (u.compact->'groups'->0->'populations'->>'initial-population')::int) AS same_reports
  FROM shadowed s JOIN unshadowed u USING (patient_key);
DROP SCHEMA shadow CASCADE;

-- ratio scoring: the numerator and the denominator are independent, each
-- within the initial population (p3 is denominator-excluded and still in the
-- numerator; p2, outside the initial population, in neither); exceptions
-- only for those not excluded, whatever the numerator (p5)
-- a ratio Measure of EngMeasureLib with one group of these populations
CREATE FUNCTION elmt.ratio_measure(name text, pops jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS
$$ SELECT jsonb_build_array(jsonb_build_object(
  'resourceType', 'Measure', 'id', lower(name), 'url', 'http://example.org/Measure/' || name,
  'version', '1.0.0', 'name', name, 'status', 'active',
  'library', jsonb_build_array('http://example.org/Library/EngMeasureLib'),
  'scoring', '{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-scoring", "code": "ratio"}]}'::jsonb,
  'group', jsonb_build_array(jsonb_build_object('id', 'g1', 'population', pops)))) $$;
SELECT elmt.load(elmt.ratio_measure('EngRatio',
  jsonb_build_array(elmt.pop('initial-population', 'ip'), elmt.pop('denominator', 'den'),
                    elmt.pop('denominator-exclusion', 'denex'), elmt.pop('numerator', 'num'),
                    elmt.pop('denominator-exception', 'denexcep'))));
SELECT e.patient,
       format('%s/%s/%s/%s/%s', pg_temp.count_of(r, 'initial-population'), pg_temp.count_of(r, 'denominator'),
              pg_temp.count_of(r, 'denominator-exclusion'), pg_temp.count_of(r, 'numerator'),
              pg_temp.count_of(r, 'denominator-exception')) AS "ratio: ip/den/denex/num/denexcep"
  FROM expected_pops e,
       LATERAL hedis.evaluate('EngRatio', e.patient, '2024-01-01', '2024-12-31') r
 ORDER BY e.patient;

-- two initial populations in one group (ratio measures may have them) are refused, not merged
SELECT elmt.load(elmt.ratio_measure('EngTwoIP',
  jsonb_build_array(elmt.pop('initial-population', 'ip'), elmt.pop('initial-population', 'den'),
                    elmt.pop('denominator', 'den'), elmt.pop('numerator', 'num'))));
SELECT hedis.evaluate('EngTwoIP', 'eng-m-p1', '2024-01-01', '2024-12-31');

-- a population asks only whether its criterion is true: an And stops at its
-- first operand that is not true (null and X is never true), and a
-- definition found not true keeps no value, so a later use evaluates it
-- exactly (null, not false).  Three groups, evaluated in order: g-and's
-- initial population is null and true; g-or's numerator then asks whether
-- that definition is null (it is), g-or2's whether null or false is.
SELECT elmt.define('Unknown', elmt.nul('Boolean'));
SELECT elmt.define('Null And True', elmt.op('And', elmt.ref('Unknown'), elmt.b(true)));
SELECT elmt.define('Null And False', elmt.op('And', elmt.ref('Unknown'), elmt.b(false)));
SELECT elmt.define('Null Or True', elmt.op('Or', elmt.ref('Unknown'), elmt.b(true)));
SELECT elmt.define('Null Or False', elmt.op('Or', elmt.ref('Unknown'), elmt.b(false)));
SELECT elmt.define('Null And True Is Null', elmt.op1('IsNull', elmt.ref('Null And True')));
SELECT elmt.define('Null Or False Is Null', elmt.op1('IsNull', elmt.ref('Null Or False')));
SELECT elmt.load_library('EngMeasureLib',
  '{"codeSystems": {"def": [{"name": "Flags", "id": "urn:example:eng-measure-flag", "accessLevel": "Public"}]}}');
SELECT elmt.load(jsonb_build_array((elmt.ratio_measure('EngTruth', '[]') -> 0)
  || jsonb_build_object('scoring', '{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-scoring", "code": "proportion"}]}'::jsonb,
       'group', jsonb_build_array(
         jsonb_build_object('id', 'g-and', 'population', jsonb_build_array(
           elmt.pop('initial-population', 'Null And True'), elmt.pop('numerator', 'Null And True'))),
         jsonb_build_object('id', 'g-or', 'population', jsonb_build_array(
           elmt.pop('initial-population', 'Null Or True'), elmt.pop('denominator-exclusion', 'Null Or False'),
           elmt.pop('numerator', 'Null And True Is Null'))),
         jsonb_build_object('id', 'g-or2', 'population', jsonb_build_array(
           elmt.pop('initial-population', 'Null Or True'), elmt.pop('denominator-exclusion', 'Null And False'),
           elmt.pop('numerator', 'Null Or False Is Null')))))));
-- the compact result (by truth alone) and the report (every value exact, for its evidence) agree
SELECT g->>'id' AS grp, g->'populations' AS compact,
       (SELECT jsonb_object_agg(p->'code'->'coding'->0->>'code', (p->>'count')::int)
          FROM jsonb_array_elements(rg->'population') p) AS report
  FROM hedis.patient pt,
       LATERAL jsonb_array_elements(hedis.evaluate_patient_result('EngTruth', pt.patient_key, '2024-01-01', '2024-12-31')->'groups')
               WITH ORDINALITY c(g, i),
       LATERAL (SELECT x FROM jsonb_array_elements(hedis.evaluate('EngTruth', 'eng-m-p1', '2024-01-01', '2024-12-31')->'group')
                       WITH ORDINALITY r(x, j) WHERE r.j = c.i) rr(rg)
 WHERE pt.fhir_id = 'eng-m-p1'
 ORDER BY c.i;

-- ---- one library included under two aliases by two measures: each report
-- names the included definitions under its own measure's alias, also when
-- the two measures are evaluated in turn (the names of the first alias are
-- kept with the library, the others made per report)
TRUNCATE elmt.chk, elmt.def;
SELECT elmt.define('ip', jsonb_build_object('type', 'ExpressionRef', 'name', 'ip', 'libraryName', 'A1'));
SELECT elmt.load_library('EngAliasLib1',
  '{"includes": {"def": [{"localIdentifier": "A1", "path": "EngMeasureLib", "version": "1.0.0"}]}}');
TRUNCATE elmt.def;
SELECT elmt.define('ip', jsonb_build_object('type', 'ExpressionRef', 'name', 'ip', 'libraryName', 'A2'));
SELECT elmt.load_library('EngAliasLib2',
  '{"includes": {"def": [{"localIdentifier": "A2", "path": "EngMeasureLib", "version": "1.0.0"}]}}');
SELECT elmt.load(jsonb_agg(jsonb_build_object(
  'resourceType', 'Measure', 'id', 'eng-alias-' || k, 'url', 'http://example.org/Measure/EngAlias' || k,
  'version', '1.0.0', 'name', 'EngAlias' || k, 'status', 'active',
  'library', jsonb_build_array('http://example.org/Library/EngAliasLib' || k),
  'scoring', '{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-scoring", "code": "proportion"}]}'::jsonb,
  'group', jsonb_build_array(jsonb_build_object('id', 'g1',
     'population', jsonb_build_array(elmt.pop('initial-population', 'ip'), elmt.pop('denominator', 'ip'),
                                     elmt.pop('numerator', 'ip')))))))
  FROM generate_series(1, 2) k;
SELECT k, m, jsonb_path_query_array(hedis.evaluate(m, 'eng-m-p1', '2024-01-01', '2024-12-31'),
               '$.contained[0].extension[*].extension[*] ? (@.url == "definition").valueString') AS definitions
  FROM (VALUES (1, 'EngAlias1'), (2, 'EngAlias2'), (3, 'EngAlias1'), (4, 'EngAlias2')) v(k, m)
 ORDER BY k;
