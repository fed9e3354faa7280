-- runs_interrupt: a background run whose workers are gone (server crash or
-- restart, terminated workers) is marked interrupted by the scheduler, and
-- can be resumed.  Needs shared_preload_libraries = pg_hedis (the launcher),
-- not the measure engine: the run is made to look like a crashed one.
SET client_min_messages = warning;
INSERT INTO hedis.measure (url, version, name, resource)
VALUES ('http://example.org/Measure/Interrupted', '', 'InterruptedM', '{"resourceType":"Measure"}');
CREATE FUNCTION pg_temp.wait_status(id bigint, leaving text, seconds int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    s text;
BEGIN
    FOR i IN 1 .. seconds * 10 LOOP
        SELECT status INTO s FROM hedis.run WHERE run_id = id;
        EXIT WHEN s IS DISTINCT FROM leaving;
        PERFORM pg_sleep(0.1);
    END LOOP;
    RETURN s;
END
$$;
-- a run left 'running' by a worker process that no longer exists
BEGIN;
INSERT INTO hedis.run (measure, measure_ref, period_start, period_end, status, workers,
                       patients_total, patients_done, started_at, dispatched_at)
VALUES ('InterruptedM', 'http://example.org/Measure/Interrupted', '2026-01-01', '2026-12-31',
        'running', 1, 10, 4, now(), now())
RETURNING run_id AS rid \gset
INSERT INTO hedis.run_worker (run_id, worker, pid, started_at) VALUES (:rid, 0, 2147483647, now());
-- what hedis.run() does: wake the launcher when this transaction commits
SELECT hedis._runs_wake_on_commit();
COMMIT;
SELECT pg_temp.wait_status(:rid, 'running', 30) AS status;
SELECT status, message, patients_done, attempt FROM hedis.run WHERE run_id = :rid;
-- resume continues the attempt (its knowledge generation is unknown here, so
-- nothing forces a restart); cancelled in the same transaction so that no
-- worker picks it up
BEGIN;
SELECT hedis.resume_run(:rid) AS attempt;
SELECT status, patients_done, message FROM hedis.run WHERE run_id = :rid;
SELECT hedis.cancel_run(:rid);
COMMIT;
SELECT status FROM hedis.run WHERE run_id = :rid;
-- a run that is neither interrupted nor cancelled cannot be resumed
CREATE FUNCTION pg_temp.try_resume(id bigint) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    RETURN 'resumed, attempt ' || hedis.resume_run(id);
EXCEPTION WHEN object_not_in_prerequisite_state THEN
    RETURN 'refused (' || SQLSTATE || ')';
END
$$;
UPDATE hedis.run SET status = 'done' WHERE run_id = :rid;
SELECT pg_temp.try_resume(:rid);
-- a run queued in a transaction that rolls back leaves nothing behind
BEGIN;
SELECT hedis.run('InterruptedM', '2026-01-01', '2026-12-31') IS NOT NULL AS queued;
ROLLBACK;
SELECT count(*) FROM hedis.run WHERE measure = 'InterruptedM';
DELETE FROM hedis.run WHERE measure = 'InterruptedM';
DELETE FROM hedis.measure WHERE name = 'InterruptedM';
