-- store_ecqm: load the official eCQM material (../shared/ecqm) and check the
-- store against counts computed from the files themselves; load it all a
-- second time and check that nothing changes.  Skips when the material is
-- absent (HEDIS_ECQM unset or empty: scripts/cluster.sh sets it).
\set ON_ERROR_STOP 1
\set QUIET 1
\getenv ecqm HEDIS_ECQM
\if :{?ecqm}
\else
\set ecqm ''
\endif
SELECT :'ecqm' <> '' AS have_ecqm \gset
SET client_min_messages = warning;
BEGIN;
\if :have_ecqm
SELECT plan(17);

-- the raw files, read by the server
CREATE TEMP TABLE raw_file AS
SELECT 'valueset' AS kind, m AS measure, pg_read_file(:'ecqm' || '/' || m || '/valuesets.json')::jsonb AS doc
  FROM pg_ls_dir(:'ecqm') m WHERE m LIKE 'CMS%'
UNION ALL
SELECT 'library', NULL, pg_read_file(:'ecqm' || '/libraries/' || f)::jsonb
  FROM pg_ls_dir(:'ecqm' || '/libraries') f WHERE f LIKE '%.json'
UNION ALL
SELECT 'measure', m, pg_read_file(:'ecqm' || '/' || m || '/measure.json')::jsonb
  FROM pg_ls_dir(:'ecqm') m WHERE m LIKE 'CMS%'
UNION ALL
SELECT 'test', m, pg_read_file(:'ecqm' || '/' || m || '/tests/' || f)::jsonb
  FROM pg_ls_dir(:'ecqm') m, pg_ls_dir(:'ecqm' || '/' || m || '/tests') f
 WHERE m LIKE 'CMS%' AND f LIKE '%.json';

CREATE TEMP TABLE raw_entry AS
SELECT f.kind, e->'resource' AS r
  FROM raw_file f, jsonb_array_elements(f.doc->'entry') e
 WHERE f.doc->>'resourceType' = 'Bundle';

SELECT is((SELECT count(*) FROM raw_file WHERE kind = 'test'), 287::bigint, 'the decks hold 287 test bundles');

-- load: value sets, libraries and measures (single resources are wrapped in a
-- collection bundle), then every test bundle
CREATE TEMP TABLE load_result AS
SELECT kind, sum(hedis.load_bundle(CASE WHEN doc->>'resourceType' = 'Bundle' THEN doc
              ELSE jsonb_build_object('resourceType', 'Bundle', 'type', 'collection',
                                      'entry', jsonb_build_array(jsonb_build_object('resource', doc)))
              END))::bigint AS stored
  FROM raw_file GROUP BY kind;

SELECT is((SELECT stored FROM load_result WHERE kind = 'test'),
          (SELECT count(*) FROM raw_entry WHERE kind = 'test' AND r->>'resourceType' <> 'Bundle'),
          'load_bundle counts every test resource once (nested bundles skipped)');

SELECT results_eq(
    'SELECT resource_type, count(*) FROM hedis.resource GROUP BY 1 ORDER BY 1',
    $$SELECT r->>'resourceType', count(DISTINCT r->>'id') FROM raw_entry
       WHERE kind = 'test' AND r->>'resourceType' <> 'Bundle' GROUP BY 1 ORDER BY 1$$,
    'resources by type match the test bundles');

SELECT is((SELECT count(*) FROM hedis.patient),
          (SELECT count(DISTINCT r->>'id') FROM raw_entry WHERE kind = 'test' AND r->>'resourceType' = 'Patient'),
          'one hedis.patient row per Patient');

SELECT is((SELECT count(*) FROM hedis.resource WHERE patient_key IS NULL AND resource_type <> 'Medication'),
          0::bigint, 'every patient resource is attached to its patient');

SELECT results_eq(
    $$SELECT r.fhir_id, p.fhir_id FROM hedis.resource r JOIN hedis.patient p USING (patient_key)
       WHERE r.resource_type = 'MeasureReport' ORDER BY 1$$,
    $$SELECT r->>'id', (SELECT x->>'valueString' FROM jsonb_array_elements(r->'contained') c,
                               jsonb_array_elements(c->'parameter') x WHERE x->>'name' = 'subject')
        FROM raw_entry WHERE kind = 'test' AND r->>'resourceType' = 'MeasureReport' ORDER BY 1$$,
    'each expected-result MeasureReport is stored with its patient');

