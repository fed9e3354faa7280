-- engine_more: the ELM operators the five CMS measures do not use (CQL 1.5
-- §20 list iteration, §21 statistics, §17 regular expressions, §22
-- conversions, precision and boundaries, Concept/Ratio selectors).
-- Expected values are the specification's examples where it gives them.
\set ECHO none
\i test/fixtures/elm/helpers.sql
\set ECHO all

SELECT elmt.load('[{"resourceType": "Patient", "id": "eng-more-p", "birthDate": "1970-02-02"}]');

INSERT INTO elmt.chk (cql, expr, expected) VALUES
-- iteration with a scope
('({1, 2, 3, 4}) X where X > 2 (Filter)',
   jsonb_build_object('type', 'Filter', 'scope', 'X', 'source', lst(i(1), i(2), i(3), i(4)),
                      'condition', op('Greater', jsonb_build_object('type', 'Current', 'scope', 'X'), i(2))), '[3, 4]'),
('ForEach X in {1, 2, 3}: X * 10',
   jsonb_build_object('type', 'ForEach', 'scope', 'X', 'source', lst(i(1), i(2), i(3)),
                      'element', op('Multiply', jsonb_build_object('type', 'Current', 'scope', 'X'), i(10))), '[10, 20, 30]'),
('Slice({1, 2, 3, 4, 5}, 1, 3)',
   jsonb_build_object('type', 'Slice', 'source', lst(i(1), i(2), i(3), i(4), i(5)), 'startIndex', i(1), 'endIndex', i(3)), '[2, 3]'),
('Slice({1, 2, 3}, 1, null) (Tail)',
   jsonb_build_object('type', 'Slice', 'source', lst(i(1), i(2), i(3)), 'startIndex', i(1), 'endIndex', nul('Integer')), '[2, 3]'),
-- statistics
('Product({1, 2, 3, 4})',      src('Product', lst(i(1), i(2), i(3), i(4))), '24.0'),
('GeometricMean({2.0, 8.0})',  src('GeometricMean', lst(dc('2.0'), dc('8.0'))), '4.0'),
('Mode({2, 1, 8, 2, 9, 1, 9, 9})', src('Mode', lst(i(2), i(1), i(8), i(2), i(9), i(1), i(9), i(9))), '9'),
('Variance({1.0, 2.0, 3.0, 4.0, 5.0})', src('Variance', lst(dc('1.0'), dc('2.0'), dc('3.0'), dc('4.0'), dc('5.0'))), '2.5'),
('PopulationVariance({1.0, 2.0, 3.0, 4.0, 5.0})', src('PopulationVariance', lst(dc('1.0'), dc('2.0'), dc('3.0'), dc('4.0'), dc('5.0'))), '2.0'),
('StdDev({1, 2, 3, 4, 5})',    src('StdDev', lst(i(1), i(2), i(3), i(4), i(5))), '1.58113883'),
('PopulationStdDev({1, 2, 3, 4, 5})', src('PopulationStdDev', lst(i(1), i(2), i(3), i(4), i(5))), '1.41421356'),
('Variance({})',               src('Variance', empty_list()), 'null'),
('Log(16, 2)',                 op('Log', i(16), i(2)), '4.0'),
('Log(0, 2)',                  op('Log', i(0), i(2)), 'null'),
-- regular expressions and string search
('Matches(''1,2three'', ''\d,\d\w+'')', op('Matches', s('1,2three'), s('\d,\d\w+')), 'true'),
('Matches(''Not all who wander'', ''wander'')', op('Matches', s('Not all who wander'), s('wander')), 'false'),
('ReplaceMatches(''Only good'', ''good'', ''bad'')', op('ReplaceMatches', s('Only good'), s('good'), s('bad')), '"Only bad"'),
('SplitOnMatches(''A,B;C'', ''[,;]'')',
   jsonb_build_object('type', 'SplitOnMatches', 'stringToSplit', s('A,B;C'), 'separatorPattern', s('[,;]')), '["A", "B", "C"]'),
('LastPositionOf(''hi'', ''Ohio is the place to be'')',
   jsonb_build_object('type', 'LastPositionOf', 'pattern', s('hi'), 'string', s('Ohio is the place to be')), '1'),
('LastPositionOf(''x'', ''abc'')',
   jsonb_build_object('type', 'LastPositionOf', 'pattern', s('x'), 'string', s('abc')), '-1'),
('ToChars(''abc'')',           op1('ToChars', s('abc')), '["a", "b", "c"]'),
-- precision and boundaries
('Precision(@2014)',           op1('Precision', d('2014')), '4'),
('Precision(@2014-01-05T10:30:00.000)', op1('Precision', dt('2014-01-05T10:30:00.000')), '17'),
('Precision(@T10:30)',         op1('Precision', tm('10:30')), '4'),
('Precision(1.58700)',         op1('Precision', dc('1.587')), '3'),
('LowBoundary(@2014, 6)',      op('LowBoundary', d('2014'), i(6)), '"2014-01"'),
('HighBoundary(@2014, 6)',     op('HighBoundary', d('2014'), i(6)), '"2014-12"'),
('HighBoundary(@2014-01-01T08, 17)', op('HighBoundary', dt('2014-01-01T08'), i(17)), '"2014-01-01T08:59:59.999+00:00"'),
-- intervals: proper membership
('3 properly included in Interval[1, 5]', op('ProperIn', i(3), ivl(i(1), i(5))), 'true'),
('1 properly included in Interval[1, 5]', op('ProperIn', i(1), ivl(i(1), i(5))), 'false'),
('Interval[1, 5] properly includes 5', op('ProperContains', ivl(i(1), i(5)), i(5)), 'false'),
-- conversions
('ConvertsToInteger(''1'')',   op1('ConvertsToInteger', s('1')), 'true'),
('ConvertsToInteger(''one'')', op1('ConvertsToInteger', s('one')), 'false'),
('ConvertsToDate(''2014-01-01'')', op1('ConvertsToDate', s('2014-01-01')), 'true'),
('ConvertsToBoolean(''maybe'')', op1('ConvertsToBoolean', s('maybe')), 'false'),
('ConvertsToString(null)',     op1('ConvertsToString', nul('Integer')), 'null'),
('convert ''5'' to Integer',
   jsonb_build_object('type', 'Convert', 'operand', s('5'), 'toType', '{urn:hl7-org:elm-types:r1}Integer'), '5'),
('ToLong(''12'')',             op1('ToLong', s('12')), '12'),
-- selectors
('Concept { Code ''1'' from SYS } display ''one''',
   jsonb_build_object('type', 'Concept', 'display', 'one', 'code', jsonb_build_array(
     jsonb_build_object('type', 'Code', 'code', '1', 'system', jsonb_build_object('type', 'CodeSystemRef', 'name', 'SYS')))),
   '{"codes": [{"code": "1", "system": "http://example.org/sys"}], "display": "one"}'),
('1 ''mg'' : 2 ''mL''',
   jsonb_build_object('type', 'Ratio', 'numerator', q('1', 'mg'), 'denominator', q('2', 'mL')),
   '{"numerator": {"unit": "mg", "value": 1.0}, "denominator": {"unit": "mL", "value": 2.0}}');

SELECT elmt.load_library('EngMore', '{"codeSystems": {"def": [{"name": "SYS", "id": "http://example.org/sys", "accessLevel": "Public"}]}}');
SELECT * FROM elmt.run('EngMore', 'eng-more-p');
