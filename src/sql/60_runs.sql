-- 60_runs.sql — population runs: queue, per-patient results, summaries,
-- MeasureReport (owner: runs).  See docs/runs.md.
--
-- A run evaluates one Measure for every patient of hedis.patient over one
-- measurement period.  hedis.run() queues it for the background workers
-- (shared_preload_libraries = pg_hedis); hedis.run_now() evaluates it in the
-- calling backend.  Both write the same tables.
--
-- Attempts.  A run's results always come from one attempt: hedis.resume_run()
-- either continues the current attempt (only when the measure logic and
-- value sets have not changed since it started: same knowledge generation)
-- or starts attempt + 1 after deleting every result and count of the run.
-- Results are written one batch per transaction together with the batch's
-- summary counts and progress, so a crash never leaves a half-written batch.

CREATE TABLE hedis.run (
    run_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    measure         text NOT NULL,            -- as given by the caller
    measure_ref     text NOT NULL,            -- resolved 'url|version' handed to the engine
    period_start    date NOT NULL,
    period_end      date NOT NULL,
    priority        int NOT NULL DEFAULT 0,   -- higher runs first
    mode            text NOT NULL DEFAULT 'background'
                    CHECK (mode IN ('background', 'sync')),
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'done', 'cancelled', 'interrupted')),
    attempt         int NOT NULL DEFAULT 1,
    knowledge_generation bigint,              -- hedis.knowledge_state.generation when the attempt started
    max_patient_key bigint,                   -- patients with a larger key (loaded later) are not in the run
    workers         int,                      -- number of workers of the current dispatch
    patients_total  bigint,
    patients_done   bigint NOT NULL DEFAULT 0,   -- evaluated, errors included
    patients_failed bigint NOT NULL DEFAULT 0,   -- evaluation raised an error
    done_at_dispatch bigint NOT NULL DEFAULT 0,  -- patients_done when the current dispatch started (ETA)
    queued_by       oid NOT NULL DEFAULT (pg_catalog.quote_ident(session_user)::regrole)::oid,  -- role the workers run as
    queued_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at      timestamptz,              -- first dispatch of the current attempt
    dispatched_at   timestamptz,              -- latest dispatch (start or resume)
    updated_at      timestamptz,
    finished_at     timestamptz,
    message         text,                     -- why a run was interrupted
    observation_scores jsonb,                 -- {"<group index>": score}: groups with measure observations, once done
    CHECK (period_start <= period_end)
);
CREATE INDEX run_queue_idx ON hedis.run (priority DESC, run_id) WHERE status = 'queued';
COMMENT ON TABLE hedis.run IS
    'population runs: one Measure over every patient for one period (see docs/runs.md)';

-- A run's per-patient results are stored in two parts: the distinct
-- "outcomes" of the run (the engine's result without the patient's id --
-- nearly every patient of a measure shares one of a handful) and one narrow
-- row per patient naming its outcome.  A million CMS125 patients are then
-- 183 MB of WAL instead of 512 MB, and two workers no longer spend their
-- CPUs on writing jsonb the patients have in common.  hedis.run_result, a
-- view, shows each patient's whole result, as the engine returns it.

-- The outcomes of a run.  outcome is a 64-bit hash of the result's bytes;
-- a writer checks that a stored outcome is the one it means and, in the
-- unlikely event that two results share a hash, stores the patient's result
-- inline instead (run_patient.result).
CREATE TABLE hedis.run_outcome (
    run_id      bigint NOT NULL REFERENCES hedis.run ON DELETE CASCADE,
    outcome     bigint NOT NULL,
    result      jsonb NOT NULL,               -- {"groups": [...]}: the result without "patient"
    PRIMARY KEY (run_id, outcome)
);
COMMENT ON TABLE hedis.run_outcome IS
    'distinct per-patient results of a run (without the patient id), named by run_patient.outcome';

-- One row per patient evaluated in the run's current attempt.
CREATE TABLE hedis.run_patient (
    run_id      bigint NOT NULL,                -- hedis.run; enforced per statement, see below
    patient_key bigint NOT NULL,              -- no foreign key: results outlive deleted patients
    attempt     int NOT NULL,
    patient_id  text NOT NULL,                -- FHIR id of the patient
    outcome     bigint,                       -- its result: run_outcome (stored in the same transaction)
    result      jsonb,                        -- or its whole result, when its outcome could not be named
    error       text,                         -- the error the evaluation raised
    evaluated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (run_id, patient_key),
    CHECK (num_nonnulls(outcome, result, error) = 1)
);
COMMENT ON TABLE hedis.run_patient IS
    'per-patient rows of a run (all from the run''s current attempt); read them through hedis.run_result';

