-- engine_list: list operators and aggregates (CQL 1.5 §20 List Operators,
-- §21 Aggregate Functions).  Lists are ordered; Union/Distinct use equality
-- semantics where null elements are treated as equal.
\set ECHO none
\i test/fixtures/elm/helpers.sql
\set ECHO all

SELECT elmt.load('[{"resourceType": "Patient", "id": "eng-list-p", "birthDate": "1970-02-02"}]');

INSERT INTO elmt.chk (cql, expr, expected) VALUES
('{}',                         empty_list(), '[]'),
('exists {}',                  op1('Exists', empty_list()), 'false'),
('exists {null}',              op1('Exists', lst(nul('Integer'))), 'false'),
('exists {1}',                 op1('Exists', lst(i(1))), 'true'),
('exists (null as List<Integer>)', op1('Exists', nul()), 'false'),
('First({3, 1, 2})',           src('First', lst(i(3), i(1), i(2))), '3'),
('Last({3, 1, 2})',            src('Last', lst(i(3), i(1), i(2))), '2'),
('First({})',                  src('First', empty_list()), 'null'),
('Count({1, null, 3})',        src('Count', lst(i(1), nul('Integer'), i(3))), '2'),
('Count({})',                  src('Count', empty_list()), '0'),
('Count(null as List<Integer>)', src('Count', nul()), '0'),
('Min({5, null, 2, 9})',       src('Min', lst(i(5), nul('Integer'), i(2), i(9))), '2'),
('Max({5, null, 2, 9})',       src('Max', lst(i(5), nul('Integer'), i(2), i(9))), '9'),
('Max({@2024-01-05, @2023-12-31})', src('Max', lst(d('2024-01-05'), d('2023-12-31'))), '"2024-01-05"'),
('Min({''b'', ''a''})',        src('Min', lst(s('b'), s('a'))), '"a"'),
('Min({})',                    src('Min', empty_list()), 'null'),
('Sum({1, 2, null, 4})',       src('Sum', lst(i(1), i(2), nul('Integer'), i(4))), '7'),
('Sum({1.5, 2.5})',            src('Sum', lst(dc('1.5'), dc('2.5'))), '4.0'),
('Sum({})',                    src('Sum', empty_list()), 'null'),
('Sum({null as Integer})',     src('Sum', lst(nul('Integer'))), 'null'),
('Avg({1, 2, 3, 4})',          src('Avg', lst(i(1), i(2), i(3), i(4))), '2.5'),
('Median({3, 1, 2})',          src('Median', lst(i(3), i(1), i(2))), '2'),
('AllTrue({true, null, true})', src('AllTrue', lst(b(true), nul('Boolean'), b(true))), 'true'),
('AllTrue({})',                src('AllTrue', empty_list()), 'true'),
('AnyTrue({false, null})',     src('AnyTrue', lst(b(false), nul('Boolean'))), 'false'),
('distinct {1, 2, 1, null, null}', op1('Distinct', lst(i(1), i(2), i(1), nul('Integer'), nul('Integer'))), '[1, 2, null]'),
('{1, 2, 2} union {2, 3}',     op('Union', lst(i(1), i(2), i(2)), lst(i(2), i(3))), '[1, 2, 3]'),
('{1, 2} union null',          op('Union', lst(i(1), i(2)), nul()), '[1, 2]'),
('{1, 2, 3, 3} intersect {3, 2, 5}', op('Intersect', lst(i(1), i(2), i(3), i(3)), lst(i(3), i(2), i(5))), '[2, 3]'),
('{1, 2, 3, 2} except {2}',    op('Except', lst(i(1), i(2), i(3), i(2)), lst(i(2))), '[1, 3]'),
('{1, 2} except null',         op('Except', lst(i(1), i(2)), nul()), '[1, 2]'),
('flatten {{1, 2}, {}, {3}}',  op1('Flatten', lst(lst(i(1), i(2)), empty_list(), lst(i(3)))), '[1, 2, 3]'),
('singleton from {7}',         op1('SingletonFrom', lst(i(7))), '7'),
('singleton from {}',          op1('SingletonFrom', empty_list()), 'null'),
('singleton from {1, 2}',      op1('SingletonFrom', lst(i(1), i(2))), '"ERROR"'),
('{3, 1, 2} sorted ascending', jsonb_build_object('type', 'Sort', 'source', lst(i(3), i(1), i(2)),
                                  'by', '[{"type": "ByDirection", "direction": "asc"}]'::jsonb), '[1, 2, 3]'),
