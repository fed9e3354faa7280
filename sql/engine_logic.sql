-- engine_logic: three-valued logic, null propagation, arithmetic, strings,
-- conditionals and conversions.  Expected values are from the CQL 1.5
-- specification (Logical, Comparison, Arithmetic, String, Type operators).
\set ECHO none
\i test/fixtures/elm/helpers.sql
\set ECHO all

SELECT elmt.load('[{"resourceType": "Patient", "id": "eng-logic-p", "birthDate": "1980-06-15", "gender": "female"}]');

-- ---- three-valued logic (CQL §9.1 truth tables) -------------------------
INSERT INTO elmt.chk (cql, expr, expected) VALUES
('true and null',   op('And', b(true), nul()),   'null'),
('false and null',  op('And', b(false), nul()),  'false'),
('null and false',  op('And', nul(), b(false)),  'false'),
('null and null',   op('And', nul(), nul()),     'null'),
('true and true',   op('And', b(true), b(true)), 'true'),
('true or null',    op('Or', b(true), nul()),    'true'),
('null or true',    op('Or', nul(), b(true)),    'true'),
('false or null',   op('Or', b(false), nul()),   'null'),
('false or false',  op('Or', b(false), b(false)),'false'),
('not null',        op1('Not', nul()),           'null'),
('not false',       op1('Not', b(false)),        'true'),
('false implies null', op('Implies', b(false), nul()), 'true'),
('null implies true',  op('Implies', nul(), b(true)),  'true'),
('true implies null',  op('Implies', b(true), nul()),  'null'),
('null implies false', op('Implies', nul(), b(false)), 'null'),
('true implies false', op('Implies', b(true), b(false)), 'false'),
('true xor null',   op('Xor', b(true), nul()),   'null'),
('true xor false',  op('Xor', b(true), b(false)),'true'),
('true xor true',   op('Xor', b(true), b(true)), 'false'),
('null is null',    op1('IsNull', nul()),        'true'),
('null is true',    op1('IsTrue', nul()),        'false'),
('null is false',   op1('IsFalse', nul()),       'false'),
('Coalesce(null, null, 3, 4)', op('Coalesce', nul(), nul(), i(3), i(4)), '3'),
('Coalesce(null, null)', op('Coalesce', nul(), nul()), 'null');

