-- runs_population: hedis.generate_population and hedis.replicate_patients.
-- Does not need the measure engine.
\set ON_ERROR_STOP 1
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(33);

-- a checksum of everything stored for the patients whose id starts with a prefix
CREATE FUNCTION pg_temp.store_checksum(prefix text) RETURNS text LANGUAGE sql AS $$
    SELECT md5(coalesce(string_agg(concat_ws('|', r.resource_type, r.fhir_id, r.patient_ref,
                                             r.codes::text, r.period_start, r.period_end,
                                             r.resource::text, p.birth_date, p.gender),
                                   E'\n' ORDER BY r.resource_type, r.fhir_id), ''))
      FROM hedis.resource r JOIN hedis.patient p ON p.patient_key = r.patient_key
     WHERE starts_with(r.patient_ref, prefix)
$$;

CREATE FUNCTION pg_temp.patient_checksum(id text) RETURNS text LANGUAGE sql AS $$
    SELECT md5(string_agg(r.fhir_id || r.resource::text || r.codes::text, E'\n' ORDER BY r.fhir_id))
      FROM hedis.resource r WHERE r.patient_ref = id
$$;

-- ---------------------------------------------------------------- generation without value sets
SELECT hedis.generate_population(40, 7) AS written7 \gset
SELECT is((SELECT count(*) FROM hedis.resource WHERE starts_with(patient_ref, 'gen-7-')), :'written7'::bigint,
          'generate_population returns the number of resources it wrote');
SELECT is((SELECT count(*) FROM hedis.patient WHERE starts_with(fhir_id, 'gen-7-')), 40::bigint,
          '40 patients with ids gen-7-<n>');
SELECT ok((SELECT bool_and(fhir_id ~ '^gen-7-[0-9]+$') FROM hedis.patient
            WHERE starts_with(fhir_id, 'gen-7-')), 'patient ids are gen-<seed>-<n>');
SELECT is((SELECT count(*) FROM hedis.resource r
            WHERE starts_with(r.patient_ref, 'gen-7-') AND r.patient_key IS NULL), 0::bigint,
          'every generated resource is attached to its patient');
SELECT is((SELECT count(DISTINCT resource_type) FROM hedis.resource
            WHERE starts_with(patient_ref, 'gen-7-')
              AND resource_type IN ('Patient', 'Coverage', 'Encounter', 'Condition', 'Procedure',
                                    'Observation', 'MedicationRequest')), 7::bigint,
          'the built-in pool yields patients, coverage, encounters, conditions, procedures, observations, medications');
SELECT is((SELECT count(*) FROM hedis.resource r JOIN hedis.patient p ON p.fhir_id = r.fhir_id
            WHERE r.resource_type = 'Patient' AND starts_with(r.fhir_id, 'gen-7-')
              AND (p.birth_date::text IS DISTINCT FROM r.resource->>'birthDate'
                   OR p.gender IS DISTINCT FROM r.resource->>'gender')), 0::bigint,
          'hedis.patient birth date and gender match the Patient resources');
SELECT is((SELECT count(*) FROM hedis.resource
            WHERE starts_with(patient_ref, 'gen-7-') AND resource_type NOT IN ('Patient')
              AND (period_start IS NULL OR codes = '{}')), 0::bigint,
          'clinical resources have a code and a date (extracted by the store)');
SELECT ok((SELECT min(period_start) >= timestamptz '2020-12-31' AND max(period_start) <= timestamptz '2027-01-01'
             FROM hedis.resource WHERE starts_with(patient_ref, 'gen-7-')
              AND resource_type IN ('Encounter', 'Procedure', 'Observation', 'MedicationRequest')),
          'clinical dates fall in the three years before as_of');
