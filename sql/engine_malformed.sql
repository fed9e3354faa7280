-- engine_malformed: every ELM node type the engine evaluates, written
-- without the children it needs (no children; an empty operand list; one
-- or two null operands; a null source), is compiled and evaluated for a
-- patient: each gives a value or an error with a user-facing errcode, and
-- none crashes the backend or raises an internal error (XX000).  Before the
-- compiler checked operands, names and paths, 496 of these 955 crashed it.
\set ECHO none
\i test/fixtures/elm/helpers.sql
\set ECHO all

SELECT elmt.load('[{"resourceType": "Patient", "id": "eng-malformed-p", "birthDate": "1990-01-01"}]');

CREATE TEMP TABLE malformed_case AS
SELECT row_number() OVER (ORDER BY t, v.shape) AS i, t || ' ' || v.shape AS name, jsonb_build_object('type', t) || v.extra AS expr
  FROM hedis.elm_supported_nodes() t,
       (VALUES ('bare', '{}'::jsonb),
               ('empty', '{"operand": []}'::jsonb),
               ('one', '{"operand": {"type": "Null"}}'::jsonb),
               ('two', '{"operand": [{"type": "Null"}, {"type": "Null"}]}'::jsonb),
               ('src', '{"source": {"type": "Null"}}'::jsonb)) v(shape, extra);

-- one library per case (a library that does not compile evaluates nothing)
CREATE FUNCTION pg_temp.outcome(i bigint, name text, expr jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM elmt.chk; DELETE FROM elmt.def;
  PERFORM elmt.define(name, expr);
  PERFORM elmt.load_library('EngMalformed' || i);
  PERFORM hedis.evaluate_expression('EngMalformed' || i, name, 'eng-malformed-p', '2024-01-01', '2024-12-31');
  RETURN 'value';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;
CREATE TEMP TABLE malformed_outcome AS
SELECT c.name, pg_temp.outcome(c.i, c.name, c.expr) AS outcome FROM malformed_case c ORDER BY c.i;

SELECT count(*) > 900 AS every_node_type_tried,
       count(*) FILTER (WHERE outcome = 'XX000') AS internal_errors
  FROM malformed_outcome;
-- the node types whose operands the compiler now checks say so (a sample)
SELECT name, outcome FROM malformed_outcome
 WHERE name IN ('Add one', 'Not bare', 'Count empty', 'Property src', 'ExpressionRef bare', 'Retrieve bare', 'If two')
 ORDER BY name;
