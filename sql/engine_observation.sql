-- engine_observation: measure observations (FHIR Measure / CQF Measures):
-- continuous-variable groups (one observation of the measure population,
-- less its exclusions) and a ratio group observing its denominator and its
-- numerator (cqfm-criteriaReference); each observation is the function's
-- non-null result per episode, combined by cqfm-aggregateMethod into the
-- measure score -- per patient in hedis.evaluate, over every patient in a
-- run's summary.  Expected values are worked out by hand from the
-- encounters below.
\set ECHO none
\i test/fixtures/elm/helpers.sql
\set ECHO all

-- Encounters: length (minutes), status, class.  An EMER encounter is
-- excluded from the measure population; one not finished is not in it.
CREATE FUNCTION elmt.enc(patient text, id text, status text, cls text, minutes numeric) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS
$$ SELECT jsonb_build_object('resourceType', 'Encounter', 'id', id, 'status', status,
            'class', jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/v3-ActCode', 'code', cls),
            'subject', jsonb_build_object('reference', 'Patient/' || patient),
            'period', '{"start": "2024-03-01T08:00:00Z", "end": "2024-03-01T09:00:00Z"}'::jsonb)
          || CASE WHEN minutes IS NULL THEN '{}'::jsonb
                  ELSE jsonb_build_object('length', jsonb_build_object('value', minutes, 'unit', 'min',
                          'system', 'http://unitsofmeasure.org', 'code', 'min')) END $$;
SELECT elmt.load(jsonb_build_array(
  '{"resourceType": "Patient", "id": "eng-obs-p1", "birthDate": "1970-01-01"}'::jsonb,
  '{"resourceType": "Patient", "id": "eng-obs-p2", "birthDate": "1970-01-01"}'::jsonb,
  '{"resourceType": "Patient", "id": "eng-obs-p3", "birthDate": "1970-01-01"}'::jsonb,
  '{"resourceType": "Patient", "id": "eng-obs-p4", "birthDate": "1970-01-01"}'::jsonb,
  enc('eng-obs-p1', 'eng-obs-e1', 'finished', 'AMB', 30),
  enc('eng-obs-p1', 'eng-obs-e2', 'finished', 'AMB', 10),
  enc('eng-obs-p1', 'eng-obs-e3', 'finished', 'EMER', 99),
  enc('eng-obs-p1', 'eng-obs-e4', 'in-progress', 'AMB', 5),
  enc('eng-obs-p2', 'eng-obs-e5', 'finished', 'AMB', 80),
  enc('eng-obs-p4', 'eng-obs-e6', 'finished', 'AMB', NULL)));

