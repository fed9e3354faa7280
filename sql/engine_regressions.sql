-- engine_regressions: CQL 1.5 behaviour the engine once got wrong (each found by
-- these suites and fixed); every row asserts the value the specification gives.
\set ECHO none
\i test/fixtures/elm/helpers.sql
\set ECHO all

SELECT elmt.load('[{"resourceType": "Patient", "id": "eng-regr-p", "birthDate": "1980-06-15"}]');
SELECT elmt.define('SBPCode', jsonb_build_object('type', 'Code', 'code', '8480-6', 'display', 'Systolic blood pressure',
  'system', jsonb_build_object('type', 'CodeSystemRef', 'name', 'LOINC')));

INSERT INTO elmt.chk (cql, expr, expected) VALUES
-- ToBoolean accepts 'true','t','yes','1' but not 'y'/'n' (CQL 1.5 ToBoolean: true t yes y 1 / false f no n 0, any case)
('ToBoolean(''y'')',           op1('ToBoolean', s('y')), 'true'),
('ToBoolean(''N'')',           op1('ToBoolean', s('N')), 'false'),
-- Integer is 32-bit in CQL; overflow must give null (Add/Subtract/Multiply/Abs: "if the result cannot be represented, the result is null")
('2147483647 + 1',             op('Add', i(2147483647), i(1)), 'null'),
('2147483647 * 2',             op('Multiply', i(2147483647), i(2)), 'null'),
-- Length of a null String is null (only Length of a null List is 0); the As node says it is a String
('Length(null as String)',     op1('Length', nul('String')), 'null'),
-- strings are sequences of characters, not UTF-8 bytes: Length/Substring count bytes
('Length(''é'')',              op1('Length', s('é')), '1'),
('Substring(''héllo'', 1, 2)', jsonb_build_object('type', 'Substring', 'stringToSub', s('héllo'), 'startIndex', i(1), 'length', i(2)), '"él"'),
-- Decimal is a binary double: 1.005 is stored as 1.00499999..., so Round(1.005, 2) rounds down
('Round(1.005, 2)',            jsonb_build_object('type', 'Round', 'operand', dc('1.005'), 'precision', i(2)), '1.01'),
-- interval equality/equivalence compares Start and End (CQL 1.5 Equal/Equivalent for intervals): [1, 5) is [1, 4]
('Interval[1, 5) = Interval[1, 4]', op('Equal', ivl(i(1), i(5), true, false), ivl(i(1), i(4))), 'true'),
('Interval[1, 5) ~ Interval[1, 4]', op('Equivalent', ivl(i(1), i(5), true, false), ivl(i(1), i(4))), 'true'),
-- = on Codes uses tuple equality over code, system, version AND display; only ~ ignores display
('SBPCode = Code ''8480-6'' from LOINC display ''other''',
   op('Equal', ref('SBPCode'), jsonb_build_object('type', 'Code', 'code', '8480-6', 'display', 'other',
     'system', jsonb_build_object('type', 'CodeSystemRef', 'name', 'LOINC'))), 'false'),
-- cql-tests CqlComparisonOperatorsTest DateTimeDayCompare: both sides normalised to the evaluation offset (UTC here) are 2022-02-22
('@2022-02-22T00:00:00.000-05:00 same day as @2022-02-22T04:59:00.000Z',
   opp('SameAs', 'Day', dt('2022-02-22T00:00:00.000-05:00'), dt('2022-02-22T04:59:00.000Z')), 'true'),
-- DurationBetween at a precision finer than an operand's gives an uncertainty interval
-- (here days between @2012-01 and @2012-03-15 is in [44, 74]); comparing it with 20 is certain, but the engine returns null
('days between @2012-01 and @2012-03-15 > 20',
   op('Greater', opp('DurationBetween', 'Day', d('2012-01'), d('2012-03-15')), i(20)), 'true'),
('months between @2012 and @2014-06 > 5',
   op('Greater', opp('DurationBetween', 'Month', d('2012'), d('2014-06')), i(5)), 'true'),
-- a query whose sources are all single values returns a single value, not a list
-- (cql-execution query.js: a list only when some source is a list)
('from First({1}) X, Last({2}) Y return X + Y',
   jsonb_build_object('type', 'Query', 'source', jsonb_build_array(
       jsonb_build_object('alias', 'X', 'expression', src('First', lst(i(1)))),
       jsonb_build_object('alias', 'Y', 'expression', src('Last', lst(i(2))))),
     'return', jsonb_build_object('distinct', false, 'expression', op('Add', alias('X'), alias('Y')))), '3'),
('from First({1}) X, Last({2}) Y where false return X + Y',
   jsonb_build_object('type', 'Query', 'source', jsonb_build_array(
       jsonb_build_object('alias', 'X', 'expression', src('First', lst(i(1)))),
       jsonb_build_object('alias', 'Y', 'expression', src('Last', lst(i(2))))),
     'where', b(false),
     'return', jsonb_build_object('distinct', false, 'expression', op('Add', alias('X'), alias('Y')))), 'null'),
-- an open high bound of a Quantity interval excludes its value (the PCSBPScreening 120 mm[Hg] case)
('120 ''mm[Hg]'' in Interval[1 ''mm[Hg]'', 120 ''mm[Hg]'')',
   op('In', q('120', 'mm[Hg]'), ivl(q('1', 'mm[Hg]'), q('120', 'mm[Hg]'), true, false)), 'false'),
('119.5 ''mm[Hg]'' in Interval[1 ''mm[Hg]'', 120 ''mm[Hg]'')',
   op('In', q('119.5', 'mm[Hg]'), ivl(q('1', 'mm[Hg]'), q('120', 'mm[Hg]'), true, false)), 'true'),
('1.0 in Interval(1.0, 2.0]',
   op('In', dc('1.0'), ivl(dc('1.0'), dc('2.0'), false, true)), 'false');

SELECT elmt.load_library('EngRegressions', '{"codeSystems": {"def": [{"name": "LOINC", "id": "http://loinc.org", "accessLevel": "Public"}]}}');
SELECT * FROM elmt.run('EngRegressions', 'eng-regr-p');

-- hedis.elm_supported_nodes() returns the node types (it once failed as a SETOF text SRF)
SELECT count(*) > 100 AS many_nodes,
       bool_or(n = 'Query') AND bool_or(n = 'Retrieve') AS core_nodes,
       NOT bool_or(n = 'Foo') AS no_foo
  FROM hedis.elm_supported_nodes() n;