SELECT ok((SELECT bool_and(resource->>'status' = 'finished') FROM hedis.resource
            WHERE starts_with(patient_ref, 'gen-7-') AND resource_type = 'Encounter')
          AND (SELECT bool_and(resource->>'status' = 'final') FROM hedis.resource
                WHERE starts_with(patient_ref, 'gen-7-') AND resource_type = 'Observation')
          AND (SELECT bool_and(resource#>>'{verificationStatus,coding,0,code}' = 'confirmed')
                 FROM hedis.resource
                WHERE starts_with(patient_ref, 'gen-7-') AND resource_type = 'Condition'),
          'statuses are ones measures accept');
SELECT ok((SELECT count(DISTINCT gender) >= 2 AND min(age(date '2026-12-31', birth_date)) < interval '18 years'
                  AND max(age(date '2026-12-31', birth_date)) > interval '50 years'
             FROM hedis.patient WHERE starts_with(fhir_id, 'gen-7-')),
          'a mix of sexes, children and older adults');
SELECT ok((SELECT count(*) FROM hedis.resource WHERE starts_with(patient_ref, 'gen-7-')
              AND resource_type = 'Observation' AND resource->'valueQuantity'->>'value' IS NOT NULL
              OR starts_with(patient_ref, 'gen-7-') AND resource_type = 'Observation'
                 AND jsonb_array_length(resource->'component') = 2) =
          (SELECT count(*) FROM hedis.resource WHERE starts_with(patient_ref, 'gen-7-')
              AND resource_type = 'Observation'),
          'every observation has a value (or blood pressure components)');

-- ---------------------------------------------------------------- determinism
SELECT pg_temp.store_checksum('gen-7-') AS sum7, pg_temp.patient_checksum('gen-7-3') AS sum7_3 \gset
SELECT throws_ok($$SELECT hedis.generate_population(5, 7)$$, '23505', NULL,
                 'the same seed twice is refused while the first population is loaded');
DELETE FROM hedis.patient WHERE starts_with(fhir_id, 'gen-7-');
SELECT is((SELECT count(*) FROM hedis.resource WHERE starts_with(patient_ref, 'gen-7-')), 0::bigint,
          'deleting the patients deletes their resources');
SELECT lives_ok($$SELECT hedis.generate_population(40, 7)$$, 'seed 7 again');
SELECT is(pg_temp.store_checksum('gen-7-'), :'sum7', 'same seed, same data (checksum)');
SELECT lives_ok($$SELECT hedis.generate_population(40, 8)$$, 'seed 8');
SELECT isnt(pg_temp.store_checksum('gen-8-'), :'sum7', 'another seed, other data');
-- patient n does not depend on how many patients are asked for
DELETE FROM hedis.patient WHERE starts_with(fhir_id, 'gen-7-');
SELECT lives_ok($$SELECT hedis.generate_population(15, 7)$$, 'a smaller population with seed 7');
SELECT is(pg_temp.patient_checksum('gen-7-3'), :'sum7_3',
          'patient 3 of 15 is patient 3 of 40');

-- ---------------------------------------------------------------- codes from loaded value sets
INSERT INTO hedis.valueset (url, version, name, resource)
VALUES ('http://example.org/vs/dx', '', 'dx', '{"resourceType":"ValueSet"}'),
       ('http://example.org/vs/visit', '', 'visit', '{"resourceType":"ValueSet"}'),
       ('http://example.org/vs/lab', '', 'lab', '{"resourceType":"ValueSet"}');
INSERT INTO hedis.valueset_code (valueset_url, valueset_version, system, code, display)
VALUES ('http://example.org/vs/dx', '', 'http://snomed.info/sct', '44054006', 'Diabetes mellitus type 2'),
       ('http://example.org/vs/dx', '', 'http://hl7.org/fhir/sid/icd-10-cm', 'E11.9', NULL),
       ('http://example.org/vs/visit', '', 'http://www.ama-assn.org/go/cpt', '99395', 'Preventive visit'),
       ('http://example.org/vs/lab', '', 'http://loinc.org', '4548-4', 'HbA1c');
INSERT INTO hedis.library (url, version, name, resource)
VALUES ('http://example.org/Library/L', '1', 'L',
        '{"resourceType":"Library","dataRequirement":[
            {"type":"Condition","codeFilter":[{"path":"code","valueSet":"http://example.org/vs/dx"}]},
            {"type":"Encounter","codeFilter":[{"path":"type","valueSet":"http://example.org/vs/visit"}]},
            {"type":"Observation","codeFilter":[{"path":"code","valueSet":"http://example.org/vs/lab"}]}]}');
SELECT lives_ok($$SELECT hedis.generate_population(300, 21)$$, 'generate with value sets loaded');
SELECT is((SELECT count(*) FROM hedis.resource
            WHERE starts_with(patient_ref, 'gen-21-') AND resource_type = 'Encounter'
              AND codes <> '{http://www.ama-assn.org/go/cpt|99395}'), 0::bigint,
          'encounter types come from the Encounter value set of the library');
SELECT is((SELECT count(*) FROM hedis.resource
            WHERE starts_with(patient_ref, 'gen-21-') AND resource_type = 'Condition'
              AND NOT codes <@ '{http://snomed.info/sct|44054006,http://hl7.org/fhir/sid/icd-10-cm|E11.9}'),
          0::bigint, 'condition codes come from the Condition value set');