CREATE FUNCTION elmt.encounters_where(cond jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS
$$ SELECT jsonb_build_object('type', 'Query',
     'source', jsonb_build_array(jsonb_build_object('alias', 'E', 'expression', elmt.retrieve('Encounter'))),
     'sort', '{"by": [{"type": "ByExpression", "direction": "asc", "expression": {"type": "Property", "path": "id.value", "scope": "E"}}]}'::jsonb)
   || CASE WHEN cond IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('where', cond) END $$;
-- this file's encounters only (a run evaluates every patient of the database)
SELECT elmt.define('Encounters', encounters_where(op('StartsWith', sprop('id.value', 'E'), s('eng-obs-'))));
SELECT elmt.define('Finished', encounters_where(op('Equal', sprop('status.value', 'E'), s('finished'))));
SELECT elmt.define('Emergency', encounters_where(op('Equal', sprop('class.code.value', 'E'), s('EMER'))));
SELECT elmt.define('Long', encounters_where(op('Greater', sprop('length.value.value', 'E'), dc('20'))));
SELECT elmt.define_function('Minutes', ARRAY['E', 'Encounter'], prop('length.value.value', operand('E')));
SELECT elmt.define_function('One', ARRAY['E', 'Encounter'], i(1));
SELECT elmt.define('Has Emergency', op1('Exists', ref('Emergency')));
SELECT elmt.load_library('EngObservationLib');

CREATE FUNCTION elmt.pop(code text, expr text, ext jsonb DEFAULT NULL, id text DEFAULT NULL) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS
$$ SELECT jsonb_build_object('id', coalesce(id, code), 'code', jsonb_build_object('coding', jsonb_build_array(
            jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/measure-population', 'code', code))),
          'criteria', jsonb_build_object('language', 'text/cql-identifier', 'expression', expr))
   || CASE WHEN ext IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('extension', ext) END $$;
CREATE FUNCTION elmt.obs(fn text, method text, observes text, id text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS
$$ SELECT elmt.pop('measure-observation', fn,
     jsonb_build_array(jsonb_build_object('url', 'http://hl7.org/fhir/us/cqfmeasures/StructureDefinition/cqfm-aggregateMethod',
                                          'valueCode', method))
     || CASE WHEN observes IS NULL THEN '[]'::jsonb
             ELSE jsonb_build_array(jsonb_build_object('url', 'http://hl7.org/fhir/us/cqfmeasures/StructureDefinition/cqfm-criteriaReference',
                                                       'valueString', observes)) END, id) $$;
CREATE FUNCTION elmt.scoring(code text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS
$$ SELECT jsonb_build_array(jsonb_build_object('url', 'http://hl7.org/fhir/us/cqfmeasures/StructureDefinition/cqfm-scoring',
     'valueCodeableConcept', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object(
        'system', 'http://terminology.hl7.org/CodeSystem/measure-scoring', 'code', code))))) $$;
CREATE FUNCTION elmt.obs_measure(name text, groups jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS
$$ SELECT jsonb_build_object('resourceType', 'Measure', 'id', name, 'url', 'http://example.org/Measure/' || name,
     'version', '1.0.0', 'name', name, 'status', 'active',
     'library', jsonb_build_array('http://example.org/Library/EngObservationLib'),
     'extension', jsonb_build_array(jsonb_build_object(
        'url', 'http://hl7.org/fhir/us/cqfmeasures/StructureDefinition/cqfm-populationBasis', 'valueCode', 'Encounter')),
     'group', groups) $$;

SELECT elmt.load(jsonb_build_array(obs_measure('EngObservation', jsonb_build_array(
  -- g1: continuous variable, median (MADiE capitalises the code), observing the measure population by id
  jsonb_build_object('id', 'g1', 'extension', scoring('continuous-variable'), 'population', jsonb_build_array(
     pop('initial-population', 'Encounters'), pop('measure-population', 'Finished', NULL, 'g1-mpop'),
     pop('measure-population-exclusion', 'Emergency'), obs('Minutes', 'Median', 'g1-mpop', 'g1-obs')),
     'stratifier', jsonb_build_array(jsonb_build_object('id', 'by-emergency',
        'criteria', jsonb_build_object('language', 'text/cql-identifier', 'expression', 'Has Emergency')))),
  -- g2: continuous variable, average, no criteriaReference (the measure population)
  jsonb_build_object('id', 'g2', 'extension', scoring('continuous-variable'), 'population', jsonb_build_array(
     pop('initial-population', 'Encounters'), pop('measure-population', 'Finished'),
     pop('measure-population-exclusion', 'Emergency'), obs('Minutes', 'average', NULL, 'g2-obs'))),
  -- g3: ratio, sum of the numerator's minutes over the number of denominator episodes;
  -- the numerator does not depend on the denominator (an excluded EMER episode still counts)
  jsonb_build_object('id', 'g3', 'extension', scoring('ratio'), 'population', jsonb_build_array(
     pop('initial-population', 'Encounters'), pop('denominator', 'Finished', NULL, 'g3-den'),
     pop('denominator-exclusion', 'Emergency', NULL, 'g3-denex'),
     pop('numerator', 'Long', NULL, 'g3-num'),
     obs('One', 'sum', 'g3-den', 'g3-den-obs'), obs('Minutes', 'sum', 'g3-num', 'g3-num-obs')))))));

-- per patient: each observation population's count and values, and the group's score
CREATE TEMP TABLE reports AS
  SELECT p AS patient, hedis.evaluate('http://example.org/Measure/EngObservation', p, '2024-01-01', '2024-12-31') AS r
    FROM unnest(ARRAY['eng-obs-p1', 'eng-obs-p2', 'eng-obs-p3', 'eng-obs-p4']) p;
SELECT patient, g->>'id' AS grp,
       (SELECT string_agg(format('%s %s=%s%s', x->'code'->'coding'->0->>'code', x->>'id', x->>'count',
                                 coalesce(' ' || (SELECT jsonb_agg((e->>'valueDecimal')::numeric)::text
                                                    FROM jsonb_array_elements(x->'extension') e), '')), '; ')
          FROM jsonb_array_elements(g->'population') x
         WHERE x->'code'->'coding'->0->>'code' IN ('measure-population', 'measure-population-exclusion',
                                                  'denominator', 'denominator-exclusion', 'numerator',
                                                  'measure-observation')) AS populations,
       g->'measureScore'->>'value' AS score
  FROM reports, jsonb_array_elements(r->'group') g
 ORDER BY patient, grp;

-- the compact result (what runs store) carries the values, in the measure's order
SELECT p.fhir_id, g->>'id' AS grp, g->'populations'->'measure-observation' AS n, g->'observations' AS observations
  FROM hedis.patient p,
       jsonb_array_elements(hedis.evaluate_patient_result('http://example.org/Measure/EngObservation', p.patient_key,
                                                          '2024-01-01', '2024-12-31')->'groups') g
 WHERE p.fhir_id LIKE 'eng-obs-%'
 ORDER BY 1, 2;

-- a run's summary: every patient's observations combined
-- (g1 median of 30, 10, 80; g2 their average; g3 (30 + 99 + 80) / 4 episodes)
SELECT hedis.run_now('http://example.org/Measure/EngObservation', '2024-01-01', '2024-12-31') AS run \gset
SELECT g->>'id' AS grp,
       (SELECT (x->>'count')::int FROM jsonb_array_elements(g->'population') x
         WHERE x->'code'->'coding'->0->>'code' = 'measure-observation') AS observations,
       round((g->'measureScore'->>'value')::numeric, 4) AS score
  FROM jsonb_array_elements(hedis.measure_report(:run)->'group') g ORDER BY 1;
SELECT group_index, round(rate, 4) FROM hedis.run_rates WHERE run_id = :run AND stratifier = '' ORDER BY 1;
-- by stratum: the observations of the stratum's patients (p1, with an
-- emergency visit: 30 and 10; p2 and p4, without: 80)
SELECT stratifier, stratum, round(rate, 4) FROM hedis.run_rates
 WHERE run_id = :run AND group_index = 0 AND stratifier <> '' ORDER BY 2;
SELECT st->>'id' AS stratifier, s->'value'->>'text' AS stratum, round((s->'measureScore'->>'value')::numeric, 4) AS score
  FROM jsonb_array_elements(hedis.measure_report(:run)->'group'->0->'stratifier') st,
       jsonb_array_elements(st->'stratum') s ORDER BY 2;
SELECT round(rate, 4) AS first_group_rate FROM hedis.runs WHERE run_id = :run;
-- the scores read again from the results: all of them at once (what the run
-- kept when it was done), one group's or stratum's, none for a stratum the
-- run does not have or a group without observations
SELECT hedis.run_observation_scores(:run) = observation_scores AS all_scores_as_kept
  FROM hedis.run WHERE run_id = :run;
SELECT round(hedis.run_observation_score(:run, 0), 4) AS g1,
       round(hedis.run_observation_score(:run, 2), 4) AS g3,
       round(hedis.run_observation_score(:run, 0, stratifier, stratum), 4) AS g1_stratum,
       hedis.run_observation_score(:run, 0, stratifier, '"no such stratum"') AS unknown_stratum,
       hedis.run_observation_score(:run, 9) AS no_such_group
  FROM hedis.run_rates WHERE run_id = :run AND group_index = 0 AND stratifier <> '' ORDER BY stratum LIMIT 1;
-- the background workers' run gives the same scores (worked out in the last
-- worker's transaction, when the run is done)
SELECT hedis.run('http://example.org/Measure/EngObservation', '2024-01-01', '2024-12-31') AS bg \gset
DO $$
BEGIN
    FOR i IN 1 .. 3000 LOOP
        EXIT WHEN (SELECT status FROM hedis.run WHERE run_id = (SELECT max(run_id) FROM hedis.run)) NOT IN ('queued', 'running');
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT b.status, b.observation_scores = n.observation_scores AS same_scores_as_run_now,
       b.observation_scores IS NOT NULL AS scored
  FROM hedis.run b, hedis.run n WHERE b.run_id = :bg AND n.run_id = :run;

-- errors: an aggregate method FHIR does not define; a reference to no population
SELECT elmt.load(jsonb_build_array(obs_measure('EngObservationBadMethod', jsonb_build_array(
  jsonb_build_object('id', 'g1', 'extension', scoring('continuous-variable'), 'population', jsonb_build_array(
     pop('initial-population', 'Encounters'), pop('measure-population', 'Finished'),
     obs('Minutes', 'mode', NULL, 'g1-obs')))))));
SELECT hedis.evaluate('http://example.org/Measure/EngObservationBadMethod', 'eng-obs-p1', '2024-01-01', '2024-12-31');
SELECT elmt.load(jsonb_build_array(obs_measure('EngObservationBadRef', jsonb_build_array(
  jsonb_build_object('id', 'g1', 'extension', scoring('continuous-variable'), 'population', jsonb_build_array(
     pop('initial-population', 'Encounters'), pop('measure-population', 'Finished'),
     obs('Minutes', 'sum', 'no-such-population', 'g1-obs')))))));
SELECT hedis.evaluate('http://example.org/Measure/EngObservationBadRef', 'eng-obs-p1', '2024-01-01', '2024-12-31');

-- the other aggregate methods, and none: p1's two observations (30, 10)
-- give a median of their mean, a count, a minimum and a maximum; without a
-- method there is no score (the observations are still reported)
SELECT elmt.load(jsonb_build_array(obs_measure('EngObservationMethods', (
  SELECT jsonb_agg(jsonb_build_object('id', 'g-' || coalesce(m, 'none'), 'extension', scoring('continuous-variable'),
         'population', jsonb_build_array(pop('initial-population', 'Encounters'), pop('measure-population', 'Finished'),
                                         pop('measure-population-exclusion', 'Emergency'),
                                         CASE WHEN m IS NULL THEN pop('measure-observation', 'Minutes', NULL, 'obs')
                                              ELSE obs('Minutes', m, NULL, 'obs') END)) ORDER BY o)
    FROM unnest(ARRAY['median', 'count', 'minimum', 'maximum', 'sum', NULL]) WITH ORDINALITY u(m, o)))));
SELECT g->>'id' AS grp, g->'measureScore'->>'value' AS score,
       (SELECT p->>'count' FROM jsonb_array_elements(g->'population') p
         WHERE p->'code'->'coding'->0->>'code' = 'measure-observation') AS observations
  FROM jsonb_array_elements(hedis.evaluate('EngObservationMethods', 'eng-obs-p1', '2024-01-01', '2024-12-31')->'group') g;
-- a patient outside the measure population has no score, whatever the method (p3: no encounters)
SELECT count(*) FILTER (WHERE g ? 'measureScore') AS scored_groups
  FROM jsonb_array_elements(hedis.evaluate('EngObservationMethods', 'eng-obs-p3', '2024-01-01', '2024-12-31')->'group') g;

-- a patient-based group observes the patient with a function of no operand,
-- once, when the patient is in the measure population not excluded
SELECT elmt.define_function('Encounter Count', ARRAY[]::text[], src('Count', ref('Finished')));
SELECT elmt.define('Has Finished', op1('Exists', ref('Finished')));
SELECT elmt.define('Has Encounters', op1('Exists', ref('Encounters')));
SELECT elmt.load_library('EngObservationLib');
SELECT elmt.load(jsonb_build_array(obs_measure('EngObservationPatient', jsonb_build_array(
  jsonb_build_object('id', 'g1', 'extension', scoring('continuous-variable')
       || '[{"url": "http://hl7.org/fhir/us/cqfmeasures/StructureDefinition/cqfm-populationBasis", "valueCode": "boolean"}]'::jsonb,
     'population', jsonb_build_array(pop('initial-population', 'Has Encounters'), pop('measure-population', 'Has Finished'),
                                     obs('Encounter Count', 'sum', NULL, 'g1-obs')))))));
SELECT p AS patient, g->'measureScore'->>'value' AS score,
       (SELECT p2->>'count' FROM jsonb_array_elements(g->'population') p2
         WHERE p2->'code'->'coding'->0->>'code' = 'measure-observation') AS observations
  FROM unnest(ARRAY['eng-obs-p1', 'eng-obs-p2', 'eng-obs-p3']) p,
       LATERAL jsonb_array_elements(hedis.evaluate('EngObservationPatient', p, '2024-01-01', '2024-12-31')->'group') g
 ORDER BY 1;

-- episodic strata: a stratifier of an episode-based group whose value is a
-- list of episodes (eCQMs of encounters stratify so: "Stratification 1"
-- returns the encounters of an age band) holds the episodes of that list;
-- each population is counted and observed over them.  'Long' lists the
-- encounters over 20 minutes: p1's e1 (30) and e3 (99, an emergency: out of
-- the measure population), p2's e5 (80); p4's e6 has no length (none).
-- 'by-emergency' stays a patient's stratum (a Boolean).
SELECT elmt.load(jsonb_build_array(obs_measure('EngEpisodeStrata', jsonb_build_array(
  jsonb_build_object('id', 'g1', 'extension', scoring('continuous-variable'), 'population', jsonb_build_array(
     pop('initial-population', 'Encounters'), pop('measure-population', 'Finished', NULL, 'g1-mpop'),
     pop('measure-population-exclusion', 'Emergency'), obs('Minutes', 'sum', 'g1-mpop', 'g1-obs')),
     'stratifier', (SELECT jsonb_agg(jsonb_build_object('id', id, 'criteria',
                            jsonb_build_object('language', 'text/cql-identifier', 'expression', expr)) ORDER BY id)
                      FROM (VALUES ('by-length', 'Long'), ('by-emergency', 'Has Emergency')) v(id, expr)))))));
-- per patient (what runs store): the episodic stratum's own counts and observations
SELECT p.fhir_id, st->>'id' AS stratifier, st->'value' AS value, st->'populations' AS populations,
       st->'observations' AS observations
  FROM hedis.patient p,
       jsonb_array_elements(hedis.evaluate_patient_result('EngEpisodeStrata', p.patient_key, '2024-01-01',
                                                          '2024-12-31')->'groups'->0->'stratifiers') st
 WHERE p.fhir_id LIKE 'eng-obs-%' ORDER BY 1, 2;
-- the individual report: each stratum with its populations and score
SELECT st->>'id' AS stratifier, s->'value'->>'text' AS stratum,
       (SELECT string_agg((x->'code'->'coding'->0->>'code') || '=' || (x->>'count'), ' '
                          ORDER BY x->'code'->'coding'->0->>'code')
          FROM jsonb_array_elements(s->'population') x) AS populations,
       s->'measureScore'->>'value' AS score
  FROM jsonb_array_elements(hedis.evaluate('EngEpisodeStrata', 'eng-obs-p1', '2024-01-01', '2024-12-31')
                            ->'group'->0->'stratifier') st,
       jsonb_array_elements(st->'stratum') s
 ORDER BY 1;
-- a run: the stratum counts the episodes (p1 two, p2 one) and scores their
-- observations (30 + 80); the patient's stratum as before (true: p1's 30 + 10)
SELECT hedis.run_now('EngEpisodeStrata', '2024-01-01', '2024-12-31') AS strata_run \gset
SELECT stratifier, stratum, population, count, patients FROM hedis.run_summary
 WHERE run_id = :strata_run AND stratifier = 'by-length' AND stratum = 'true' ORDER BY population;
SELECT stratifier, stratum, round(rate, 4) AS rate FROM hedis.run_rates
 WHERE run_id = :strata_run AND stratifier <> '' AND stratum <> 'null' ORDER BY 1, 2;
-- the subject list of the stratum's initial population: the patients with episodes in it
SELECT l->'entry' AS stratum_initial_population
  FROM jsonb_array_elements(hedis.measure_report(:strata_run, 'subject-list')->'contained') l
 WHERE l->>'id' = md5('0/by-length/true/initial-population');
-- a stratifier whose value is a list of other values (codes, strings) names
-- the patient's stratum, as any other value: the ids of p1's long encounters
SELECT elmt.define('Long Ids', jsonb_build_object('type', 'Query',
  'source', jsonb_build_array(jsonb_build_object('alias', 'E', 'expression', ref('Long'))),
  'return', jsonb_build_object('expression', sprop('id.value', 'E'))));
SELECT elmt.load_library('EngObservationLib');
SELECT elmt.load(jsonb_build_array(obs_measure('EngValueStrata', jsonb_build_array(
  jsonb_build_object('id', 'g1', 'extension', scoring('continuous-variable'), 'population', jsonb_build_array(
     pop('initial-population', 'Encounters'), pop('measure-population', 'Finished', NULL, 'g1-mpop'),
     obs('Minutes', 'sum', 'g1-mpop', 'g1-obs')),
     'stratifier', jsonb_build_array(jsonb_build_object('id', 'by-long-ids', 'criteria',
        jsonb_build_object('language', 'text/cql-identifier', 'expression', 'Long Ids'))))))));
SELECT st->'value' AS value, st ? 'populations' AS own_counts
  FROM hedis.patient p,
       jsonb_array_elements(hedis.evaluate_patient_result('EngValueStrata', p.patient_key, '2024-01-01',
                                                          '2024-12-31')->'groups'->0->'stratifiers') st
 WHERE p.fhir_id = 'eng-obs-p1';
