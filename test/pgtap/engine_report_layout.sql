-- engine_report_layout: individual MeasureReports (hedis.evaluate) and
-- compact results are written in jsonb's binary format by the engine itself
-- (src/engine/jsonb_tree.c), not by PostgreSQL's JsonbValueToJsonb.  What it
-- writes must read back as PostgreSQL's own writing of the same document:
-- equal as jsonb, the same size, the same text; and an array past 32
-- elements (where the layout stores offsets instead of lengths) must hold
-- what was put in it.
-- Uses the team's demo measure (demo/) and a generated population.
\set ON_ERROR_STOP 1
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(4);

\set patients 80
\set seed 33
\ir include/demo_population.psql

-- r as the engine returned it (not stored: a stored value may be compressed)
CREATE FUNCTION pg_temp.as_postgres_writes_it(r jsonb) RETURNS bool LANGUAGE sql AS $$
    SELECT r = r::text::jsonb AND pg_column_size(r) = pg_column_size(r::text::jsonb)
       AND r::text = r::text::jsonb::text
$$;

SELECT is((SELECT count(*) FROM pk JOIN hedis.patient p USING (patient_key)
            WHERE NOT pg_temp.as_postgres_writes_it(
                      hedis.evaluate('DemoWellness', p.fhir_id, '2026-01-01', '2026-12-31'))
               OR NOT pg_temp.as_postgres_writes_it(
                      hedis.evaluate_patient_result('DemoWellness', p.patient_key, '2026-01-01', '2026-12-31'))),
          0::bigint, 'MeasureReports and compact results read back as PostgreSQL writes them');

-- a patient with 40 more office visits in the period: its report's
-- evaluatedResource lists them all, past the 32nd element
SELECT p.fhir_id AS busy, r.resource AS visit
  FROM pk JOIN hedis.patient p USING (patient_key)
  JOIN hedis.resource r ON r.patient_key = p.patient_key AND r.resource_type = 'Encounter'
 WHERE (hedis.evaluate_patient_result('DemoWellness', p.patient_key, '2026-01-01', '2026-12-31')
          #>> '{groups,0,populations,initial-population}')::int = 1
   AND r.period_start >= '2026-01-01' AND r.period_start < '2027-01-01'
 ORDER BY p.patient_key, r.fhir_id LIMIT 1 \gset
SELECT hedis.load_bundle(jsonb_build_object('resourceType', 'Bundle', 'type', 'collection',
         'entry', jsonb_agg(jsonb_build_object('resource',
                    jsonb_set(:'visit'::jsonb, '{id}', to_jsonb('busy-visit-' || g))))))
  FROM generate_series(1, 40) g \gset

SELECT hedis.evaluate('DemoWellness', :'busy', '2026-01-01', '2026-12-31') AS busy_report \gset
SELECT cmp_ok(jsonb_array_length(:'busy_report'::jsonb -> 'evaluatedResource'), '>', 40,
              'the busy patient''s evaluatedResource has more than 40 elements');
SELECT ok(pg_temp.as_postgres_writes_it(hedis.evaluate('DemoWellness', :'busy', '2026-01-01', '2026-12-31')),
          'and reads back as PostgreSQL writes it');
SELECT is((SELECT count(*) FROM generate_series(1, 40) g
            WHERE NOT EXISTS (SELECT 1
                                FROM jsonb_array_elements(
                                       hedis.evaluate('DemoWellness', :'busy', '2026-01-01', '2026-12-31')
                                       -> 'evaluatedResource') e
                               WHERE e->>'reference' = 'Encounter/busy-visit-' || g)),
          0::bigint, 'every one of the 40 visits is named in it, whatever its position');

SELECT * FROM finish();
ROLLBACK;
