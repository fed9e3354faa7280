-- engine_errors: errors a user can cause carry an errcode and a message that
-- names the problem; compile_library names unsupported ELM nodes.
\set ECHO none
\i test/fixtures/elm/helpers.sql
\set ECHO all

-- run a statement; show "SQLSTATE: message" of its error (or "no error")
CREATE FUNCTION elmt.try_sql(stmt text) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN
  EXECUTE stmt;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT elmt.load('[{"resourceType": "Patient", "id": "eng-errors-p", "birthDate": "1990-01-01"}]');

-- ---- an unsupported node: named, with feature_not_supported (0A000) ------------------
SELECT elmt.define('Fine', i(1));
SELECT elmt.define('Uses Foo', op('Add', i(1), '{"type": "Foo", "operand": []}'::jsonb));
-- the loader checks the ELM and refuses the library
SELECT elmt.try_sql($$SELECT elmt.load_library('EngErrorsFoo')$$) AS load_foo;
SELECT count(*) AS foo_libraries_stored FROM hedis.library WHERE name = 'EngErrorsFoo';
-- a library that reached the store another way: compile_library names the node
INSERT INTO hedis.library (url, version, name, resource, elm)
SELECT 'http://example.org/Library/EngErrorsFooDirect', '1.0.0', 'EngErrorsFooDirect', '{"resourceType": "Library"}',
       elmt.library_elm('EngErrorsFooDirect');
SELECT elmt.try_sql($$SELECT hedis.compile_library('EngErrorsFooDirect')$$) AS compile_foo;
SELECT elmt.try_sql($$SELECT hedis.evaluate_expression('EngErrorsFooDirect', 'Fine', 'eng-errors-p', '2024-01-01', '2024-12-31')$$) AS evaluate_in_foo_library;

-- ---- a reference to an undefined definition -----------------------------------------------
TRUNCATE elmt.def;
SELECT elmt.define('Dangling', ref('Nowhere'));
SELECT elmt.load_library('EngErrorsRef');
SELECT elmt.try_sql($$SELECT hedis.compile_library('EngErrorsRef')$$) AS compile_dangling_ref;

-- ---- a well-formed library --------------------------------------------------------------------
TRUNCATE elmt.def;
SELECT elmt.define('One', i(1));
SELECT elmt.define('Two singletons', op1('SingletonFrom', lst(i(1), i(2))));
SELECT elmt.define('Error message', jsonb_build_object('type', 'Message', 'source', i(1), 'condition', b(true),
  'code', s('ENG-1'), 'severity', s('Error'), 'message', s('stop here')));
SELECT elmt.define('Warning message', jsonb_build_object('type', 'Message', 'source', i(7), 'condition', b(true),
  'code', s('ENG-2'), 'severity', s('Warning'), 'message', s('carry on')));
SELECT elmt.define('Message not raised', jsonb_build_object('type', 'Message', 'source', i(8), 'condition', b(false),
  'code', s('ENG-3'), 'severity', s('Error'), 'message', s('never')));
SELECT elmt.define('Refers to itself', op('Add', i(1), ref('Refers to itself')));
SELECT elmt.define('Uses a failing one', op('Add', i(1), ref('Two singletons')));
SELECT elmt.load_library('EngErrors');
SELECT hedis.compile_library('EngErrors') AS definitions;

SELECT elmt.try_sql($$SELECT hedis.evaluate_expression('EngErrors', 'No such definition', 'eng-errors-p', '2024-01-01', '2024-12-31')$$) AS unknown_definition;
SELECT elmt.try_sql($$SELECT hedis.evaluate_expression('EngNoSuchLibrary', 'One', 'eng-errors-p', '2024-01-01', '2024-12-31')$$) AS unknown_library;
SELECT elmt.try_sql($$SELECT hedis.evaluate_expression('EngErrors', 'One', 'eng-no-such-patient', '2024-01-01', '2024-12-31')$$) AS unknown_patient;
SELECT elmt.try_sql($$SELECT hedis.evaluate_expression('EngErrors', 'One', 'eng-errors-p', '2024-12-31', '2024-01-01')$$) AS period_backwards;
SELECT elmt.try_sql($$SELECT hedis.evaluate('http://example.org/Measure/EngNoSuchMeasure', 'eng-errors-p', '2024-01-01', '2024-12-31')$$) AS unknown_measure;
-- run-time errors of CQL (SingletonFrom of many, Message with severity Error)
SELECT elmt.try_sql($$SELECT hedis.evaluate_expression('EngErrors', 'Two singletons', 'eng-errors-p', '2024-01-01', '2024-12-31')$$) AS singleton_from_two;
SELECT elmt.try_sql($$SELECT hedis.evaluate_expression('EngErrors', 'Error message', 'eng-errors-p', '2024-01-01', '2024-12-31')$$) AS message_error;
-- a definition that refers to itself fails; one whose evaluation failed half-way
-- is not taken for one under way the next time: the same error again
SELECT elmt.try_sql($$SELECT hedis.evaluate_expression('EngErrors', 'Refers to itself', 'eng-errors-p', '2024-01-01', '2024-12-31')$$) AS refers_to_itself;
SELECT elmt.try_sql($$SELECT hedis.evaluate_expression('EngErrors', 'Uses a failing one', 'eng-errors-p', '2024-01-01', '2024-12-31')$$) AS fails_inside,
       elmt.try_sql($$SELECT hedis.evaluate_expression('EngErrors', 'Uses a failing one', 'eng-errors-p', '2024-01-01', '2024-12-31')$$) AS fails_inside_again,
       elmt.try_sql($$SELECT hedis.evaluate_expression('EngErrors', 'Two singletons', 'eng-errors-p', '2024-01-01', '2024-12-31')$$) AS failed_one_alone;
