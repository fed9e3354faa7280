-- store_basic: load_bundle, idempotence, references, errors that keep nothing
SET client_min_messages = warning;

-- a transaction bundle: urn:uuid references resolved through fullUrl,
-- relative and absolute Patient references, a nested Bundle (not loaded),
-- a Medication (no patient), a ValueSet and a MeasureReport whose patient
-- is named only in a contained Parameters resource
CREATE TEMP TABLE b1 AS SELECT $json$
{"resourceType": "Bundle", "type": "transaction", "entry": [
  {"fullUrl": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000001",
   "resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1960-05-17", "gender": "female"}},
  {"fullUrl": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000002",
   "resource": {"resourceType": "Condition", "id": "c1",
                "subject": {"reference": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000001"},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"},
                                    {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"}]},
                "onsetDateTime": "2025-03-04T10:00:00Z", "abatementDateTime": "2026-02"}},
  {"resource": {"resourceType": "Encounter", "id": "e1",
                "subject": {"reference": "http://example.org/fhir/Patient/p1/_history/3"},
                "type": [{"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "99213"}]}],
                "period": {"start": "2026-01-10T09:00:00-05:00", "end": "2026-01-10T09:30:00-05:00"}}},
  {"resource": {"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/p1"},
                "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
                "effectiveDateTime": "2026-06-01"}},
  {"resource": {"resourceType": "Coverage", "id": "cov1", "beneficiary": {"reference": "Patient/p1"},
                "type": {"coding": [{"system": "https://nahdo.org/sopt", "code": "1"}]},
                "period": {"start": "2026-01-01"}}},
  {"resource": {"resourceType": "Medication", "id": "m1",
                "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "860975"}]}}},
  {"resource": {"resourceType": "MeasureReport", "id": "mr1", "status": "complete", "type": "individual",
                "contained": [{"resourceType": "Parameters", "id": "x",
                               "parameter": [{"name": "subject", "valueString": "p1"}]}],
                "period": {"start": "2026-01-01", "end": "2026-12-31"}}},
  {"resource": {"resourceType": "ValueSet", "id": "vs1", "url": "http://example.org/ValueSet/diabetes",
                "version": "1", "name": "Diabetes",
                "expansion": {"contains": [
                   {"system": "http://snomed.info/sct", "code": "44054006"},
                   {"abstract": true, "contains": [
                       {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"}]}]}}},
  {"resource": {"resourceType": "Bundle", "id": "nested", "type": "collection",
                "entry": [{"resource": {"resourceType": "Patient", "id": "nested-only"}}]}}
]}
$json$::jsonb AS b;

SELECT hedis.load_bundle(b) AS stored FROM b1;

SELECT resource_type, fhir_id, patient_ref, patient_key IS NOT NULL AS has_key, codes,
       period_start AT TIME ZONE 'UTC' AS start_utc, period_end AT TIME ZONE 'UTC' AS end_utc
  FROM hedis.resource ORDER BY resource_type, fhir_id;
SELECT fhir_id, birth_date, gender FROM hedis.patient ORDER BY fhir_id;
-- every resource of p1 carries p1's key
SELECT count(*) AS p1_resources
  FROM hedis.resource r JOIN hedis.patient p USING (patient_key) WHERE p.fhir_id = 'p1';
SELECT valueset_url, valueset_version, system, code FROM hedis.valueset_code ORDER BY system, code;
SELECT generation FROM hedis.knowledge_state;

-- loading the same bundle again changes nothing (and no knowledge generation)
SELECT hedis.load_bundle(b) AS stored_again FROM b1;
SELECT (SELECT count(*) FROM hedis.resource) AS resources,
       (SELECT count(*) FROM hedis.patient) AS patients,
       (SELECT count(*) FROM hedis.valueset_code) AS codes,
       (SELECT generation FROM hedis.knowledge_state) AS generation;

-- terminology
SELECT hedis.in_valueset('http://hl7.org/fhir/sid/icd-10-cm', 'E11.9', 'http://example.org/ValueSet/diabetes') AS nested_member,
       hedis.in_valueset('http://snomed.info/sct', '44054006', 'http://example.org/ValueSet/diabetes|1') AS versioned,
       hedis.in_valueset('http://snomed.info/sct', '44054006', 'http://example.org/ValueSet/diabetes|2') AS other_version,
       hedis.in_valueset('http://loinc.org', '44054006', 'http://example.org/ValueSet/diabetes') AS wrong_system;

-- errors: each names the entry and keeps nothing of its call
SELECT hedis.load_bundle('[]');
SELECT hedis.load_bundle('{"resourceType": "Patient", "id": "x"}');
SELECT hedis.load_bundle('{"resourceType": "Bundle", "entry": {"resource": {}}}');
SELECT hedis.load_bundle('{"resourceType": "Bundle", "entry": [
  {"resource": {"resourceType": "Patient", "id": "kept-not"}}, 42]}');
SELECT hedis.load_bundle('{"resourceType": "Bundle", "entry": [
  {"resource": {"resourceType": "Patient", "id": "kept-not"}}, {"fullUrl": "x"}]}');
SELECT hedis.load_bundle('{"resourceType": "Bundle", "entry": [
  {"resource": {"resourceType": "Patient", "id": "kept-not"}},
  {"resource": {"id": "no-type", "subject": {"reference": "Patient/kept-not"}}}]}');
SELECT hedis.load_bundle('{"resourceType": "Bundle", "entry": [
  {"resource": {"resourceType": "Patient", "id": "kept-not"}},
  {"resource": {"resourceType": "Condition", "id": "orphan"}}]}');
SELECT hedis.load_bundle('{"resourceType": "Bundle", "entry": [
  {"resource": {"resourceType": "Patient", "id": "kept-not"}},
  {"resource": {"resourceType": "Observation", "id": "o9", "subject": {"reference": "urn:uuid:nowhere"}}}]}');
SELECT hedis.load_bundle('{"resourceType": "Bundle", "entry": [
  {"resource": {"resourceType": "Observation", "id": "o9", "subject": {"reference": "Group/g1"}}}]}');
SELECT hedis.load_bundle('{"resourceType": "Bundle", "entry": [
  {"resource": {"resourceType": "Patient", "id": "kept-not"}},
  {"resource": {"resourceType": "Patient", "birthDate": "1960"}}]}');
SELECT hedis.load_bundle('{"resourceType": "Bundle", "entry": [
  {"resource": {"resourceType": "Patient", "id": "kept-not", "birthDate": "1960-02-30"}}]}');
SELECT hedis.load_bundle('{"resourceType": "Bundle", "entry": [
  {"resource": {"resourceType": "Patient", "id": "kept-not"}},
  {"resource": {"resourceType": "ValueSet", "url": "http://example.org/ValueSet/empty",
                "compose": {"include": [{"valueSet": ["http://example.org/ValueSet/other"]}]}}}]}');
SELECT hedis.load_bundle('{"resourceType": "Bundle", "entry": [
  {"resource": {"resourceType": "Library", "name": "NoUrl"}}]}');
