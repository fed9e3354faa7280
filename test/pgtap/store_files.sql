-- store_files: the server-side file loaders (NDJSON, value-set CSV) on the
-- fixtures in test/fixtures (HEDIS_FIXTURES: a copy the server can read).
\set ON_ERROR_STOP 1
\set QUIET 1
\getenv fixtures HEDIS_FIXTURES
\if :{?fixtures}
\else
\set fixtures ''
\endif
SELECT :'fixtures' <> '' AS have_fixtures \gset
SET client_min_messages = warning;
BEGIN;
\if :have_fixtures
SELECT plan(9);

SELECT results_eq(
    format('SELECT * FROM hedis.load_ndjson_file(%L)', :'fixtures' || '/store_patients.ndjson'),
    'VALUES (5::bigint, 2::bigint)',
    'NDJSON file: good lines loaded, bad lines rejected');
SELECT results_eq(
    $$SELECT line_number, reason FROM hedis.load_error ORDER BY line_number$$,
    $$VALUES (4::bigint, 'invalid byte sequence for encoding "UTF8"'),
             (6::bigint, 'invalid JSON: Expected ":", but found ""f-p3"".')$$,
    'NDJSON file: each bad line is recorded with its number and reason');
SELECT is((SELECT raw_text FROM hedis.load_error WHERE line_number = 4),
          '{"resourceType": "Patient", "id": "bad-\xFF"}',
          'a non-UTF-8 byte is kept visibly escaped in raw_text');
SELECT is((SELECT count(*) FROM hedis.resource r JOIN hedis.patient p USING (patient_key)
            WHERE p.fhir_id = 'f-p1'), 3::bigint,
          'NDJSON file: the observation loaded before its patient is attached to it');

TRUNCATE hedis.load_error;
SELECT results_eq(
    format('SELECT * FROM hedis.load_valueset_csv_file(%L)', :'fixtures' || '/store_valuesets.csv'),
    'VALUES (3::bigint, 3::bigint)',
    'CSV file: good rows loaded, bad rows rejected');
SELECT results_eq(
    $$SELECT line_number, reason FROM hedis.load_error ORDER BY line_number$$,
    $$VALUES (4::bigint, 'invalid byte sequence for encoding "UTF8"'),
             (5::bigint, 'expected 5 columns (value set, name, code, code system, version), found 6'),
             (6::bigint, 'broken quote: quoted field not closed at the end of the line')$$,
    'CSV file: non-UTF-8 byte, wrong column count and broken quote are rejected by line');
SELECT ok(hedis.in_valueset('http://hl7.org/fhir/sid/icd-10-cm', 'Z12.31',
                            'http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113883.3.464.1003.108.12.1018'),
          'CSV file: codes are in the terminology index');

SELECT throws_ok(
    format('SELECT * FROM hedis.load_ndjson_file(%L)', :'fixtures' || '/does-not-exist.ndjson'),
    '58P01', NULL, 'a missing file is an error');

CREATE ROLE pgtap_hedis_loader;
GRANT hedis_loader TO pgtap_hedis_loader;
SET ROLE pgtap_hedis_loader;
SELECT throws_ok(
    format('SELECT * FROM hedis.load_valueset_csv_file(%L)', :'fixtures' || '/store_valuesets.csv'),
    '42501', NULL, 'file loading without pg_read_server_files is refused');
RESET ROLE;
\else
SELECT plan(1);
SELECT skip('HEDIS_FIXTURES is not set: run through make test', 1);
\endif
SELECT * FROM finish();
ROLLBACK;