SELECT is((SELECT count(*) FROM hedis.resource
            WHERE resource_type IN ('Condition', 'Encounter', 'Observation', 'Procedure', 'Coverage',
                                    'ServiceRequest', 'DeviceRequest') AND codes = '{}'),
          0::bigint, 'coded resources have their codes extracted');

SELECT is((SELECT count(*) FROM hedis.resource
            WHERE resource_type IN ('Encounter', 'Observation', 'Procedure', 'Condition', 'MeasureReport')
              AND period_start IS NULL),
          0::bigint, 'dated resources have period_start');

SELECT results_eq(
    'SELECT url, version FROM hedis.library ORDER BY 1, 2',
    $$SELECT doc->>'url', doc->>'version' FROM raw_file WHERE kind = 'library' ORDER BY 1, 2$$,
    'the 14 libraries are stored by url and version');

SELECT is((SELECT count(*) FROM hedis.library WHERE elm ? 'library'), 14::bigint,
          'every library has its ELM JSON decoded');

SELECT results_eq(
    'SELECT url, version FROM hedis.measure ORDER BY 1, 2',
    $$SELECT doc->>'url', doc->>'version' FROM raw_file WHERE kind = 'measure' ORDER BY 1, 2$$,
    'the 5 measures are stored by url and version');

SELECT is((SELECT count(*) FROM hedis.valueset),
          (SELECT count(DISTINCT (r->>'url', r->>'version')) FROM raw_entry WHERE kind = 'valueset'),
          'one hedis.valueset row per distinct value set');

SELECT is((SELECT count(*) FROM hedis.valueset_code),
          (SELECT count(*) FROM (
              SELECT DISTINCT r->>'url', r->>'version', c->>'system', c->>'code'
                FROM raw_entry, jsonb_array_elements(r->'expansion'->'contains') c
               WHERE kind = 'valueset'
              UNION
              SELECT DISTINCT r->>'url', r->>'version', i->>'system', c->>'code'
                FROM raw_entry, jsonb_array_elements(r->'compose'->'include') i,
                     jsonb_array_elements(i->'concept') c
               WHERE kind = 'valueset' AND NOT r ? 'expansion') x),
          'value-set codes match the expansions (compose concepts where there is none)');

SELECT ok(hedis.in_valueset('http://snomed.info/sct', '248153007',
                            'http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113762.1.4.1021.121'),
          'in_valueset finds a compose-only value set member');

-- everything a second time
CREATE TEMP TABLE before_counts AS
SELECT (SELECT count(*) FROM hedis.resource) AS resources, (SELECT count(*) FROM hedis.patient) AS patients,
       (SELECT count(*) FROM hedis.library) AS libraries, (SELECT count(*) FROM hedis.valueset_code) AS codes,
       (SELECT generation FROM hedis.knowledge_state) AS generation,
       (SELECT sum(patient_key) FROM hedis.patient) AS keys;
SELECT sum(hedis.load_bundle(CASE WHEN doc->>'resourceType' = 'Bundle' THEN doc
           ELSE jsonb_build_object('resourceType', 'Bundle', 'type', 'collection',
                                   'entry', jsonb_build_array(jsonb_build_object('resource', doc)))
           END)) AS stored_again
  FROM raw_file \gset
SELECT is(:stored_again::bigint, (SELECT sum(stored) FROM load_result)::bigint,
          'the second load stores as many resources as the first');
SELECT results_eq(
    $$SELECT (SELECT count(*) FROM hedis.resource), (SELECT count(*) FROM hedis.patient),
             (SELECT count(*) FROM hedis.library), (SELECT count(*) FROM hedis.valueset_code),
             (SELECT generation FROM hedis.knowledge_state), (SELECT sum(patient_key) FROM hedis.patient)$$,
    'SELECT * FROM before_counts',
    'loading everything twice changes nothing (counts, keys, knowledge generation)');
SELECT cmp_ok((SELECT generation FROM hedis.knowledge_state), '>', 0::bigint,
              'loading knowledge advanced the generation');
\else
SELECT plan(1);
SELECT skip('../shared/ecqm is absent: eCQM store tests skipped', 1);
\endif
SELECT * FROM finish();
ROLLBACK;