-- ---- comparison and null propagation --------------------------------------
INSERT INTO elmt.chk (cql, expr, expected) VALUES
('1 = null',        op('Equal', i(1), nul('Integer')), 'null'),
('null = null',     op('Equal', nul('Integer'), nul('Integer')), 'null'),
('null ~ null',     op('Equivalent', nul('Integer'), nul('Integer')), 'true'),
('1 ~ null',        op('Equivalent', i(1), nul('Integer')), 'false'),
('1 != null',       op('NotEqual', i(1), nul('Integer')), 'null'),
('1 < null',        op('Less', i(1), nul('Integer')), 'null'),
('1 = 1.0',         op('Equal', op1('ToDecimal', i(1)), dc('1.0')), 'true'),
('2 >= 2',          op('GreaterOrEqual', i(2), i(2)), 'true'),
('''abc'' < ''abd''', op('Less', s('abc'), s('abd')), 'true'),
('''abc'' = ''ABC''', op('Equal', s('abc'), s('ABC')), 'false'),
('''abc'' ~ ''ABC''', op('Equivalent', s('abc'), s('ABC')), 'true'),
('''a<tab>b'' ~ ''A B'' (whitespace normalised)', op('Equivalent', s(E'a\tb'), s('A B')), 'true'),
('1.50 ~ 1.5',      op('Equivalent', dc('1.50'), dc('1.5')), 'true'),
-- CQL 1.5 (and cql-tests EqualNullNull): aligned null elements of lists and tuples compare equal
('{1, null} = {1, null}', op('Equal', lst(i(1), nul('Integer')), lst(i(1), nul('Integer'))), 'true'),
('{1, 2} = {1, null}', op('Equal', lst(i(1), i(2)), lst(i(1), nul('Integer'))), 'null'),
('{1, null} ~ {1, null}', op('Equivalent', lst(i(1), nul('Integer')), lst(i(1), nul('Integer'))), 'true'),
('{1, 2} = {1, 2, 3}', op('Equal', lst(i(1), i(2)), lst(i(1), i(2), i(3))), 'false'),
('Tuple{a: 1, b: null} = Tuple{a: 1, b: null}',
  op('Equal', tup('a', i(1)::text, 'b', nul('Integer')::text), tup('a', i(1)::text, 'b', nul('Integer')::text)), 'true'),
('Tuple{a: 1, b: 2} = Tuple{a: 1, b: null}',
  op('Equal', tup('a', i(1)::text, 'b', i(2)::text), tup('a', i(1)::text, 'b', nul('Integer')::text)), 'null'),
('Tuple{a: 1, b: null} ~ Tuple{a: 1, b: null}',
  op('Equivalent', tup('a', i(1)::text, 'b', nul('Integer')::text), tup('a', i(1)::text, 'b', nul('Integer')::text)), 'true'),
('Tuple{a: 1, b: 2} = Tuple{a: 1, b: 3}',
  op('Equal', tup('a', i(1)::text, 'b', i(2)::text), tup('a', i(1)::text, 'b', i(3)::text)), 'false');

-- ---- arithmetic -------------------------------------------------------------
INSERT INTO elmt.chk (cql, expr, expected) VALUES
('1 + null',        op('Add', i(1), nul('Integer')), 'null'),
('2 + 3',           op('Add', i(2), i(3)), '5'),
('2 - 5',           op('Subtract', i(2), i(5)), '-3'),
('6 * 7',           op('Multiply', i(6), i(7)), '42'),
('7 / 2',           op('Divide', op1('ToDecimal', i(7)), op1('ToDecimal', i(2))), '3.5'),
('1.0 / 3.0',       op('Divide', dc('1.0'), dc('3.0')), '0.33333333'),
('0.1 + 0.2 = 0.3', op('Equal', op('Add', dc('0.1'), dc('0.2')), dc('0.3')), 'true'),
('5 / 0',           op('Divide', op1('ToDecimal', i(5)), op1('ToDecimal', i(0))), 'null'),
('5.0 / 0.0',       op('Divide', dc('5.0'), dc('0.0')), 'null'),
('7 div 2',         op('TruncatedDivide', i(7), i(2)), '3'),
('-7 div 2',        op('TruncatedDivide', op1('Negate', i(7)), i(2)), '-3'),
('7 div 0',         op('TruncatedDivide', i(7), i(0)), 'null'),
('7 mod 3',         op('Modulo', i(7), i(3)), '1'),
('-7 mod 3',        op('Modulo', op1('Negate', i(7)), i(3)), '-1'),
('7 mod 0',         op('Modulo', i(7), i(0)), 'null'),
('2 ^ 10',          op('Power', i(2), i(10)), '1024'),
('Abs(-5)',         op1('Abs', op1('Negate', i(5))), '5'),
('Ceiling(1.1)',    op1('Ceiling', dc('1.1')), '2'),
('Floor(-1.1)',     op1('Floor', dc('-1.1')), '-2'),
('Truncate(-1.9)',  op1('Truncate', dc('-1.9')), '-1'),
('Round(3.14159, 2)', jsonb_build_object('type', 'Round', 'operand', dc('3.14159'), 'precision', i(2)), '3.14'),
('Round(-0.5)',     jsonb_build_object('type', 'Round', 'operand', dc('-0.5')), '0'),
('Round(2.5)',      jsonb_build_object('type', 'Round', 'operand', dc('2.5')), '3'),
('2147483646 + 1',  op('Add', i(2147483646), i(1)), '2147483647'),
('successor of 1',  op1('Successor', i(1)), '2'),
('predecessor of 1.0', op1('Predecessor', dc('1.0')), '0.99999999'),
('10.0 / 3.0',      op('Divide', dc('10.0'), dc('3.0')), '3.33333333'),
('Ln(0.0)',         op1('Ln', dc('0.0')), 'null'),
('2 ^ -1',          op('Power', i(2), op1('Negate', i(1))), '0.5');

-- ---- quantities (UCUM units compare after conversion) --------------------------
INSERT INTO elmt.chk (cql, expr, expected) VALUES
('1 ''g'' = 1000 ''mg''',       op('Equal', q('1', 'g'), q('1000', 'mg')), 'true'),
('1 ''cm'' ~ 0.01 ''m''',       op('Equivalent', q('1', 'cm'), q('0.01', 'm')), 'true'),
('1 ''m'' > 10 ''cm''',         op('Greater', q('1', 'm'), q('10', 'cm')), 'true'),
('1 ''g'' = 1 ''m'' (incomparable units)', op('Equal', q('1', 'g'), q('1', 'm')), 'null'),
('5 ''mg'' + 3 ''mg''',         op('Add', q('5', 'mg'), q('3', 'mg')), '{"value": 8, "unit": "mg"}'),
('1 ''g'' + 500 ''mg'' = 1.5 ''g''', op('Equal', op('Add', q('1', 'g'), q('500', 'mg')), q('1.5', 'g')), 'true'),
('ConvertQuantity(1 ''g'', ''mg'')', op('ConvertQuantity', q('1', 'g'), s('mg')), '{"value": 1000, "unit": "mg"}'),
('1 year = 12 months',          op('Equal', q('1', 'year'), q('12', 'months')), 'true'),
('1 day = 24 hours',            op('Equal', q('1', 'day'), q('24', 'hours')), 'true'),
('Max({1 ''g'', 500 ''mg''})',  src('Max', lst(q('1', 'g'), q('500', 'mg'))), '{"value": 1, "unit": "g"}');

