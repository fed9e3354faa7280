-- runs_queue: the run queue (hedis.run, cancel_run, resume_run), the rate
-- formula and hedis.measure_report over hand-made results.  Does not need
-- the measure engine: nothing here commits, so no worker ever sees these runs.
\set ON_ERROR_STOP 1
\set QUIET 1
SET client_min_messages = error;
BEGIN;
SELECT plan(42);

INSERT INTO hedis.measure (url, version, name, resource)
VALUES ('http://example.org/Measure/M', '1.0.0', 'MeasureM', '{"resourceType":"Measure"}'),
       ('http://example.org/Measure/M', '2.0.0', 'MeasureM', '{"resourceType":"Measure"}');

-- ---------------------------------------------------------------- queueing
SELECT throws_ok($$SELECT hedis.run('NoSuchMeasure', '2026-01-01', '2026-12-31')$$,
                 '42704', 'measure "NoSuchMeasure" is not loaded', 'unknown measures are refused');
SELECT throws_ok($$SELECT hedis.run('MeasureM', '2026-12-31', '2026-01-01')$$,
                 '22023', NULL, 'an inverted period is refused');
SELECT hedis.run('MeasureM', '2026-01-01', '2026-12-31') AS r_name \gset
SELECT hedis.run('http://example.org/Measure/M|1.0.0', '2026-01-01', '2026-12-31', 5) AS r_v1 \gset
SELECT hedis.run('http://example.org/Measure/M', '2026-01-01', '2026-12-31', -1) AS r_url \gset
SELECT is((SELECT measure_ref FROM hedis.run WHERE run_id = :r_name),
          'http://example.org/Measure/M|2.0.0', 'a name resolves to the newest version');
SELECT is((SELECT measure_ref FROM hedis.run WHERE run_id = :r_v1),
          'http://example.org/Measure/M|1.0.0', 'url|version resolves to that version');
SELECT is((SELECT measure_ref FROM hedis.run WHERE run_id = :r_url),
          'http://example.org/Measure/M|2.0.0', 'a bare url resolves to the newest version');
SELECT results_eq(
    format($$SELECT status, mode, attempt, priority, patients_done FROM hedis.run
             WHERE run_id IN (%s, %s, %s) ORDER BY run_id$$, :r_name, :r_v1, :r_url),
    $$VALUES ('queued', 'background', 1, 0, 0::bigint), ('queued', 'background', 1, 5, 0::bigint),
             ('queued', 'background', 1, -1, 0::bigint)$$,
    'runs are queued with their priority, attempt 1, nothing done');
SELECT results_eq(
    format($$SELECT run_id FROM hedis.run WHERE status = 'queued' AND run_id IN (%s, %s, %s)
             ORDER BY priority DESC, run_id$$, :r_name, :r_v1, :r_url),
    format('VALUES (%s::bigint), (%s), (%s)', :r_v1, :r_name, :r_url),
    'queue order: priority, then age (the order the scheduler takes them)');
SELECT is((SELECT queued_by FROM hedis.run WHERE run_id = :r_name),
          (SELECT oid FROM pg_roles WHERE rolname = session_user), 'the run remembers who queued it');
SELECT results_eq(
    format('SELECT status, percent_done, rate, eta FROM hedis.runs WHERE run_id = %s', :r_name),
    $$VALUES ('queued', NULL::numeric, NULL::numeric, NULL::interval)$$,
    'hedis.runs shows a queued run without progress, rate or ETA');

-- ---------------------------------------------------------------- cancel
SELECT ok(hedis.cancel_run(:r_url), 'cancel_run cancels a queued run');
SELECT is((SELECT status FROM hedis.run WHERE run_id = :r_url), 'cancelled', 'status cancelled');
SELECT ok(NOT hedis.cancel_run(:r_url), 'cancelling twice returns false');
SELECT throws_ok('SELECT hedis.cancel_run(-1)', '42704', NULL, 'cancelling an unknown run fails');

-- ---------------------------------------------------------------- resume
SELECT throws_ok(format('SELECT hedis.resume_run(%s)', :r_name), '55000', NULL,
                 'a queued run cannot be resumed');
-- pretend the cancelled run had evaluated two patients in attempt 1
UPDATE hedis.run SET patients_done = 2, patients_total = 4, max_patient_key = 99,
                     knowledge_generation = (SELECT generation FROM hedis.knowledge_state)
 WHERE run_id = :r_url;
INSERT INTO hedis.run_outcome (run_id, outcome, result)
VALUES (:r_url, 5, '{"groups":[{"populations":{"numerator":1}}]}');
INSERT INTO hedis.run_patient (run_id, patient_key, attempt, patient_id, outcome, result)
VALUES (:r_url, 1, 1, 'p1', 5, NULL),
       (:r_url, 2, 1, 'p2', NULL, '{"groups":[{"populations":{"numerator":0}}],"patient":"p2"}');