SELECT (SELECT count(*) FROM hedis.resource) AS resources,
       (SELECT count(*) FROM hedis.patient WHERE fhir_id = 'kept-not') AS kept_not,
       (SELECT count(*) FROM hedis.valueset) AS valuesets,
       (SELECT generation FROM hedis.knowledge_state) AS generation;

-- a resource whose patient is not loaded yet waits with patient_key NULL ...
SELECT hedis.load_bundle('{"resourceType": "Bundle", "entry": [
  {"resource": {"resourceType": "Procedure", "id": "pr2", "subject": {"reference": "Patient/p2"},
                "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "77067"}]},
                "performedPeriod": {"start": "2026-04-01", "end": "2026-04-01"}}}]}');
SELECT fhir_id, patient_ref, patient_key IS NULL AS waiting FROM hedis.resource WHERE fhir_id = 'pr2';
-- ... and is attached when the patient arrives
SELECT hedis.load_bundle('{"resourceType": "Bundle", "entry": [
  {"resource": {"resourceType": "Patient", "id": "p2", "birthDate": "1970"}}]}');
SELECT r.fhir_id, r.patient_key = p.patient_key AS attached, p.birth_date
  FROM hedis.resource r JOIN hedis.patient p ON p.fhir_id = 'p2' WHERE r.fhir_id = 'pr2';