-- ---- strings ----------------------------------------------------------------
INSERT INTO elmt.chk (cql, expr, expected) VALUES
('''ab'' + ''cd''',   op('Concatenate', s('ab'), s('cd')), '"abcd"'),
('''ab'' + null',     op('Concatenate', s('ab'), nul('String')), 'null'),
('''ab'' & null',     op('Concatenate', op('Coalesce', s('ab'), s('')), op('Coalesce', nul('String'), s(''))), '"ab"'),
('Split(''a,b,,c'', '','')',
  jsonb_build_object('type', 'Split', 'stringToSplit', s('a,b,,c'), 'separator', s(',')), '["a", "b", "", "c"]'),
('Split(null, '','')',
  jsonb_build_object('type', 'Split', 'stringToSplit', nul('String'), 'separator', s(',')), 'null'),
('Combine({''a'', null, ''c''}, ''-'')',
  jsonb_build_object('type', 'Combine', 'source', lst(s('a'), nul('String'), s('c')), 'separator', s('-')), '"a-c"'),
('Combine({''a'', ''b''})',
  jsonb_build_object('type', 'Combine', 'source', lst(s('a'), s('b'))), '"ab"'),
('Substring(''abcdef'', 2, 3)',
  jsonb_build_object('type', 'Substring', 'stringToSub', s('abcdef'), 'startIndex', i(2), 'length', i(3)), '"cde"'),
('Substring(''abcdef'', 4)',
  jsonb_build_object('type', 'Substring', 'stringToSub', s('abcdef'), 'startIndex', i(4)), '"ef"'),
('Substring(''abc'', 5)',
  jsonb_build_object('type', 'Substring', 'stringToSub', s('abc'), 'startIndex', i(5)), 'null'),
('Substring(''abc'', -1)',
  jsonb_build_object('type', 'Substring', 'stringToSub', s('abc'), 'startIndex', op1('Negate', i(1))), 'null'),
('Upper(''aBc'')',    op1('Upper', s('aBc')), '"ABC"'),
('Lower(''aBc'')',    op1('Lower', s('aBc')), '"abc"'),
('Length(''abc'')',   op1('Length', s('abc')), '3'),
('StartsWith(''abc'', ''ab'')', op('StartsWith', s('abc'), s('ab')), 'true'),
('StartsWith(''abc'', '''')', op('StartsWith', s('abc'), s('')), 'true'),
('EndsWith(''abc'', ''bc'')',   op('EndsWith', s('abc'), s('bc')), 'true'),
('EndsWith(''abc'', ''ab'')',   op('EndsWith', s('abc'), s('ab')), 'false'),
('PositionOf(''c'', ''abcc'')',
  jsonb_build_object('type', 'PositionOf', 'pattern', s('c'), 'string', s('abcc')), '2'),
('PositionOf(''z'', ''abc'')',
  jsonb_build_object('type', 'PositionOf', 'pattern', s('z'), 'string', s('abc')), '-1'),
('''abc''[1]',        op('Indexer', s('abc'), i(1)), '"b"'),
('''abc''[3]',        op('Indexer', s('abc'), i(3)), 'null');

-- ---- conditionals -----------------------------------------------------------
INSERT INTO elmt.chk (cql, expr, expected) VALUES
('if null then 1 else 2',
  jsonb_build_object('type', 'If', 'condition', nul('Boolean'), 'then', i(1), 'else', i(2)), '2'),
('if 1 < 2 then ''y'' else ''n''',
  jsonb_build_object('type', 'If', 'condition', op('Less', i(1), i(2)), 'then', s('y'), 'else', s('n')), '"y"'),
('case when false then 1 when true then 2 else 3 end',
  jsonb_build_object('type', 'Case', 'caseItem', jsonb_build_array(
     jsonb_build_object('when', b(false), 'then', i(1)), jsonb_build_object('when', b(true), 'then', i(2))),
     'else', i(3)), '2'),
('case 3 when 1 then ''a'' when 3 then ''c'' else ''z'' end',
  jsonb_build_object('type', 'Case', 'comparand', i(3), 'caseItem', jsonb_build_array(
     jsonb_build_object('when', i(1), 'then', s('a')), jsonb_build_object('when', i(3), 'then', s('c'))),
     'else', s('z')), '"c"'),
('case null when null then ''a'' else ''z'' end',
  jsonb_build_object('type', 'Case', 'comparand', nul('Integer'), 'caseItem', jsonb_build_array(
     jsonb_build_object('when', nul('Integer'), 'then', s('a'))), 'else', s('z')), '"z"');

-- ---- types and conversions --------------------------------------------------
INSERT INTO elmt.chk (cql, expr, expected) VALUES
('ToDecimal(''1.5'')', op1('ToDecimal', s('1.5')), '1.5'),
('ToDecimal(''abc'')', op1('ToDecimal', s('abc')), 'null'),
('ToInteger(''42'')',  op1('ToInteger', s('42')), '42'),
('ToInteger(''4.2'')', op1('ToInteger', s('4.2')), 'null'),
('ToString(42)',       op1('ToString', i(42)), '"42"'),
('ToString(true)',     op1('ToString', b(true)), '"true"'),
('ToString(@2014-01-01)', op1('ToString', d('2014-01-01')), '"2014-01-01"'),
('ToBoolean(''YES'')', op1('ToBoolean', s('YES')), 'true'),
('ToBoolean(''f'')',   op1('ToBoolean', s('f')), 'false'),
('ToBoolean(''0'')',   op1('ToBoolean', s('0')), 'false'),
('ToBoolean(''maybe'')', op1('ToBoolean', s('maybe')), 'null'),
('ToDateTime(''2014-01-01T10:30:00Z'') = @2014-01-01T10:30:00Z',
  op('Equal', op1('ToDateTime', s('2014-01-01T10:30:00Z')), dt('2014-01-01T10:30:00Z')), 'true'),
('ToDateTime(''not a date'')', op1('ToDateTime', s('not a date')), 'null'),
-- ToDateTime of a Date keeps day precision: equal to a day-precision DateTime,
-- uncertain (null) against a millisecond one
('ToDateTime(@2014-01-15) = DateTime(2014, 1, 15)',
  op('Equal', op1('ToDateTime', d('2014-01-15')),
     jsonb_build_object('type', 'DateTime', 'year', i(2014), 'month', i(1), 'day', i(15))), 'true'),
('ToDateTime(@2014-01-15) = @2014-01-15T00:00:00.000Z',
  op('Equal', op1('ToDateTime', d('2014-01-15')), dt('2014-01-15T00:00:00.000Z')), 'null'),
('ToDate(@2014-01-15T23:00:00Z)', op1('ToDate', dt('2014-01-15T23:00:00Z')), '"2014-01-15"'),
('ToQuantity(''5.5 ''''mg'''''')', op1('ToQuantity', s('5.5 ''mg''')), '{"value": 5.5, "unit": "mg"}'),
('5 is Integer',
  jsonb_build_object('type', 'Is', 'operand', i(5), 'isType', '{urn:hl7-org:elm-types:r1}Integer'), 'true'),
('5 is String',
  jsonb_build_object('type', 'Is', 'operand', i(5), 'isType', '{urn:hl7-org:elm-types:r1}String'), 'false'),
('null is Integer',
  jsonb_build_object('type', 'Is', 'operand', nul(), 'isType', '{urn:hl7-org:elm-types:r1}Integer'), 'false'),
('''a'' as Integer',
  jsonb_build_object('type', 'As', 'operand', s('a'), 'asType', '{urn:hl7-org:elm-types:r1}Integer'), 'null'),
('5 as Integer',
  jsonb_build_object('type', 'As', 'operand', i(5), 'asType', '{urn:hl7-org:elm-types:r1}Integer'), '5'),
('Integer + Decimal promotes: 1 + 0.5',
  op('Add', op1('ToDecimal', i(1)), dc('0.5')), '1.5');

SELECT elmt.load_library('EngLogic');
SELECT hedis.compile_library('EngLogic') > 0 AS compiled;
SELECT * FROM elmt.run('EngLogic', 'eng-logic-p');
SELECT count(*) FILTER (WHERE ok) AS passed, count(*) FILTER (WHERE NOT ok) AS failed FROM elmt.run('EngLogic', 'eng-logic-p');
