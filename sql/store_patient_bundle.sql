-- store_patient_bundle: load_bundle(..., patient_bundle => true) stores every
-- clinical resource of a one-patient bundle as that patient's, whatever its
-- references say; the default keeps attributing by reference
SET client_min_messages = warning;

-- the error and its SQLSTATE of one load, or the number stored
CREATE FUNCTION pg_temp.try_load(b jsonb, pb boolean) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    RETURN hedis.load_bundle(b, patient_bundle => pb)::text;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- a test-case bundle: the Patient is pb-p1, but the Encounter names
-- Patient/Patient-1 (as MADiE exports do), the Observation names nobody,
-- the Condition's urn:uuid matches no entry, the Device names another
-- patient; the Medication is shared; a nested Bundle with its own Patient
-- is skipped and is not counted as the bundle's patient
CREATE TEMP TABLE pb AS SELECT $json$
{"resourceType": "Bundle", "type": "collection", "entry": [
  {"fullUrl": "urn:uuid:bbbbbbbb-0000-0000-0000-000000000001",
   "resource": {"resourceType": "Patient", "id": "pb-p1", "birthDate": "1970-01-02", "gender": "male"}},
  {"resource": {"resourceType": "Encounter", "id": "pb-e1", "subject": {"reference": "Patient/Patient-1"},
                "period": {"start": "2026-02-01T08:00:00Z", "end": "2026-02-01T09:00:00Z"}}},
  {"resource": {"resourceType": "Observation", "id": "pb-o1",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "effectiveDateTime": "2026-02-01T08:30:00Z"}},
  {"resource": {"resourceType": "Condition", "id": "pb-c1",
                "subject": {"reference": "urn:uuid:bbbbbbbb-0000-0000-0000-00000000dead"},
                "onsetDateTime": "2025-01-01T00:00:00Z"}},
  {"resource": {"resourceType": "Device", "id": "pb-d1", "patient": {"reference": "Patient/someone-else"}}},
  {"resource": {"resourceType": "Medication", "id": "pb-m1",
                "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "860975"}]}}},
  {"resource": {"resourceType": "Bundle", "id": "pb-nested", "type": "collection",
                "entry": [{"resource": {"resourceType": "Patient", "id": "pb-nested-only"}}]}}
]}
$json$::jsonb AS b;

-- default: references decide, so the Observation without subject refuses
-- the whole bundle and nothing is stored
SELECT pg_temp.try_load(b, false) AS by_reference FROM pb;
SELECT hedis.load_bundle(b) AS stored_default FROM pb;
SELECT count(*) AS kept FROM hedis.resource WHERE fhir_id LIKE 'pb-%';

-- as a patient bundle everything but the shared Medication is pb-p1's
SELECT hedis.load_bundle(b, patient_bundle => true) AS stored FROM pb;
SELECT r.resource_type, r.fhir_id, r.patient_ref, p.fhir_id AS key_of,
       r.period_start AT TIME ZONE 'UTC' AS start_utc
  FROM hedis.resource r LEFT JOIN hedis.patient p USING (patient_key)
 WHERE r.fhir_id LIKE 'pb-%' ORDER BY r.resource_type, r.fhir_id;
SELECT fhir_id, birth_date, gender FROM hedis.patient WHERE fhir_id LIKE 'pb-%';
-- the resources are stored unchanged: their references still say what they said
SELECT resource->'subject'->>'reference' AS encounter_subject
  FROM hedis.resource WHERE resource_type = 'Encounter' AND fhir_id = 'pb-e1';

-- idempotent
SELECT hedis.load_bundle(b, true) AS stored_again FROM pb;
SELECT count(*) AS pb_resources FROM hedis.resource WHERE fhir_id LIKE 'pb-%';

-- a Patient without id takes the uuid of its urn:uuid fullUrl
SELECT hedis.load_bundle($json$
{"resourceType": "Bundle", "type": "collection", "entry": [
  {"resource": {"resourceType": "Procedure", "id": "pb-x1", "subject": {"reference": "Patient/p1"}}},
  {"fullUrl": "urn:uuid:pb-uuid-patient", "resource": {"resourceType": "Patient"}}
]}
$json$::jsonb, true) AS stored_uuid;
SELECT resource_type, fhir_id, patient_ref, patient_key IS NOT NULL AS has_key
  FROM hedis.resource WHERE fhir_id IN ('pb-x1', 'pb-uuid-patient') ORDER BY 1;

-- exactly one Patient, else SQLSTATE 22023 and nothing stored
SELECT pg_temp.try_load($json$
{"resourceType": "Bundle", "entry": [
  {"resource": {"resourceType": "Observation", "id": "pb-none-o"}}]}
$json$::jsonb, true) AS no_patient;
SELECT pg_temp.try_load($json$
{"resourceType": "Bundle", "entry": [
  {"resource": {"resourceType": "Patient", "id": "pb-two-a"}},
  {"resource": {"resourceType": "Patient", "id": "pb-two-b"}},
  {"resource": {"resourceType": "Observation", "id": "pb-two-o", "subject": {"reference": "Patient/pb-two-a"}}}]}
$json$::jsonb, true) AS two_patients;
SELECT pg_temp.try_load($json$
{"resourceType": "Bundle", "entry": [
  {"resource": {"resourceType": "Patient"}}]}
$json$::jsonb, true) AS patient_without_id;
SELECT count(*) AS kept FROM hedis.resource WHERE fhir_id LIKE 'pb-none%' OR fhir_id LIKE 'pb-two%';
-- the same two-patient bundle loads by reference
SELECT hedis.load_bundle($json$
{"resourceType": "Bundle", "entry": [
  {"resource": {"resourceType": "Patient", "id": "pb-two-a"}},
  {"resource": {"resourceType": "Patient", "id": "pb-two-b"}},
  {"resource": {"resourceType": "Observation", "id": "pb-two-o", "subject": {"reference": "Patient/pb-two-a"}}}]}
$json$::jsonb) AS by_reference;
SELECT patient_ref FROM hedis.resource WHERE fhir_id = 'pb-two-o';
-- an entry that is not an object is still reported by the load
SELECT pg_temp.try_load('{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", "id": "pb-z"}}, 3]}', true)
       AS bad_entry;
-- a NULL flag gives NULL (the function is strict)
SELECT hedis.load_bundle(b, NULL) IS NULL AS strict FROM pb;

-- leave the store as found
DELETE FROM hedis.resource WHERE fhir_id LIKE 'pb-%';
DELETE FROM hedis.patient WHERE fhir_id LIKE 'pb-%';
