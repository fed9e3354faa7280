-- engine_interval: interval selectors and operators (CQL 1.5 §19 Interval
-- Operators): open/closed bounds, null bounds (closed null = unbounded,
-- open null = unknown), membership with precision, relationships, Start/End,
-- Width, Collapse, interval set operations.
\set ECHO none
\i test/fixtures/elm/helpers.sql
\set ECHO all

SELECT elmt.load('[{"resourceType": "Patient", "id": "eng-interval-p", "birthDate": "1990-01-01"}]');

INSERT INTO elmt.chk (cql, expr, expected) VALUES
-- ---- selectors ------------------------------------------------------------------
('Interval[1, 5)',            ivl(i(1), i(5), true, false), '{"low": 1, "lowClosed": true, "high": 5, "highClosed": false}'),
('Interval[@2024-01-01, @2024-12-31]', ivl(d('2024-01-01'), d('2024-12-31')),
   '{"low": "2024-01-01", "lowClosed": true, "high": "2024-12-31", "highClosed": true}'),

-- ---- membership ---------------------------------------------------------------------
('5 in Interval[1, 5]',       op('In', i(5), ivl(i(1), i(5))), 'true'),
('5 in Interval[1, 5)',       op('In', i(5), ivl(i(1), i(5), true, false)), 'false'),
('1 in Interval(1, 5]',       op('In', i(1), ivl(i(1), i(5), false, true)), 'false'),
('null in Interval[1, 5]',    op('In', nul('Integer'), ivl(i(1), i(5))), 'null'),
-- a null interval: a value is not in it, null is unknown (unlike a null list)
('null in (null as Interval<Integer>)',
   op('In', nul('Integer'), jsonb_build_object('type', 'As', 'operand', nul(),
        'asTypeSpecifier', jsonb_build_object('type', 'IntervalTypeSpecifier', 'pointType', named('Integer')))), 'null'),
('1 in (null as Interval<Integer>)',
   op('In', i(1), jsonb_build_object('type', 'As', 'operand', nul(),
        'asTypeSpecifier', jsonb_build_object('type', 'IntervalTypeSpecifier', 'pointType', named('Integer')))), 'false'),
('100 in Interval[1, null]',  op('In', i(100), ivl(i(1), nul('Integer'))), 'true'),
('100 in Interval[1, null)',  op('In', i(100), ivl(i(1), nul('Integer'), true, false)), 'null'),
('0 in Interval[1, null)',    op('In', i(0), ivl(i(1), nul('Integer'), true, false)), 'false'),
('Interval[null, 5] contains -1000', op('Contains', ivl(nul('Integer'), i(5)), op1('Negate', i(1000))), 'true'),
('Interval[1, 10] contains 10', op('Contains', ivl(i(1), i(10)), i(10)), 'true'),
('2.5 in Interval[1.0, 3.0)', op('In', dc('2.5'), ivl(dc('1.0'), dc('3.0'), true, false)), 'true'),
('@2024-03-01 in Interval[@2024-01-01, @2024-12-31]',
   op('In', d('2024-03-01'), ivl(d('2024-01-01'), d('2024-12-31'))), 'true'),
('@2025-01-01 in Interval[@2024-01-01, @2024-12-31]',
   op('In', d('2025-01-01'), ivl(d('2024-01-01'), d('2024-12-31'))), 'false'),
-- a year-precision date is uncertain against day-precision bounds
('@2024 in Interval[@2024-01-01, @2024-12-31]',
   op('In', d('2024'), ivl(d('2024-01-01'), d('2024-12-31'))), 'null'),
('@2024-03-01T10:00:00Z in day of Interval[@2024-03-01T12:00:00Z, @2024-03-02T00:00:00Z]',
   opp('In', 'Day', dt('2024-03-01T10:00:00Z'), ivl(dt('2024-03-01T12:00:00Z'), dt('2024-03-02T00:00:00Z'))), 'true'),
('@2024-03-01T10:00:00Z in Interval[@2024-03-01T12:00:00Z, @2024-03-02T00:00:00Z]',
   op('In', dt('2024-03-01T10:00:00Z'), ivl(dt('2024-03-01T12:00:00Z'), dt('2024-03-02T00:00:00Z'))), 'false'),

-- ---- equality -------------------------------------------------------------------------
('Interval[1, 5] = Interval[1, 5]', op('Equal', ivl(i(1), i(5)), ivl(i(1), i(5))), 'true'),
-- (Interval[1, 5) = Interval[1, 4]: see engine_known_bugs)
('Interval[1, 5] = Interval[1, 6]', op('Equal', ivl(i(1), i(5)), ivl(i(1), i(6))), 'false'),