CREATE VIEW hedis.run_result AS
SELECT p.run_id, p.patient_key, p.attempt, p.patient_id,
       coalesce(p.result, o.result || jsonb_build_object('patient', p.patient_id)) AS result,
       p.error, p.evaluated_at
  FROM hedis.run_patient p
  LEFT JOIN hedis.run_outcome o ON o.run_id = p.run_id AND o.outcome = p.outcome;
COMMENT ON VIEW hedis.run_result IS
    'per-patient results of a run: the engine''s compact result (NULL when error), or the error';

-- run_patient.run_id has the guarantees of a foreign key to hedis.run (ON
-- DELETE CASCADE): a result of a missing run is refused (23503), and the run
-- row is locked FOR KEY SHARE as a foreign key check does.  Checked in C by
-- a row trigger that looks a run up once per statement
-- (src/runs/runs_result_check.c): a real foreign key checked and locked the
-- run for every inserted result, and a statement trigger with a transition
-- table copied every result row.
CREATE FUNCTION hedis._run_result_check_run() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'hedis_run_result_check_run';
CREATE TRIGGER run_patient_run_inserted BEFORE INSERT ON hedis.run_patient
    FOR EACH ROW EXECUTE FUNCTION hedis._run_result_check_run();
CREATE TRIGGER run_patient_run_updated BEFORE UPDATE OF run_id ON hedis.run_patient
    FOR EACH ROW EXECUTE FUNCTION hedis._run_result_check_run();

CREATE FUNCTION hedis._run_delete_results() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE hedis.run_patient;
    ELSE
        DELETE FROM hedis.run_patient r USING old_runs o WHERE r.run_id = o.run_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER run_deleted AFTER DELETE ON hedis.run
    REFERENCING OLD TABLE AS old_runs
    FOR EACH STATEMENT EXECUTE FUNCTION hedis._run_delete_results();
CREATE TRIGGER run_truncated AFTER TRUNCATE ON hedis.run
    FOR EACH STATEMENT EXECUTE FUNCTION hedis._run_delete_results();

-- Counts per group and population, and per stratum, one set per worker so
-- that workers never wait for each other's rows (hedis.run_summary adds
-- them up).  stratifier = '' and stratum = '' is the whole group; otherwise
-- stratum is the stratifier value as jsonb text.  count sums the population
-- counts (episodes for episode-based measures); patients counts patients
-- with a count > 0.
CREATE TABLE hedis.run_summary_part (
    run_id      bigint NOT NULL REFERENCES hedis.run ON DELETE CASCADE,
    worker      int NOT NULL,
    group_index int NOT NULL,
    group_id    text NOT NULL,
    stratifier  text NOT NULL,
    stratum     text NOT NULL,
    population  text NOT NULL,
    count       bigint NOT NULL,
    patients    bigint NOT NULL,
    PRIMARY KEY (run_id, worker, group_index, stratifier, stratum, population)
);

CREATE VIEW hedis.run_summary AS
SELECT run_id, group_index, min(group_id) AS group_id, stratifier, stratum, population,
       sum(count)::bigint AS count, sum(patients)::bigint AS patients
  FROM hedis.run_summary_part
 GROUP BY run_id, group_index, stratifier, stratum, population;
COMMENT ON VIEW hedis.run_summary IS
    'counts of a run per group, stratum and population (summed over its workers)';