SELECT ok((SELECT count(*) FROM hedis.patient p WHERE starts_with(p.fhir_id, 'gen-21-')
              AND EXISTS (SELECT 1 FROM hedis.resource r WHERE r.patient_key = p.patient_key
                           AND r.resource_type = 'Condition')) BETWEEN 60 AND 150,
          'about a third of the patients have the condition (one value set, p = 0.3)');
SELECT is((SELECT count(*) FROM hedis.resource r
            WHERE starts_with(r.patient_ref, 'gen-21-') AND r.resource_type = 'Observation'
              AND r.codes = '{http://loinc.org|4548-4}'
              AND NOT (r.resource->'valueQuantity'->>'value')::numeric BETWEEN 4.5 AND 13.5), 0::bigint,
          'HbA1c values are plausible percentages');

-- ---------------------------------------------------------------- codes drawn by their role in a measure
-- A measure whose population criteria reach value sets through its ELM:
-- the numerator's drawn for about a third of the patients, the exclusions'
-- rarely (population.c gen_slot_probability).  Drawn as any other value
-- set, the numerator's would be in 19 % of the patients (1.5 Observations
-- over 8 value sets), the exclusion's Condition in 30 % (as dx above) and
-- the exclusion's encounter type in a third of the visits.
INSERT INTO hedis.valueset (url, version, name, resource)
SELECT 'http://example.org/vs/' || n, '', n, '{"resourceType":"ValueSet"}'
  FROM unnest(ARRAY['ipvisit', 'exclvisit', 'excldx', 'num', 'o1', 'o2', 'o3', 'o4', 'o5', 'o6']) n;
INSERT INTO hedis.valueset_code (valueset_url, valueset_version, system, code, display)
VALUES ('http://example.org/vs/ipvisit', '', 'http://www.ama-assn.org/go/cpt', '99213', 'Office visit'),
       ('http://example.org/vs/exclvisit', '', 'http://snomed.info/sct', '183919006', 'Hospice care'),
       ('http://example.org/vs/excldx', '', 'http://hl7.org/fhir/sid/icd-10-cm', 'Z51.5', 'Palliative care'),
       ('http://example.org/vs/num', '', 'http://loinc.org', '24606-6', 'MG Breast Screening');
