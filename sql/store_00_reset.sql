-- store_00_reset: the store suites count what they load, so they start from
-- an empty store whatever the suites before them (alphabetical order) left.
SET client_min_messages = warning;
TRUNCATE hedis.run CASCADE;
TRUNCATE hedis.resource, hedis.patient, hedis.load_error, hedis.load_log CASCADE;
TRUNCATE hedis.library, hedis.measure, hedis.valueset, hedis.valueset_code CASCADE;
UPDATE hedis.knowledge_state SET generation = 0;
SELECT (SELECT count(*) FROM hedis.resource) AS resources_left,
       (SELECT generation FROM hedis.knowledge_state) AS generation;