-- ---- relationships ------------------------------------------------------------------------
('Interval[1, 10] includes Interval[2, 5]', op('Includes', ivl(i(1), i(10)), ivl(i(2), i(5))), 'true'),
('Interval[1, 10] includes Interval[2, 11]', op('Includes', ivl(i(1), i(10)), ivl(i(2), i(11))), 'false'),
('Interval[2, 5] included in Interval[1, 10]', op('IncludedIn', ivl(i(2), i(5)), ivl(i(1), i(10))), 'true'),
('Interval[1, 10] properly includes Interval[1, 10]', op('ProperIncludes', ivl(i(1), i(10)), ivl(i(1), i(10))), 'false'),
('Interval[1, 10] properly includes Interval[1, 9]', op('ProperIncludes', ivl(i(1), i(10)), ivl(i(1), i(9))), 'true'),
('Interval[@2024-02-01, @2024-03-01] during Interval[@2024-01-01, @2024-12-31]',
   op('IncludedIn', ivl(d('2024-02-01'), d('2024-03-01')), ivl(d('2024-01-01'), d('2024-12-31'))), 'true'),
('Interval[@2024-02-01, @2025-01-01] during Interval[@2024-01-01, @2024-12-31]',
   op('IncludedIn', ivl(d('2024-02-01'), d('2025-01-01')), ivl(d('2024-01-01'), d('2024-12-31'))), 'false'),
('Interval[1, 5] overlaps Interval[5, 10]',  op('Overlaps', ivl(i(1), i(5)), ivl(i(5), i(10))), 'true'),
('Interval[1, 5) overlaps Interval[5, 10]',  op('Overlaps', ivl(i(1), i(5), true, false), ivl(i(5), i(10))), 'false'),
('Interval[1, null) overlaps Interval[5, 10]', op('Overlaps', ivl(i(1), nul('Integer'), true, false), ivl(i(5), i(10))), 'null'),
('Interval[1, null] overlaps Interval[5, 10]', op('Overlaps', ivl(i(1), nul('Integer')), ivl(i(5), i(10))), 'true'),
('Interval[1, 10] overlaps before Interval[5, 12]', op('OverlapsBefore', ivl(i(1), i(10)), ivl(i(5), i(12))), 'true'),
('Interval[1, 10] overlaps after Interval[5, 12]', op('OverlapsAfter', ivl(i(1), i(10)), ivl(i(5), i(12))), 'false'),
('Interval[1, 5] starts Interval[1, 10]',    op('Starts', ivl(i(1), i(5)), ivl(i(1), i(10))), 'true'),
('Interval[2, 5] starts Interval[1, 10]',    op('Starts', ivl(i(2), i(5)), ivl(i(1), i(10))), 'false'),
('Interval[5, 10] ends Interval[1, 10]',     op('Ends', ivl(i(5), i(10)), ivl(i(1), i(10))), 'true'),
('Interval[5, 9] ends Interval[1, 10]',      op('Ends', ivl(i(5), i(9)), ivl(i(1), i(10))), 'false'),
('Interval[1, 5] meets Interval[6, 10]',     op('Meets', ivl(i(1), i(5)), ivl(i(6), i(10))), 'true'),
('Interval[1, 5] meets Interval[5, 10]',     op('Meets', ivl(i(1), i(5)), ivl(i(5), i(10))), 'false'),
('Interval[6, 10] meets Interval[1, 5]',     op('Meets', ivl(i(6), i(10)), ivl(i(1), i(5))), 'true'),
('Interval[1, 5] meets before Interval[6, 10]', op('MeetsBefore', ivl(i(1), i(5)), ivl(i(6), i(10))), 'true'),
('Interval[1, 5] meets after Interval[6, 10]',  op('MeetsAfter', ivl(i(1), i(5)), ivl(i(6), i(10))), 'false'),
('Interval[1, 5] before Interval[7, 10]',    op('Before', ivl(i(1), i(5)), ivl(i(7), i(10))), 'true'),
('Interval[1, 5] after 0',                   op('After', ivl(i(1), i(5)), i(0)), 'true'),
('Interval[@2024-01-01, @2024-01-31] meets Interval[@2024-02-01, @2024-02-29]',
   op('Meets', ivl(d('2024-01-01'), d('2024-01-31')), ivl(d('2024-02-01'), d('2024-02-29'))), 'true'),