INSERT INTO hedis.valueset_code (valueset_url, valueset_version, system, code, display)
SELECT 'http://example.org/vs/o' || k, '', 'http://loinc.org', '9999-' || k, NULL FROM generate_series(1, 6) k;
CREATE FUNCTION pg_temp.exists_retrieve(type text, vs text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('type', 'Exists', 'operand', jsonb_build_object('type', 'Retrieve',
             'dataType', '{http://hl7.org/fhir}' || type, 'codeProperty', 'code',
             'codes', jsonb_build_object('type', 'ValueSetRef', 'name', vs)))
$$;
INSERT INTO hedis.library (url, version, name, resource, elm)
SELECT 'http://example.org/Library/RoleMeasure', '1', 'RoleMeasure',
       jsonb_build_object('resourceType', 'Library', 'dataRequirement', jsonb_build_array(
         jsonb_build_object('type', 'Encounter', 'codeFilter', '[{"path":"type","valueSet":"http://example.org/vs/ipvisit"}]'::jsonb),
         jsonb_build_object('type', 'Encounter', 'codeFilter', '[{"path":"type","valueSet":"http://example.org/vs/exclvisit"}]'::jsonb),
         jsonb_build_object('type', 'Condition', 'codeFilter', '[{"path":"code","valueSet":"http://example.org/vs/excldx"}]'::jsonb),
         jsonb_build_object('type', 'Observation', 'codeFilter', '[{"path":"code","valueSet":"http://example.org/vs/num"}]'::jsonb))),
       jsonb_build_object('library', jsonb_build_object(
         'identifier', '{"id": "RoleMeasure", "version": "1"}'::jsonb,
         'valueSets', jsonb_build_object('def', (SELECT jsonb_agg(jsonb_build_object('name', n, 'id', 'http://example.org/vs/' || n))
                                                  FROM unnest(ARRAY['ipvisit', 'exclvisit', 'excldx', 'num']) n)),
         'statements', jsonb_build_object('def', jsonb_build_array(
           jsonb_build_object('name', 'Initial Population', 'expression', pg_temp.exists_retrieve('Encounter', 'ipvisit')),
           jsonb_build_object('name', 'Excluded', 'expression', jsonb_build_object('type', 'Or', 'operand', jsonb_build_array(
             pg_temp.exists_retrieve('Encounter', 'exclvisit'), pg_temp.exists_retrieve('Condition', 'excldx')))),
           jsonb_build_object('name', 'Denominator Exclusions', 'expression',
             jsonb_build_object('type', 'ExpressionRef', 'name', 'Excluded')),
           jsonb_build_object('name', 'Numerator', 'expression', pg_temp.exists_retrieve('Observation', 'num'))))));
INSERT INTO hedis.library (url, version, name, resource)
SELECT 'http://example.org/Library/Other' || k, '1', 'Other' || k,
       jsonb_build_object('resourceType', 'Library', 'dataRequirement', jsonb_build_array(
         jsonb_build_object('type', 'Observation', 'codeFilter',
           jsonb_build_array(jsonb_build_object('path', 'code', 'valueSet', 'http://example.org/vs/o' || k)))))
  FROM generate_series(1, 6) k;
INSERT INTO hedis.measure (url, version, name, resource)
VALUES ('http://example.org/Measure/RoleMeasure', '1', 'RoleMeasure',
        '{"resourceType": "Measure", "library": ["http://example.org/Library/RoleMeasure|1"],
          "group": [{"population": [
            {"code": {"coding": [{"code": "initial-population"}]}, "criteria": {"expression": "Initial Population"}},
            {"code": {"coding": [{"code": "denominator"}]}, "criteria": {"expression": "Initial Population"}},
            {"code": {"coding": [{"code": "denominator-exclusion"}]}, "criteria": {"expression": "Denominator Exclusions"}},
            {"code": {"coding": [{"code": "numerator"}]}, "criteria": {"expression": "Numerator"}}]}]}');
SELECT lives_ok($$SELECT hedis.generate_population(400, 31)$$, 'generate with a measure loaded');
CREATE TEMP TABLE role_share AS
SELECT avg((EXISTS (SELECT 1 FROM hedis.resource r WHERE r.patient_key = p.patient_key
                     AND r.codes = '{http://loinc.org|24606-6}'))::int) AS numerator,
       avg((EXISTS (SELECT 1 FROM hedis.resource r WHERE r.patient_key = p.patient_key
                     AND r.codes = '{http://hl7.org/fhir/sid/icd-10-cm|Z51.5}'))::int) AS exclusion_dx,
       (SELECT avg((r.codes = '{http://snomed.info/sct|183919006}')::int) FROM hedis.resource r
         WHERE starts_with(r.patient_ref, 'gen-31-') AND r.resource_type = 'Encounter') AS exclusion_visits
  FROM hedis.patient p WHERE starts_with(p.fhir_id, 'gen-31-');
SELECT ok((SELECT numerator BETWEEN 0.27 AND 0.43 FROM role_share),
          'a value set the numerator reaches is drawn for about a third of the patients');
SELECT ok((SELECT exclusion_dx < 0.08 FROM role_share),
          'a Condition value set only an exclusion reaches is drawn a tenth as often');
SELECT ok((SELECT exclusion_visits < 0.05 FROM role_share),
          'an exclusion''s encounter type is rare among the visits');

-- ---------------------------------------------------------------- replicate_patients
SELECT hedis.replicate_patients(ARRAY['gen-8-1', 'gen-8-2'], 3) AS replicated \gset
SELECT is(:'replicated'::bigint,
          3 * (SELECT count(*) FROM hedis.resource WHERE patient_ref IN ('gen-8-1', 'gen-8-2')),
          'replicate_patients writes every resource once per copy');
SELECT results_eq(
    $$SELECT r.resource_type, count(*) FROM hedis.resource r
       WHERE r.patient_ref ~ '^gen-8-[12]-copy[123]$' GROUP BY 1 ORDER BY 1$$,
    $$SELECT r.resource_type, 3 * count(*) FROM hedis.resource r
       WHERE r.patient_ref IN ('gen-8-1', 'gen-8-2') GROUP BY 1 ORDER BY 1$$,
    'each copy has the same resources by type');
SELECT is((SELECT count(*) FROM hedis.resource r
            WHERE r.patient_ref ~ '-copy[123]$'
              AND (r.resource->>'id' <> r.fhir_id
                   OR r.resource::text ~ '"reference": "[A-Za-z]+/gen-8-[12](-(cov|enc|bp|[b-h])[0-9]+)?"')),
          0::bigint, 'copies carry their new ids and reference only their own copies');
SELECT throws_ok($$SELECT hedis.replicate_patients(ARRAY['gen-8-1'], 1)$$, '23505', NULL,
                 'replicating into existing copies is refused');
SELECT throws_ok($$SELECT hedis.replicate_patients(ARRAY['no-such-patient'], 1)$$, '42704', NULL,
                 'unknown patients are refused');

SELECT * FROM finish();
ROLLBACK;
