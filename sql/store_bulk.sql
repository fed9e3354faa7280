-- store_bulk: NDJSON and value-set CSV from client text; bad lines are
-- recorded in hedis.load_error and do not stop the load
SET client_min_messages = warning;

SELECT * FROM hedis.load_ndjson(
'{"resourceType": "Observation", "id": "n-o1", "subject": {"reference": "Patient/n-p1"}, "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "effectivePeriod": {"start": "2026-02-01T08:00:00Z"}}
{"resourceType": "Patient", "id": "n-p1", "birthDate": "1950-01-01"}

{"resourceType": "Observation", "id": "n-o2", "subject": {"reference": "Patient/n-p1"}
{"id": "n-x"}
[1, 2]
{"resourceType": "Condition", "id": "n-c1"}
{"resourceType": "Bundle", "type": "collection"}
{"resourceType": "ValueSet", "url": "http://example.org/ValueSet/nothing"}
{"resourceType": "Encounter", "id": "n-e1", "subject": {"reference": "Patient/n-p1"}, "period": {"start": "2026-03-01"}}
{"resourceType": "Observation", "id": "n-o3", "subject": {"reference": "Patient/n-p1"}, "valueString": "\u0000"}
');
SELECT line_number, reason FROM hedis.load_error ORDER BY line_number;
SELECT resource_type, fhir_id, patient_key IS NOT NULL AS attached
  FROM hedis.resource WHERE fhir_id LIKE 'n-%' ORDER BY resource_type, fhir_id;
SELECT source, kind, loaded, rejected, finished_at IS NOT NULL AS finished FROM hedis.load_log;

-- progress NOTICE every hedis.load_progress_rows lines
SET client_min_messages = notice;
SET hedis.load_progress_rows = 2;
SELECT * FROM hedis.load_ndjson(
'{"resourceType": "Patient", "id": "n-p2"}
{"resourceType": "Patient", "id": "n-p3"}
{"resourceType": "Patient", "id": "n-p4"}');
RESET hedis.load_progress_rows;
SET client_min_messages = warning;

-- value-set CSV: header, OID and url value sets, code system names, quoting
TRUNCATE hedis.load_error;
SELECT * FROM hedis.load_valueset_csv(
'Value Set OID,Value Set Name,Code,Code System,Version
2.16.840.1.113883.3.464.1003.101.12.1001,Office Visit,99213,CPT,20240101
2.16.840.1.113883.3.464.1003.101.12.1001,Office Visit,"99214",CPT,20240101
2.16.840.1.113883.3.464.1003.101.12.1001,Office Visit,185349003,SNOMEDCT,20240101
http://example.org/ValueSet/bp,"Blood pressure, systolic",8480-6,LOINC,
http://example.org/ValueSet/bp,"Blood pressure, systolic",8480-6,http://loinc.org,
2.16.840.1.113883.3.464.1003.101.12.1001,Office Visit,99215,CPT
2.16.840.1.113883.3.464.1003.101.12.1001,Office Visit,"99216,CPT,20240101
2.16.840.1.113883.3.464.1003.101.12.1001,Office Visit,99"217,CPT,20240101
2.16.840.1.113883.3.464.1003.101.12.1001,Office Visit,99218,NOSUCHSYSTEM,20240101
not-a-valueset,Office Visit,99219,CPT,20240101
2.16.840.1.113883.3.464.1003.101.12.1001,Office Visit,,CPT,20240101
');
SELECT line_number, raw_text, reason FROM hedis.load_error ORDER BY line_number;
SELECT v.url, v.version, v.name, c.system, c.code
  FROM hedis.valueset v JOIN hedis.valueset_code c
       ON c.valueset_url = v.url AND c.valueset_version = v.version
 ORDER BY v.url, c.system, c.code;
SELECT hedis.in_valueset('http://www.ama-assn.org/go/cpt', '99214',
                         'http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113883.3.464.1003.101.12.1001') AS member;
SELECT generation AS generation_after_csv FROM hedis.knowledge_state \gset
-- the same file again: nothing changes, not even the generation
SELECT * FROM hedis.load_valueset_csv(
'2.16.840.1.113883.3.464.1003.101.12.1001,Office Visit,99213,CPT,20240101
2.16.840.1.113883.3.464.1003.101.12.1001,Office Visit,99214,CPT,20240101
2.16.840.1.113883.3.464.1003.101.12.1001,Office Visit,185349003,SNOMEDCT,20240101
http://example.org/ValueSet/bp,"Blood pressure, systolic",8480-6,LOINC,');
SELECT generation = :generation_after_csv AS unchanged,
       (SELECT count(*) FROM hedis.valueset_code) AS codes
  FROM hedis.knowledge_state;
-- a value set reloaded with fewer codes loses the others
SELECT * FROM hedis.load_valueset_csv(
'http://example.org/ValueSet/bp,Blood pressure,8462-4,LOINC,');
SELECT url, name, (SELECT array_agg(code) FROM hedis.valueset_code c WHERE c.valueset_url = v.url) AS codes
  FROM hedis.valueset v WHERE url = 'http://example.org/ValueSet/bp';
SELECT generation > :generation_after_csv AS bumped FROM hedis.knowledge_state;

-- privileges: the file loaders need pg_read_server_files
CREATE ROLE regress_hedis_loader;
GRANT hedis_loader TO regress_hedis_loader;
SET ROLE regress_hedis_loader;
SELECT * FROM hedis.load_ndjson_file('/nonexistent.ndjson');
SELECT * FROM hedis.load_valueset_csv_file('/nonexistent.csv');
-- the text variants are allowed
SELECT * FROM hedis.load_ndjson('{"resourceType": "Patient", "id": "by-loader"}');
RESET ROLE;
SELECT * FROM hedis.load_ndjson_file('/nonexistent.ndjson');
DROP OWNED BY regress_hedis_loader;
DROP ROLE regress_hedis_loader;