-- ---- boundaries and width -----------------------------------------------------------------------
('start of Interval[1, 5]',     op1('Start', ivl(i(1), i(5))), '1'),
('end of Interval[1, 5)',       op1('End', ivl(i(1), i(5), true, false)), '4'),
('start of Interval(1, 5]',     op1('Start', ivl(i(1), i(5), false, true)), '2'),
('end of Interval[1, null]',    op1('End', ivl(i(1), nul('Integer'))), '2147483647'),
('start of Interval(null, 5]',  op1('Start', ivl(nul('Integer'), i(5), false, true)), 'null'),
('end of Interval[@2024-01-01, @2024-02-01)', op1('End', ivl(d('2024-01-01'), d('2024-02-01'), true, false)), '"2024-01-31"'),
('width of Interval[3, 7]',     op1('Width', ivl(i(3), i(7))), '4'),
('width of Interval[1.0, 3.5]', op1('Width', ivl(dc('1.0'), dc('3.5'))), '2.5'),
('width of Interval[3, 7)',     op1('Width', ivl(i(3), i(7), true, false)), '3'),
('point from Interval[5, 5]',   op1('PointFrom', ivl(i(5), i(5))), '5'),
('size of Interval[3, 7]',      op1('Size', ivl(i(3), i(7))), '5'),

-- ---- set operations and collapse ----------------------------------------------------------------------
('Interval[1, 5] union Interval[3, 8]',     op('Union', ivl(i(1), i(5)), ivl(i(3), i(8))),
   '{"low": 1, "lowClosed": true, "high": 8, "highClosed": true}'),
('Interval[1, 3] union Interval[5, 8]',     op('Union', ivl(i(1), i(3)), ivl(i(5), i(8))), 'null'),
('Interval[1, 5] intersect Interval[3, 8]', op('Intersect', ivl(i(1), i(5)), ivl(i(3), i(8))),
   '{"low": 3, "lowClosed": true, "high": 5, "highClosed": true}'),
('Interval[1, 3] intersect Interval[5, 8]', op('Intersect', ivl(i(1), i(3)), ivl(i(5), i(8))), 'null'),
('end of (Interval[1, 10] except Interval[5, 10])', op1('End', op('Except', ivl(i(1), i(10)), ivl(i(5), i(10)))), '4'),
('collapse {Interval[1, 5], Interval[3, 8], Interval[10, 12]}',
   op('Collapse', lst(ivl(i(1), i(5)), ivl(i(3), i(8)), ivl(i(10), i(12))), nul('Quantity')),
   '[{"low": 1, "lowClosed": true, "high": 8, "highClosed": true}, {"low": 10, "lowClosed": true, "high": 12, "highClosed": true}]'),
('collapse {Interval[6, 8], Interval[1, 5]} (meeting intervals merge)',
   op('Collapse', lst(ivl(i(6), i(8)), ivl(i(1), i(5))), nul('Quantity')),
   '[{"low": 1, "lowClosed": true, "high": 8, "highClosed": true}]'),
('collapse {Interval[@2024-01-01, @2024-01-31], Interval[@2024-02-01, @2024-02-10]}',
   op('Collapse', lst(ivl(d('2024-01-01'), d('2024-01-31')), ivl(d('2024-02-01'), d('2024-02-10'))), nul('Quantity')),
   '[{"low": "2024-01-01", "lowClosed": true, "high": "2024-02-10", "highClosed": true}]'),
('end of Interval[@2024-01-01T00:00:00.000Z, @2024-01-02T00:00:00.000Z)',
   op1('End', ivl(dt('2024-01-01T00:00:00.000Z'), dt('2024-01-02T00:00:00.000Z'), true, false)), '"2024-01-01T23:59:59.999+00:00"'),
('Interval[1, 10] except Interval[3, 5] (not an interval)', op('Except', ivl(i(1), i(10)), ivl(i(3), i(5))), 'null'),
('expand {Interval[1, 3]}', op('Expand', lst(ivl(i(1), i(3))), nul('Quantity')),
   '[{"low": 1, "lowClosed": true, "high": 1, "highClosed": true}, {"low": 2, "lowClosed": true, "high": 2, "highClosed": true}, {"low": 3, "lowClosed": true, "high": 3, "highClosed": true}]'),
('collapse {}', op('Collapse', jsonb_build_object('type', 'List'), nul('Quantity')), '[]');

SELECT elmt.load_library('EngInterval');
SELECT * FROM elmt.run('EngInterval', 'eng-interval-p');
SELECT count(*) FILTER (WHERE ok) AS passed, count(*) FILTER (WHERE NOT ok) AS failed FROM elmt.run('EngInterval', 'eng-interval-p');