INSERT INTO hedis.run_summary_part VALUES (:r_url, 0, 0, '0', '', '', 'numerator', 1, 1);
SELECT is(hedis.resume_run(:r_url), 1, 'resume continues attempt 1 when the knowledge is unchanged');
SELECT results_eq(
    format($$SELECT status, patients_done, max_patient_key, (SELECT count(*) FROM hedis.run_result WHERE run_id = %1$s)
             FROM hedis.run WHERE run_id = %1$s$$, :r_url),
    $$VALUES ('queued', 2::bigint, 99::bigint, 2::bigint)$$,
    'continuing keeps the results, progress and patient set of the attempt');
SELECT ok(hedis.cancel_run(:r_url), 'cancel it again');
SELECT is(hedis.resume_run(:r_url, restart => true), 2, 'resume with restart starts attempt 2');
SELECT results_eq(
    format($$SELECT status, patients_done, patients_total, max_patient_key,
                    (SELECT count(*) FROM hedis.run_result WHERE run_id = %1$s),
                    (SELECT count(*) FROM hedis.run_summary WHERE run_id = %1$s)
             FROM hedis.run WHERE run_id = %1$s$$, :r_url),
    $$VALUES ('queued', 0::bigint, NULL::bigint, NULL::bigint, 0::bigint, 0::bigint)$$,
    'a restart forgets every result, count and the patient set of attempt 1');
SELECT is((SELECT count(*) FROM hedis.run_outcome WHERE run_id = :r_url), 0::bigint,
          'and the outcomes of attempt 1');
-- a knowledge change forces a restart
SELECT ok(hedis.cancel_run(:r_url), 'cancel once more');
UPDATE hedis.run SET knowledge_generation = (SELECT generation FROM hedis.knowledge_state) - 1
 WHERE run_id = :r_url;
SELECT is(hedis.resume_run(:r_url), 3, 'changed measure content: resume restarts (attempt 3)');
SELECT throws_ok('SELECT hedis.resume_run(-1)', '42704', NULL, 'resuming an unknown run fails');

-- ---------------------------------------------------------------- rate
SELECT is(hedis.proportion_rate(3, NULL, 10, 2, NULL), 0.375, 'numerator / (denominator - exclusions)');
SELECT is(hedis.proportion_rate(3, 1, 10, 2, 4), 0.5, 'numerator exclusions and exceptions');
SELECT is(hedis.proportion_rate(0, NULL, 2, 2, NULL), NULL, 'no rate when every denominator member is excluded');
SELECT is(hedis.proportion_rate(0, NULL, 0, NULL, NULL), NULL, 'no rate for an empty denominator');

-- ---------------------------------------------------------------- measure_report
-- a finished run with hand-made results: 3 patients, one stratifier
INSERT INTO hedis.run (measure, measure_ref, period_start, period_end, status, attempt,
                       patients_total, patients_done, finished_at)
VALUES ('MeasureM', 'http://example.org/Measure/M|2.0.0', '2026-01-01', '2026-12-31', 'done', 1,
        3, 3, '2027-01-02 03:04:05+00')
RETURNING run_id AS r_done \gset
-- pa and pb name stored outcomes, pc's result is inline
CREATE TEMP TABLE hand_result AS
SELECT k, id, jsonb_build_object('groups', jsonb_build_array(
           jsonb_build_object('id', 'g', 'populations',
               jsonb_build_object('initial-population', 1, 'denominator', 1,
                                  'denominator-exclusion', dx, 'numerator', num),
               'stratifiers', jsonb_build_array(jsonb_build_object('id', 's', 'value', sv))))) AS outcome
  FROM (VALUES (1, 'pa', 0, 1, 'F'), (2, 'pb', 0, 0, 'M'), (3, 'pc', 1, 0, 'F')) v(k, id, dx, num, sv);
INSERT INTO hedis.run_outcome (run_id, outcome, result)
SELECT :r_done, k * 1000, outcome FROM hand_result WHERE k < 3;
INSERT INTO hedis.run_patient (run_id, patient_key, attempt, patient_id, outcome, result)
SELECT :r_done, k, 1, id, CASE WHEN k < 3 THEN k * 1000 END,
       CASE WHEN k = 3 THEN outcome || jsonb_build_object('patient', id) END
  FROM hand_result;
SELECT results_eq(
    format($$SELECT patient_id, result FROM hedis.run_result WHERE run_id = %s ORDER BY 1$$, :r_done),
    $$SELECT id, outcome || jsonb_build_object('patient', id) FROM hand_result ORDER BY 1$$,
    'run_result shows each patient''s whole result, named outcome or inline');
SELECT throws_ok(format($$INSERT INTO hedis.run_patient (run_id, patient_key, attempt, patient_id, outcome, error)
                          VALUES (%s, 4, 1, 'pd', 1000, 'e')$$, :r_done), '23514', NULL,
                 'a patient row has exactly one of outcome, result and error');
INSERT INTO hedis.run_summary_part
SELECT :r_done, 0, 0, 'g', '', '', p, c, c FROM (VALUES ('initial-population', 3), ('denominator', 3),
       ('denominator-exclusion', 1), ('numerator', 1)) v(p, c)