-- Library: the application/elm+json content is decoded into elm
SELECT hedis.load_bundle(jsonb_build_object('resourceType', 'Bundle', 'entry', jsonb_build_array(
  jsonb_build_object('resource', jsonb_build_object(
    'resourceType', 'Library', 'url', 'http://example.org/Library/Tiny', 'version', '1.0.0', 'name', 'Tiny',
    'content', jsonb_build_array(
       jsonb_build_object('contentType', 'text/cql', 'data', encode(convert_to('library Tiny', 'UTF8'), 'base64')),
       jsonb_build_object('contentType', 'application/elm+json',
                          'data', encode(convert_to('{"library": {"identifier": {"id": "Tiny"}}}', 'UTF8'), 'base64'))))))));
SELECT url, version, name, elm FROM hedis.library;
SELECT generation FROM hedis.knowledge_state;

-- deleting a patient removes its resources
DELETE FROM hedis.patient WHERE fhir_id = 'p2';
SELECT count(*) AS pr2_left FROM hedis.resource WHERE fhir_id IN ('pr2', 'p2');

-- references to entries of the same bundle are stored as the Type/id the
-- entry is stored under (FHIR "Resolving references in Bundles", and what a
-- transaction does): a urn:uuid, an absolute URL, and a relative reference
-- that only the fullUrl matches (MADiE's test bundles rename resources but
-- keep the old id in the fullUrl and in references to them); references to
-- nothing in the bundle, to a contained resource, or already by Type/id
-- stay as written, and so does a version of an entry named by its own Type/id
SELECT hedis.load_bundle($json$
{"resourceType": "Bundle", "type": "transaction", "entry": [
  {"fullUrl": "https://ex.org/fhir/Patient/ref-p-old",
   "resource": {"resourceType": "Patient", "id": "ref-p-new", "birthDate": "1970-01-01"}},
  {"fullUrl": "https://ex.org/fhir/Condition/ref-c-old",
   "resource": {"resourceType": "Condition", "id": "ref-c-new", "subject": {"reference": "Patient/ref-p-old"}}},
  {"fullUrl": "urn:uuid:bbbbbbbb-0000-0000-0000-000000000001",
   "resource": {"resourceType": "Condition", "subject": {"reference": "Patient/ref-p-old"}}},
  {"fullUrl": "https://ex.org/fhir/Location/ref-l1",
   "resource": {"resourceType": "Location", "id": "ref-l1"}},
  {"fullUrl": "https://ex.org/fhir/Encounter/ref-e-old",
   "resource": {"resourceType": "Encounter", "id": "ref-e-new",
                "subject": {"reference": "https://ex.org/fhir/Patient/ref-p-old"},
                "diagnosis": [{"condition": {"reference": "Condition/ref-c-old"}},
                              {"condition": {"reference": "urn:uuid:bbbbbbbb-0000-0000-0000-000000000001"}},
                              {"condition": {"reference": "https://ex.org/fhir/Condition/ref-c-old/_history/1"}},
                              {"condition": {"reference": "Condition/elsewhere"}},
                              {"condition": {"reference": "#contained-1"}}],
                "location": [{"location": {"reference": "Location/ref-l1"}},
                             {"location": {"reference": "Location/ref-l1/_history/2"}}],
                "participant": [{"individual": {"reference": "Practitioner/ref-pr1", "display": "Dr. No"}}]}}]}
$json$::jsonb);
SELECT fhir_id, patient_ref, resource->'subject' AS subject FROM hedis.resource
 WHERE fhir_id LIKE 'ref-%' OR fhir_id = 'bbbbbbbb-0000-0000-0000-000000000001' ORDER BY fhir_id;
SELECT jsonb_path_query(resource, '$.**.reference') AS reference
  FROM hedis.resource WHERE fhir_id = 'ref-e-new';