SELECT hedis.evaluate_expression('EngErrors', 'Warning message', 'eng-errors-p', '2024-01-01', '2024-12-31') AS message_warning_returns_source,
       hedis.evaluate_expression('EngErrors', 'Message not raised', 'eng-errors-p', '2024-01-01', '2024-12-31') AS message_false_condition;
-- malformed ELM (a node without an operand, a name or a path its
-- evaluation needs) is refused when compiled, with invalid_parameter_value,
-- instead of crashing the backend as it did (an aggregate written with
-- "operand" instead of "source", an Add with one operand, ...: 496 of 955
-- such nodes, one per node type and shape, crashed it before the check)
DELETE FROM elmt.chk; DELETE FROM elmt.def;
SELECT elmt.define('Count without source', op1('Count', lst(i(1), i(2))));
SELECT elmt.try_sql($$SELECT elmt.load_library('EngErrorsNoSource')$$) AS load_count_without_source;
SELECT elmt.try_sql($$SELECT hedis.evaluate_expression('EngErrorsNoSource', 'Count without source', 'eng-errors-p', '2024-01-01', '2024-12-31')$$) AS count_without_source;
CREATE FUNCTION pg_temp.malformed(lib text, expr jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM elmt.chk; DELETE FROM elmt.def;
  PERFORM elmt.define('Malformed', expr);
  PERFORM elmt.load_library(lib);
  RETURN elmt.try_sql(format($q$SELECT hedis.evaluate_expression(%L, 'Malformed', 'eng-errors-p', '2024-01-01', '2024-12-31')$q$, lib));
END $$;
SELECT pg_temp.malformed('EngMalformed1', '{"type": "Add", "operand": [{"type": "Null"}]}') AS add_with_one_operand,
       pg_temp.malformed('EngMalformed2', '{"type": "Not"}') AS not_without_operand,
       pg_temp.malformed('EngMalformed3', '{"type": "Property", "source": {"type": "Null"}}') AS property_without_path,
       pg_temp.malformed('EngMalformed4', '{"type": "ExpressionRef"}') AS reference_without_name,
       pg_temp.malformed('EngMalformed5', '{"type": "Retrieve"}') AS retrieve_without_type;
-- after the errors the backend still evaluates
SELECT hedis.evaluate_expression('EngErrors', 'One', 'eng-errors-p', '2024-01-01', '2024-12-31') AS still_works;

-- (hedis.elm_supported_nodes(): see engine_known_bugs)

-- ---- the patient index recreated in another shape: refused, with the fix -------------
-- (the engine reads a patient's entries from the btree's leaf pages; a hash
-- index has none, a descending or partial one would give wrong entries)
CREATE FUNCTION pg_temp.with_index(definition text) RETURNS text LANGUAGE plpgsql AS
$$ DECLARE r text;
BEGIN
  DROP INDEX hedis.resource_patient_idx;
  EXECUTE 'CREATE INDEX resource_patient_idx ON hedis.resource ' || definition;
  r := elmt.try_sql($q$SELECT hedis.evaluate_expression('EngErrors', 'One', 'eng-errors-p', '2024-01-01', '2024-12-31')$q$);
  RAISE EXCEPTION 'undo';
EXCEPTION WHEN raise_exception THEN
  RETURN r;   -- the index as it was: the block's changes are undone
END $$;
SELECT d AS index_definition, pg_temp.with_index(d) AS evaluation
  FROM unnest(ARRAY['USING hash (patient_key)',
                    '(patient_key DESC, resource_type, fhir_id)',
                    '(patient_key, resource_type, fhir_id) WHERE resource_type <> ''Patient''',
                    '(resource_type, patient_key, fhir_id)',
                    '(patient_key, resource_type, fhir_id)']) d;
-- and with the index the extension made
SELECT hedis.evaluate_expression('EngErrors', 'One', 'eng-errors-p', '2024-01-01', '2024-12-31') AS still_works_again;