-- Workers of the current dispatch of a background run.
-- Each worker counts its own progress here (hedis.runs adds it to the
-- run's): workers never update the shared run row per batch.
CREATE TABLE hedis.run_worker (
    run_id      bigint NOT NULL REFERENCES hedis.run ON DELETE CASCADE,
    worker      int NOT NULL,
    pid         int,
    started_at  timestamptz,
    finished_at timestamptz,
    patients_done   bigint NOT NULL DEFAULT 0,
    patients_failed bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz,
    PRIMARY KEY (run_id, worker)
);

-- pg_dump includes the runs and their results (hours of evaluation for a
-- large population); hedis.run's rows come first (run_patient's check
-- trigger looks them up during the restore).
SELECT pg_catalog.pg_extension_config_dump('hedis.run', '');
SELECT pg_catalog.pg_extension_config_dump('hedis.run_run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('hedis.run_outcome', '');
SELECT pg_catalog.pg_extension_config_dump('hedis.run_patient', '');
SELECT pg_catalog.pg_extension_config_dump('hedis.run_summary_part', '');
SELECT pg_catalog.pg_extension_config_dump('hedis.run_worker', '');

GRANT SELECT ON hedis.run, hedis.run_result, hedis.run_patient, hedis.run_outcome,
    hedis.run_summary, hedis.run_summary_part, hedis.run_worker TO hedis_reader;
GRANT INSERT, UPDATE, DELETE ON hedis.run, hedis.run_patient, hedis.run_outcome,
    hedis.run_summary_part, hedis.run_worker TO hedis_reader;

-- Wakes the background launcher when the calling transaction commits, and
-- warns when no background workers are running.  (C: src/runs/runs_sql.c)
CREATE FUNCTION hedis._runs_wake_on_commit() RETURNS void
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'hedis_runs_wake_on_commit';

-- The reference of a loaded Measure row as the engine receives it and
-- hedis.run.measure_ref keeps it: 'url|version', or the url alone for a
-- Measure without version.  A plain SQL function, inlined where it is used.
CREATE FUNCTION hedis._measure_ref(url text, version text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT url || CASE WHEN version = '' THEN '' ELSE '|' || version END $$;

-- Measure reference as the engine receives it: 'url|version' of a loaded
-- Measure given by url, 'url|version' or name; the newest version when none
-- is given.
CREATE FUNCTION hedis._runs_resolve_measure(measure text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ref text;
BEGIN
    SELECT hedis._measure_ref(m.url, m.version)
      INTO ref
      FROM hedis.measure m
     WHERE (m.url = split_part(measure, '|', 1)
            AND (strpos(measure, '|') = 0 OR m.version = split_part(measure, '|', 2)))
        OR m.name = measure
     ORDER BY (m.url = split_part(measure, '|', 1)) DESC, m.version DESC
     LIMIT 1;
    IF ref IS NULL THEN
        RAISE EXCEPTION 'measure "%" is not loaded', measure
              USING ERRCODE = 'undefined_object',
                    HINT = 'Load the measure package first; hedis.measure lists the loaded measures.';
    END IF;
    RETURN ref;
END
$$;

CREATE FUNCTION hedis.run(measure text, period_start date, period_end date,
                          priority int DEFAULT 0)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id bigint;
BEGIN
    IF period_start IS NULL OR period_end IS NULL OR period_start > period_end THEN
        RAISE EXCEPTION 'invalid measurement period [%, %]', period_start, period_end
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO hedis.run (measure, measure_ref, period_start, period_end, priority)
    VALUES (measure, hedis._runs_resolve_measure(measure), period_start, period_end,
            coalesce(priority, 0))
    RETURNING run_id INTO id;
    PERFORM hedis._runs_wake_on_commit();
    RETURN id;
END
$$;
COMMENT ON FUNCTION hedis.run(text, date, date, int) IS
    'queue a population run for the background workers; returns its id';

-- Synchronous run in the calling backend (C: src/runs/runs_sql.c).
CREATE FUNCTION hedis.run_now(measure text, period_start date, period_end date)
RETURNS bigint
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'hedis_run_now';
COMMENT ON FUNCTION hedis.run_now(text, date, date) IS
    'evaluate a population run in this backend (small populations); returns its id';

-- Every patient's result as rows, nothing stored (C: src/runs/evaluate_population.c).
CREATE FUNCTION hedis.evaluate_population(measure text, period_start date, period_end date)
RETURNS TABLE (patient_key bigint, patient_id text, result jsonb)
LANGUAGE c VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hedis_evaluate_population';
COMMENT ON FUNCTION hedis.evaluate_population(text, date, date) IS
    'every patient''s outcome for a measure (what hedis.run_result shows), in one statement, nothing stored';

CREATE FUNCTION hedis.cancel_run(run bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
    UPDATE hedis.run r
       SET status = 'cancelled', finished_at = clock_timestamp(), updated_at = clock_timestamp()
     WHERE r.run_id = run AND r.status IN ('queued', 'running', 'interrupted');
    IF FOUND THEN
        RETURN true;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM hedis.run r WHERE r.run_id = run) THEN
        RAISE EXCEPTION 'run % does not exist', run USING ERRCODE = 'undefined_object';
    END IF;
    RETURN false;
END
$$;

-- Queue an interrupted or cancelled run again.  It continues its current
-- attempt (patients already evaluated keep their results) unless restart is
-- true or the knowledge generation changed since the attempt started; then
-- the run starts attempt + 1 from scratch.  Returns the attempt number.
CREATE FUNCTION hedis.resume_run(run bigint, restart boolean DEFAULT false)
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    r hedis.run;
    gen bigint;
BEGIN
    SELECT * INTO r FROM hedis.run WHERE run_id = run FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', run USING ERRCODE = 'undefined_object';
    END IF;
    IF r.status NOT IN ('interrupted', 'cancelled') THEN
        RAISE EXCEPTION 'run % is %, only an interrupted or cancelled run can be resumed',
                        run, r.status
              USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF r.mode <> 'background' THEN
        RAISE EXCEPTION 'run % was a synchronous run', run
              USING ERRCODE = 'object_not_in_prerequisite_state',
                    HINT = 'Call hedis.run_now() again.';
    END IF;
    SELECT generation INTO gen FROM hedis.knowledge_state;
    IF NOT restart AND r.knowledge_generation IS DISTINCT FROM gen
       AND r.knowledge_generation IS NOT NULL THEN
        RAISE NOTICE 'measure content changed since run % started: restarting it from scratch', run;
        restart := true;
    END IF;
    -- the workers' progress becomes the run's before their rows go
    UPDATE hedis.run x
       SET patients_done = x.patients_done + w.done, patients_failed = x.patients_failed + w.failed
      FROM (SELECT coalesce(sum(patients_done), 0) AS done, coalesce(sum(patients_failed), 0) AS failed
              FROM hedis.run_worker WHERE run_id = run) w
     WHERE x.run_id = run;
    IF restart THEN
        DELETE FROM hedis.run_patient WHERE run_id = run;
        DELETE FROM hedis.run_outcome WHERE run_id = run;
        DELETE FROM hedis.run_summary_part WHERE run_id = run;
        UPDATE hedis.run
           SET attempt = attempt + 1, patients_done = 0, patients_failed = 0,
               done_at_dispatch = 0, patients_total = NULL, max_patient_key = NULL,
               knowledge_generation = NULL, started_at = NULL
         WHERE run_id = run;
    END IF;
    DELETE FROM hedis.run_worker WHERE run_id = run;
    UPDATE hedis.run
       SET status = 'queued', finished_at = NULL, message = NULL, updated_at = clock_timestamp()
     WHERE run_id = run
    RETURNING attempt INTO r.attempt;
    PERFORM hedis._runs_wake_on_commit();
    RETURN r.attempt;
END
$$;

-- Performance rate as FHIR proportion scoring defines it:
-- (numerator - numerator-exclusion) / (denominator - denominator-exclusion
-- - denominator-exception); NULL when that denominator is 0 or there is none.
CREATE FUNCTION hedis.proportion_rate(numerator numeric, numerator_exclusion numeric,
                                      denominator numeric, denominator_exclusion numeric,
                                      denominator_exception numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
             WHEN numerator IS NULL OR denominator IS NULL THEN NULL
             WHEN denominator - coalesce(denominator_exclusion, 0)
                              - coalesce(denominator_exception, 0) <= 0 THEN NULL
             ELSE (numerator - coalesce(numerator_exclusion, 0))::numeric
                  / (denominator - coalesce(denominator_exclusion, 0)
                                 - coalesce(denominator_exception, 0))
           END
$$;

-- The key of a group's (or a stratum's) observation score in
-- hedis.run.observation_scores: "<group index>", or "<group index>/<stratifier>/<stratum>".
CREATE FUNCTION hedis._observation_score_key(group_index int, stratifier text, stratum text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN stratifier = '' THEN group_index::text
                  ELSE group_index || '/' || stratifier || '/' || stratum END $$;

-- The measure scores of a run's groups from their measure observations, and
-- of each stratum the run's summary has, in one read of the run's results:
-- every observation of every patient (result->groups[g]->observations, one
-- list per measure-observation population of the group, in the Measure's
-- order) combined by that population's aggregate method
-- (cqfm-aggregateMethod), by the rules the engine applies to one patient
-- (measure_score in src/engine/measure.c): count counts every observation,
-- the other methods need numbers, an empty sum is 0; a continuous-variable
-- group's score needs observations; a ratio group observing its numerator
-- and its denominator (cqfm-criteriaReference) scores the numerator's
-- aggregate over the denominator's.  A stratum's score: the observations of
-- the patients in it (of an episodic stratum: of its episodes).  Keys as
-- hedis._observation_score_key makes them; a group without observations
-- (a proportion group: its rate is the proportion) has none.  hedis.run
-- keeps the result from when the run is done (observation_scores), which
-- hedis.run_rates shows.
CREATE FUNCTION hedis.run_observation_scores(run bigint)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
WITH measure AS (
    SELECT ms.resource AS m
      FROM hedis.run r
      JOIN hedis.measure ms ON hedis._measure_ref(ms.url, ms.version) = r.measure_ref
     WHERE r.run_id = run
), observed AS (
    -- each observation population of each group: k-th of its group, its
    -- aggregate method, the population it observes
    SELECT (g.i - 1)::int AS gi,
           (row_number() OVER (PARTITION BY g.i ORDER BY p.i) - 1)::int AS k,
           count(*) OVER (PARTITION BY g.i) AS nobs,
           coalesce((SELECT e->'valueCodeableConcept'->'coding'->0->>'code'
                       FROM jsonb_array_elements(g.grp->'extension') e
                      WHERE e->>'url' LIKE '%cqfm-scoring' LIMIT 1),
                    measure.m->'scoring'->'coding'->0->>'code') = 'ratio' AS ratio,
           lower((SELECT coalesce(e->>'valueCode', e->>'valueString')
                    FROM jsonb_array_elements(p.pop->'extension') e
                   WHERE e->>'url' LIKE '%aggregateMethod' LIMIT 1)) AS method,
           (SELECT q->'code'->'coding'->0->>'code'
              FROM jsonb_array_elements(g.grp->'population') q
             WHERE q->>'id' = (SELECT coalesce(e->>'valueString', e->>'valueCode')
                                 FROM jsonb_array_elements(p.pop->'extension') e
                                WHERE e->>'url' LIKE '%criteriaReference' LIMIT 1)) AS population
      FROM measure,
           jsonb_array_elements(measure.m->'group') WITH ORDINALITY g(grp, i),
           jsonb_array_elements(g.grp->'population') WITH ORDINALITY p(pop, i)
     WHERE p.pop->'code'->'coding'->0->>'code' IN ('measure-observation', 'measure-population-observation')
), scored AS (
    -- what gets a score: each group with observations, each of its strata in the summary
    SELECT DISTINCT gi, '' AS stratifier, '' AS stratum FROM observed
    UNION
    SELECT s.group_index, s.stratifier, s.stratum
      FROM hedis.run_summary_part s
     WHERE s.run_id = run AND s.stratifier <> ''
       AND s.group_index IN (SELECT gi FROM observed)
), observations AS (
    -- one row per observation list of a patient: the group's, and each
    -- stratum's (the patient's if the patient is in it, an episodic stratum's own)
    SELECT g.gi, src.stratifier, src.stratum, src.lists
      FROM hedis.run_result rr
      CROSS JOIN (SELECT DISTINCT gi FROM observed) g
      CROSS JOIN LATERAL (
            SELECT '' AS stratifier, '' AS stratum, rr.result->'groups'->g.gi->'observations' AS lists
            UNION ALL
            SELECT coalesce(st.s->>'id', (st.si - 1)::text), (st.s->'value')::text,
                   coalesce(st.s->'observations', rr.result->'groups'->g.gi->'observations')
              FROM jsonb_array_elements(rr.result->'groups'->g.gi->'stratifiers') WITH ORDINALITY st(s, si)) src
     WHERE rr.run_id = run
), observation AS (
    -- one row per observation: its list's group, stratum and population (k)
    SELECT ob.gi, ob.stratifier, ob.stratum, (l.k - 1)::int AS k, v,
           CASE WHEN jsonb_typeof(v) = 'number' THEN v::text::numeric END AS n
      FROM observations ob,
           jsonb_array_elements(CASE WHEN jsonb_typeof(ob.lists) = 'array' THEN ob.lists END)
               WITH ORDINALITY l(list, k),
           jsonb_array_elements(CASE WHEN jsonb_typeof(l.list) = 'array' THEN l.list END) v
), aggregated AS (
    -- each scored key's observations of each observation population, combined
    SELECT sc.gi, sc.stratifier, sc.stratum, o.nobs, o.ratio, o.population,
           count(x.v) AS values_n,
           CASE WHEN o.method = 'count' THEN count(x.v)
                WHEN o.method = 'sum' AND count(x.v) = 0 THEN 0
                WHEN count(x.v) = 0 OR count(x.n) < count(x.v) THEN NULL
                WHEN o.method = 'sum' THEN sum(x.n)
                WHEN o.method = 'average' THEN avg(x.n)
                WHEN o.method = 'median' THEN percentile_cont(0.5) WITHIN GROUP (ORDER BY x.n)::numeric
                WHEN o.method IN ('minimum', 'min') THEN min(x.n)
                WHEN o.method IN ('maximum', 'max') THEN max(x.n) END AS agg
      FROM scored sc
      JOIN observed o ON o.gi = sc.gi
      LEFT JOIN observation x
        ON x.gi = sc.gi AND x.stratifier = sc.stratifier AND x.stratum = sc.stratum AND x.k = o.k
     GROUP BY sc.gi, sc.stratifier, sc.stratum, o.k, o.nobs, o.ratio, o.population, o.method
), combined AS (
    -- a group's (stratum's) numerator and denominator aggregates, as the engine pairs them
    SELECT gi, stratifier, stratum, max(nobs) AS nobs, bool_or(ratio) AS ratio,
           max(CASE WHEN population = 'numerator' THEN agg
                    WHEN population IS DISTINCT FROM 'denominator' AND values_n > 0 THEN agg END) AS num,
           max(CASE WHEN population = 'denominator' AND values_n > 0 THEN agg END) AS den
      FROM aggregated
     GROUP BY gi, stratifier, stratum
)
SELECT jsonb_object_agg(hedis._observation_score_key(gi, stratifier, stratum),
                        CASE WHEN nobs = 1 AND NOT ratio THEN num
                             WHEN nobs = 2 AND den <> 0 THEN num / den END)
  FROM combined
$$;
COMMENT ON FUNCTION hedis.run_observation_scores(bigint) IS
    'measure scores of a run''s groups and strata from their measure observations (continuous variable, ratio), computed from its results in one read';

-- One of those scores: a group's (stratifier ''), or a stratum's (the
-- stratifier's id, or its position as text, and the value as jsonb text, as
-- in hedis.run_summary); NULL for a group or stratum without one.
CREATE FUNCTION hedis.run_observation_score(run bigint, group_index int,
                                            stratifier text DEFAULT '', stratum text DEFAULT '')
RETURNS numeric
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (hedis.run_observation_scores(run)
              ->> hedis._observation_score_key(group_index, stratifier, stratum))::numeric
$$;
COMMENT ON FUNCTION hedis.run_observation_score(bigint, int, text, text) IS
    'measure score of a run''s group (or stratum) from its measure observations (continuous variable, ratio), computed from its results';

-- A run's observation scores, worked out once, when it is done (a trigger:
-- the workers and run_now only set the status).
COMMENT ON COLUMN hedis.run.observation_scores IS
    'scores of the groups with measure observations, by "<group index>" and "<group index>/<stratifier>/<stratum>", set when the run is done';
CREATE FUNCTION hedis._run_observation_scores() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.status <> 'done' THEN
        NEW.observation_scores := NULL;
    ELSIF OLD.status <> 'done' THEN
        NEW.observation_scores := hedis.run_observation_scores(NEW.run_id);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER run_done_scores BEFORE UPDATE OF status ON hedis.run
    FOR EACH ROW EXECUTE FUNCTION hedis._run_observation_scores();

-- Rate per (group, stratifier, stratum) of a run, from hedis.run_summary: the
-- proportion; for a group with measure observations, the score of its
-- observations (of the stratum's patients) once the run is done.
CREATE VIEW hedis.run_rates AS
SELECT s.run_id, s.group_index, s.group_id, s.stratifier, s.stratum,
       CASE WHEN bool_or(s.population = 'measure-observation')
            THEN (SELECT (r.observation_scores
                            ->> hedis._observation_score_key(s.group_index, s.stratifier, s.stratum))::numeric
                    FROM hedis.run r WHERE r.run_id = s.run_id)
            ELSE hedis.proportion_rate(
                     sum(s.count) FILTER (WHERE s.population = 'numerator'),
                     sum(s.count) FILTER (WHERE s.population = 'numerator-exclusion'),
                     sum(s.count) FILTER (WHERE s.population = 'denominator'),
                     sum(s.count) FILTER (WHERE s.population = 'denominator-exclusion'),
                     sum(s.count) FILTER (WHERE s.population = 'denominator-exception'))::numeric
       END AS rate
  FROM hedis.run_summary s
 GROUP BY s.run_id, s.group_index, s.group_id, s.stratifier, s.stratum;

CREATE VIEW hedis.runs AS
SELECT r.run_id, r.measure, r.period_start, r.period_end, r.priority, r.mode, r.status,
       r.attempt, r.workers, r.done AS patients_done, r.patients_total, r.failed AS patients_failed,
       CASE WHEN r.patients_total > 0
            THEN round(100.0 * r.done / r.patients_total, 1) END AS percent_done,
       (SELECT round(rr.rate, 4) FROM hedis.run_rates rr
         WHERE rr.run_id = r.run_id AND rr.stratifier = ''
         ORDER BY rr.group_index LIMIT 1) AS rate,
       CASE WHEN r.status = 'running' AND r.done > r.done_at_dispatch
                 AND r.patients_total IS NOT NULL
            THEN (r.last_update - r.dispatched_at)
                 / (r.done - r.done_at_dispatch)
                 * (r.patients_total - r.done) END AS eta,
       r.queued_at, r.started_at, r.finished_at,
       coalesce(r.finished_at, r.last_update) - r.started_at AS elapsed,
       r.message
  FROM (SELECT r.*,
               r.patients_done + coalesce(w.done, 0) AS done,
               r.patients_failed + coalesce(w.failed, 0) AS failed,
               greatest(r.updated_at, w.updated_at) AS last_update
          FROM hedis.run r
          LEFT JOIN (SELECT run_id, sum(patients_done) AS done, sum(patients_failed) AS failed,
                            max(updated_at) AS updated_at
                       FROM hedis.run_worker GROUP BY run_id) w ON w.run_id = r.run_id) r;
COMMENT ON VIEW hedis.runs IS
    'every run: status, progress, rate of the first group (summary rows), estimated time left';

GRANT SELECT ON hedis.run_rates, hedis.runs TO hedis_reader;

-- FHIR MeasureReport of a run: 'summary' or 'subject-list' (the summary plus
-- one contained List of patients per population and stratum population).
CREATE FUNCTION hedis.measure_report(run bigint, report_type text DEFAULT 'summary')
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    r hedis.run;
    pop_system constant text := 'http://terminology.hl7.org/CodeSystem/measure-population';
    groups jsonb;
    contained jsonb;
    report jsonb;
BEGIN
    IF report_type IS NULL OR report_type NOT IN ('summary', 'subject-list') THEN
        RAISE EXCEPTION 'unknown report type "%"', report_type
              USING ERRCODE = 'invalid_parameter_value',
                    HINT = 'Use ''summary'' or ''subject-list''.';
    END IF;
    SELECT * INTO r FROM hedis.run WHERE run_id = run;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', run USING ERRCODE = 'undefined_object';
    END IF;

    -- populations of one (group, stratifier, stratum)
    WITH pops AS (
        SELECT s.group_index, s.group_id, s.stratifier, s.stratum,
               jsonb_agg(
                   jsonb_build_object(
                       'code', jsonb_build_object('coding', jsonb_build_array(
                           jsonb_build_object('system', pop_system, 'code', s.population))),
                       'count', s.count)
                   || CASE WHEN report_type = 'subject-list' AND s.count > 0
                           THEN jsonb_build_object('subjectResults', jsonb_build_object(
                                'reference', '#' || md5(s.group_index || '/' || s.stratifier
                                                        || '/' || s.stratum || '/' || s.population)))
                           ELSE '{}'::jsonb END
                   ORDER BY s.population) AS population
          FROM hedis.run_summary s
         WHERE s.run_id = run
         GROUP BY s.group_index, s.group_id, s.stratifier, s.stratum
    ), scored AS (
        SELECT p.*, rr.rate
          FROM pops p
          LEFT JOIN hedis.run_rates rr
            ON rr.run_id = run AND rr.group_index = p.group_index
           AND rr.stratifier = p.stratifier AND rr.stratum = p.stratum
    ), strata AS (
        SELECT s.group_index, s.stratifier,
               jsonb_agg(
                   jsonb_build_object(
                       'value', CASE
                           WHEN jsonb_typeof(s.stratum::jsonb) = 'object' THEN s.stratum::jsonb
                           WHEN jsonb_typeof(s.stratum::jsonb) = 'string'
                                THEN jsonb_build_object('text', s.stratum::jsonb #>> '{}')
                           ELSE jsonb_build_object('text', s.stratum) END,
                       'population', s.population)
                   || CASE WHEN s.rate IS NULL THEN '{}'::jsonb
                           ELSE jsonb_build_object('measureScore',
                                                   jsonb_build_object('value', s.rate)) END
                   ORDER BY s.stratum) AS stratum
          FROM scored s
         WHERE s.stratifier <> ''
         GROUP BY s.group_index, s.stratifier
    )
    SELECT jsonb_agg(
               jsonb_build_object('id', g.group_id, 'population', g.population)
               || CASE WHEN g.rate IS NULL THEN '{}'::jsonb
                       ELSE jsonb_build_object('measureScore', jsonb_build_object('value', g.rate)) END
               || coalesce((SELECT jsonb_build_object('stratifier',
                                       jsonb_agg(jsonb_build_object('id', st.stratifier,
                                                                    'stratum', st.stratum)
                                                 ORDER BY st.stratifier))
                              FROM strata st WHERE st.group_index = g.group_index), '{}'::jsonb)
               ORDER BY g.group_index)
      INTO groups
      FROM scored g
     WHERE g.stratifier = '';

    report := jsonb_build_object(
        'resourceType', 'MeasureReport',
        'id', 'run-' || r.run_id,
        'status', CASE WHEN r.status = 'done' THEN 'complete' ELSE 'pending' END,
        'type', report_type,
        'measure', r.measure_ref,
        'period', jsonb_build_object('start', r.period_start, 'end', r.period_end),
        'group', coalesce(groups, '[]'::jsonb));
    IF r.finished_at IS NOT NULL THEN
        report := report || jsonb_build_object('date', r.finished_at);
    END IF;

    IF report_type = 'subject-list' THEN
        -- one List per (group, stratifier, stratum, population) with count > 0.
        -- Each distinct outcome of the run is taken apart once and joined to
        -- the patients who have it (the patients' own results only for the
        -- rare inline ones): taking every patient's result apart cost 20 s
        -- for a million patients.
        WITH sources AS (
            SELECT o.outcome, NULL::text AS patient_id, o.result
              FROM hedis.run_outcome o WHERE o.run_id = run
            UNION ALL
            SELECT NULL, rp.patient_id, rp.result
              FROM hedis.run_patient rp WHERE rp.run_id = run AND rp.result IS NOT NULL
        ), parts AS (
            SELECT src.outcome, src.patient_id, g.idx - 1 AS group_index,
                   '' AS stratifier, '' AS stratum, p.key AS population
              FROM sources src
             CROSS JOIN LATERAL jsonb_array_elements(src.result -> 'groups')
                        WITH ORDINALITY AS g(grp, idx)
             CROSS JOIN LATERAL jsonb_each_text(g.grp -> 'populations') AS p(key, value)
             WHERE p.value::numeric > 0
            UNION ALL
            SELECT src.outcome, src.patient_id, g.idx - 1, coalesce(st.s ->> 'id', (st.sidx - 1)::text),
                   coalesce(st.s -> 'value', 'null'::jsonb)::text, p.key
              FROM sources src
             CROSS JOIN LATERAL jsonb_array_elements(src.result -> 'groups')
                        WITH ORDINALITY AS g(grp, idx)
             CROSS JOIN LATERAL jsonb_array_elements(coalesce(g.grp -> 'stratifiers', '[]'))
                        WITH ORDINALITY AS st(s, sidx)
             -- an episodic stratum's own counts, else the group's
             CROSS JOIN LATERAL jsonb_each_text(coalesce(st.s -> 'populations', g.grp -> 'populations'))
                        AS p(key, value)
             WHERE p.value::numeric > 0
        ), members AS (
            SELECT pt.group_index, pt.stratifier, pt.stratum, pt.population, rp.patient_id
              FROM parts pt
              JOIN hedis.run_patient rp ON rp.run_id = run AND rp.outcome = pt.outcome
            UNION ALL
            SELECT pt.group_index, pt.stratifier, pt.stratum, pt.population, pt.patient_id
              FROM parts pt WHERE pt.patient_id IS NOT NULL
        )
        SELECT jsonb_agg(l.list ORDER BY l.id)
          INTO contained
          FROM (SELECT md5(m.group_index || '/' || m.stratifier || '/' || m.stratum
                           || '/' || m.population) AS id,
                       jsonb_build_object(
                           'resourceType', 'List',
                           'id', md5(m.group_index || '/' || m.stratifier || '/' || m.stratum
                                     || '/' || m.population),
                           'status', 'current', 'mode', 'snapshot',
                           'entry', jsonb_agg(jsonb_build_object('item',
                                        jsonb_build_object('reference', 'Patient/' || m.patient_id))
                                     ORDER BY m.patient_id)) AS list
                  FROM members m
                 GROUP BY m.group_index, m.stratifier, m.stratum, m.population) l;
        IF contained IS NOT NULL THEN
            report := report || jsonb_build_object('contained', contained);
        END IF;
    END IF;
    RETURN report;
END
$$;

GRANT EXECUTE ON FUNCTION hedis.run(text, date, date, int), hedis.run_now(text, date, date),
    hedis.evaluate_population(text, date, date),
    hedis.cancel_run(bigint), hedis.resume_run(bigint, boolean),
    hedis.measure_report(bigint, text), hedis.proportion_rate(numeric, numeric, numeric, numeric, numeric),
    hedis.run_observation_score(bigint, int, text, text), hedis.run_observation_scores(bigint),
    hedis._observation_score_key(int, text, text),
    hedis._runs_wake_on_commit(), hedis._runs_resolve_measure(text), hedis._measure_ref(text, text)
    TO hedis_reader;