('{3, null, 1} sorted descending', jsonb_build_object('type', 'Sort', 'source', lst(i(3), nul('Integer'), i(1)),
                                  'by', '[{"type": "ByDirection", "direction": "desc"}]'::jsonb), '[3, 1, null]'),
('IndexOf({''a'', ''b'', ''c''}, ''b'')', jsonb_build_object('type', 'IndexOf', 'source', lst(s('a'), s('b'), s('c')), 'element', s('b')), '1'),
('IndexOf({''a''}, ''z'')',    jsonb_build_object('type', 'IndexOf', 'source', lst(s('a')), 'element', s('z')), '-1'),
('{10, 20, 30}[1]',            op('Indexer', lst(i(10), i(20), i(30)), i(1)), '20'),
('{10, 20, 30}[5]',            op('Indexer', lst(i(10), i(20), i(30)), i(5)), 'null'),
('{1, 2, 3} contains 2',       op('Contains', lst(i(1), i(2), i(3)), i(2)), 'true'),
('null in {1, null}',          op('In', nul('Integer'), lst(i(1), nul('Integer'))), 'true'),
('4 in {1, 2}',                op('In', i(4), lst(i(1), i(2))), 'false'),
-- a null list holds nothing, null included (the list overload, by the operand's type or the signature)
('null in (null as List<Integer>)',
   op('In', nul('Integer'), jsonb_build_object('type', 'As', 'operand', nul(),
        'asTypeSpecifier', jsonb_build_object('type', 'ListTypeSpecifier', 'elementType', named('Integer')))), 'false'),
('null in null (signature List)',
   op('In', nul('Integer'), nul()) || jsonb_build_object('signature', jsonb_build_array(named('Integer'),
        jsonb_build_object('type', 'ListTypeSpecifier', 'elementType', named('Integer')))), 'false'),
('1 in (null as List<Integer>)',
   op('In', i(1), jsonb_build_object('type', 'As', 'operand', nul(),
        'asTypeSpecifier', jsonb_build_object('type', 'ListTypeSpecifier', 'elementType', named('Integer')))), 'false'),
('{1, 2} includes {2}',        op('Includes', lst(i(1), i(2)), lst(i(2))), 'true'),
('{2} included in {1, 2}',     op('IncludedIn', lst(i(2)), lst(i(1), i(2))), 'true'),
('{1, 2} properly includes {1, 2}', op('ProperIncludes', lst(i(1), i(2)), lst(i(1), i(2))), 'false'),
('ToList(5)',                  op1('ToList', i(5)), '[5]'),
('ToList(null)',               op1('ToList', nul('Integer')), '[]'),
('Tuple{a: 1, b: ''x''}',      tup('a', i(1)::text, 'b', s('x')::text), '{"a": 1, "b": "x"}'),
('Tuple{a: 1, b: ''x''}.b',    prop('b', tup('a', i(1)::text, 'b', s('x')::text)), '"x"'),
('distinct {Tuple{a: 1}, Tuple{a: 1}, Tuple{a: 2}}',
   op1('Distinct', lst(tup('a', i(1)::text), tup('a', i(1)::text), tup('a', i(2)::text))), '[{"a": 1}, {"a": 2}]');

SELECT elmt.load_library('EngList');
SELECT * FROM elmt.run('EngList', 'eng-list-p');
SELECT count(*) FILTER (WHERE ok) AS passed, count(*) FILTER (WHERE NOT ok) AS failed FROM elmt.run('EngList', 'eng-list-p');