UNION ALL
SELECT :r_done, 0, 0, 'g', 's', '"F"', p, c, c FROM (VALUES ('initial-population', 2), ('denominator', 2),
       ('denominator-exclusion', 1), ('numerator', 1)) v(p, c)
UNION ALL
SELECT :r_done, 0, 0, 'g', 's', '"M"', p, c, c FROM (VALUES ('initial-population', 1), ('denominator', 1),
       ('denominator-exclusion', 0), ('numerator', 0)) v(p, c);

SELECT hedis.measure_report(:r_done) AS rep \gset
SELECT is(:'rep'::jsonb - 'group',
          jsonb_build_object('resourceType', 'MeasureReport', 'id', 'run-' || :r_done, 'status', 'complete',
                             'type', 'summary', 'measure', 'http://example.org/Measure/M|2.0.0',
                             'period', jsonb_build_object('start', '2026-01-01', 'end', '2026-12-31'),
                             'date', '2027-01-02T03:04:05+00:00'),
          'summary report header');
SELECT results_eq(
    format($$SELECT p->'code'->'coding'->0->>'code', (p->>'count')::int
             FROM jsonb_array_elements(%L::jsonb->'group'->0->'population') p ORDER BY 1$$, :'rep'),
    $$VALUES ('denominator', 3), ('denominator-exclusion', 1), ('initial-population', 3), ('numerator', 1)$$,
    'group population counts');
SELECT is((:'rep'::jsonb->'group'->0->'measureScore'->>'value')::numeric, 0.5,
          'measureScore = 1 / (3 - 1)');
SELECT results_eq(
    format($$SELECT s->'value'->>'text', (s->'measureScore'->>'value')::numeric
             FROM jsonb_array_elements(%L::jsonb->'group'->0->'stratifier'->0->'stratum') s ORDER BY 1$$, :'rep'),
    $$VALUES ('F', 1.0), ('M', 0.0)$$,
    'strata with their own scores');
SELECT hedis.measure_report(:r_done, 'subject-list') AS srep \gset
SELECT results_eq(
    format($$SELECT p->'code'->'coding'->0->>'code',
                    (SELECT string_agg(e->'item'->>'reference', ',' ORDER BY e->'item'->>'reference')
                       FROM jsonb_array_elements(%1$L::jsonb->'contained') l,
                            jsonb_array_elements(l->'entry') e
                      WHERE '#' || (l->>'id') = p->'subjectResults'->>'reference')
             FROM jsonb_array_elements(%1$L::jsonb->'group'->0->'population') p ORDER BY 1$$, :'srep'),
    $$VALUES ('denominator', 'Patient/pa,Patient/pb,Patient/pc'), ('denominator-exclusion', 'Patient/pc'),
             ('initial-population', 'Patient/pa,Patient/pb,Patient/pc'), ('numerator', 'Patient/pa')$$,
    'subject-list: each population points to a contained List of its patients');
SELECT is(jsonb_array_length(:'srep'::jsonb->'contained'), 4 + 4 + 2,
          'one List per non-empty population of the group and of each stratum');
SELECT throws_ok(format($$SELECT hedis.measure_report(%s, 'individual')$$, :r_done), '22023', NULL,
                 'unknown report types are refused');
SELECT is(hedis.measure_report(:r_name)->>'status', 'pending', 'a run that is not done reports pending');

-- ---------------------------------------------------------------- results belong to a run
-- (run_patient.run_id: a foreign key's guarantees, enforced per statement)
SELECT throws_ok($$INSERT INTO hedis.run_patient (run_id, patient_key, attempt, patient_id, error)
                   VALUES (-7, 1, 1, 'x', 'e')$$, '23503', NULL,
                 'a result of an unknown run is refused');
SELECT throws_ok(format($$UPDATE hedis.run_patient SET run_id = -7 WHERE run_id = %s$$, :r_done), '23503', NULL,
                 'moving results to an unknown run is refused');
-- checked per row, each run looked up once per statement: the known run of
-- the first row does not let the unknown one of the second through
SELECT throws_ok(format($$INSERT INTO hedis.run_patient (run_id, patient_key, attempt, patient_id, error)
                          VALUES (%s, 900001, 1, 'x1', 'e'), (-7, 900002, 1, 'x2', 'e')$$, :r_done), '23503', NULL,
                 'one statement with a known and an unknown run is refused');
SELECT lives_ok(format($$INSERT INTO hedis.run_patient (run_id, patient_key, attempt, patient_id, error)
                         VALUES (%1$s, 900001, 1, 'x1', 'e'), (%1$s, 900002, 1, 'x2', 'e')$$, :r_done),
                'results of a known run are accepted');
DELETE FROM hedis.run WHERE run_id = :r_done;
SELECT is((SELECT count(*) FROM hedis.run_patient WHERE run_id = :r_done)
          + (SELECT count(*) FROM hedis.run_outcome WHERE run_id = :r_done), 0::bigint,
          'deleting a run deletes its results and outcomes');

SELECT * FROM finish();
ROLLBACK;
