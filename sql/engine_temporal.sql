-- engine_temporal: Date/DateTime/Time literals, comparison with uncertain
-- precision, timezone normalisation, same/before/after with precision,
-- DurationBetween/DifferenceBetween, CalculateAgeAt, calendar arithmetic.
-- Expected values are from the CQL 1.5 specification (Date and Time Operators);
-- the evaluation timezone offset is hedis.timezone_offset (default 0 = UTC).
\set ECHO none
\i test/fixtures/elm/helpers.sql
\set ECHO all

SELECT elmt.load('[{"resourceType": "Patient", "id": "eng-temporal-p", "birthDate": "1980-06-15", "gender": "male"}]');

-- the patient's birth date as a System Date (as the translator writes it)
SELECT elmt.define('BirthDate', op1('ToDate', prop('birthDate.value', ref('Patient'))));

-- ---- literals and components ------------------------------------------------
INSERT INTO elmt.chk (cql, expr, expected) VALUES
('@2012-03-04',                 d('2012-03-04'), '"2012-03-04"'),
('@2012-03',                    d('2012-03'), '"2012-03"'),
('DateTime(2012, 3, 4, 10, 5)', jsonb_build_object('type', 'DateTime', 'year', i(2012), 'month', i(3), 'day', i(4),
                                   'hour', i(10), 'minute', i(5)), '"2012-03-04T10:05+00:00"'),
-- a DateTime without an offset takes the evaluation offset (hedis.timezone_offset)
('DateTime(2012, 3, 4, 10, 5) = @2012-03-04T10:05Z',
  op('Equal', jsonb_build_object('type', 'DateTime', 'year', i(2012), 'month', i(3), 'day', i(4),
                                 'hour', i(10), 'minute', i(5)), dt('2012-03-04T10:05Z')), 'true'),
('year from @2012-03-04',       jsonb_build_object('type', 'DateTimeComponentFrom', 'precision', 'Year', 'operand', d('2012-03-04')), '2012'),
('day from @2012-03',           jsonb_build_object('type', 'DateTimeComponentFrom', 'precision', 'Day', 'operand', d('2012-03')), 'null'),
('hour from @2012-03-04T10:05:00Z', jsonb_build_object('type', 'DateTimeComponentFrom', 'precision', 'Hour', 'operand', dt('2012-03-04T10:05:00Z')), '10'),
('date from @2012-03-04T10:05:00Z', op1('DateFrom', dt('2012-03-04T10:05:00Z')), '"2012-03-04"'),

-- ---- comparison with uncertain precision -----------------------------------
('@2012 = @2012-01',            op('Equal', d('2012'), d('2012-01')), 'null'),
('@2012 = @2013-01',            op('Equal', d('2012'), d('2013-01')), 'false'),
('@2012-01 ~ @2012-01-01',      op('Equivalent', d('2012-01'), d('2012-01-01')), 'false'),
('@2012-01-15 = @2012-01-15',   op('Equal', d('2012-01-15'), d('2012-01-15')), 'true'),
('@2012 < @2013-03-01',         op('Less', d('2012'), d('2013-03-01')), 'true'),
('@2012 < @2012-03-01',         op('Less', d('2012'), d('2012-03-01')), 'null'),
('@2012-03 >= @2012-02-28',     op('GreaterOrEqual', d('2012-03'), d('2012-02-28')), 'true'),
('@2012-01-01T10:00 = @2012-01-01T10:00:00',
  op('Equal', dt('2012-01-01T10:00'), dt('2012-01-01T10:00:00')), 'null'),
-- seconds and milliseconds are one precision for comparison (CQL 1.5 §18.1)
('@2012-01-01T10:00:00 = @2012-01-01T10:00:00.000',
  op('Equal', dt('2012-01-01T10:00:00Z'), dt('2012-01-01T10:00:00.000Z')), 'true'),
('@T10:00:00 < @T10:00:01',     op('Less', tm('T10:00:00'), tm('T10:00:01')), 'true'),

-- ---- timezone normalisation -------------------------------------------------
('@2012-03-04T23:30:00-05:00 = @2012-03-05T04:30:00Z',
  op('Equal', dt('2012-03-04T23:30:00-05:00'), dt('2012-03-05T04:30:00Z')), 'true'),
('@2012-03-04T23:30:00-05:00 < @2012-03-05T04:00:00Z',
  op('Less', dt('2012-03-04T23:30:00-05:00'), dt('2012-03-05T04:00:00Z')), 'false'),

-- ---- same / before / after with precision --------------------------------------
('@2012-01-15T10:00:00Z same day as @2012-01-15T23:59:00Z',
  opp('SameAs', 'Day', dt('2012-01-15T10:00:00Z'), dt('2012-01-15T23:59:00Z')), 'true'),
('@2012-01-15 same day as @2012-01', opp('SameAs', 'Day', d('2012-01-15'), d('2012-01')), 'null'),
('@2012-01-15 same year as @2012-05', opp('SameAs', 'Year', d('2012-01-15'), d('2012-05')), 'true'),
('@2012-01-15 same month as @2012-02-15', opp('SameAs', 'Month', d('2012-01-15'), d('2012-02-15')), 'false'),
('@2012-01-15 same as @2012-01-15', op('SameAs', d('2012-01-15'), d('2012-01-15')), 'true'),
('@2012-01-15T23:00:00Z before day of @2012-01-16T01:00:00Z',
  opp('Before', 'Day', dt('2012-01-15T23:00:00Z'), dt('2012-01-16T01:00:00Z')), 'true'),
('@2012-01-15T01:00:00Z before day of @2012-01-15T23:00:00Z',
  opp('Before', 'Day', dt('2012-01-15T01:00:00Z'), dt('2012-01-15T23:00:00Z')), 'false'),
('@2012-03 after month of @2012-02-28', opp('After', 'Month', d('2012-03'), d('2012-02-28')), 'true'),
-- components are compared from years down; the first difference decides
('@2012-03 after day of @2012-02-28', opp('After', 'Day', d('2012-03'), d('2012-02-28')), 'true'),
('@2012-02 after day of @2012-02-15', opp('After', 'Day', d('2012-02'), d('2012-02-15')), 'null'),
('@2012-01-15 same or before day of @2012-01-15', opp('SameOrBefore', 'Day', d('2012-01-15'), d('2012-01-15')), 'true'),
('@2012-01-16 same or after month of @2012-01-01', opp('SameOrAfter', 'Month', d('2012-01-16'), d('2012-01-01')), 'true'),
('@2012-01-15 before null', opp('Before', 'Day', d('2012-01-15'), nul('Date')), 'null'),

-- ---- DurationBetween / DifferenceBetween ---------------------------------------
('years between @2000-06-15 and @2024-06-14', opp('DurationBetween', 'Year', d('2000-06-15'), d('2024-06-14')), '23'),
('years between @2000-06-15 and @2024-06-15', opp('DurationBetween', 'Year', d('2000-06-15'), d('2024-06-15')), '24'),
('years between @2024-06-15 and @2000-06-15', opp('DurationBetween', 'Year', d('2024-06-15'), d('2000-06-15')), '-24'),
('months between @2024-01-15 and @2024-03-14', opp('DurationBetween', 'Month', d('2024-01-15'), d('2024-03-14')), '1'),
('months between @2024-01-15 and @2024-03-15', opp('DurationBetween', 'Month', d('2024-01-15'), d('2024-03-15')), '2'),
('days between @2024-02-28 and @2024-03-01',   opp('DurationBetween', 'Day', d('2024-02-28'), d('2024-03-01')), '2'),
('days between @2023-02-28 and @2023-03-01',   opp('DurationBetween', 'Day', d('2023-02-28'), d('2023-03-01')), '1'),
('weeks between @2024-01-01 and @2024-01-14',  opp('DurationBetween', 'Week', d('2024-01-01'), d('2024-01-14')), '1'),
('hours between @2024-03-01T10:00:00Z and @2024-03-01T12:30:00+01:00',
  opp('DurationBetween', 'Hour', dt('2024-03-01T10:00:00Z'), dt('2024-03-01T12:30:00+01:00')), '1'),
('days between @2024-01-01 and null', opp('DurationBetween', 'Day', d('2024-01-01'), nul('Date')), 'null'),
('difference in years between @2023-12-31 and @2024-01-01',
  opp('DifferenceBetween', 'Year', d('2023-12-31'), d('2024-01-01')), '1'),
('years between @2023-12-31 and @2024-01-01',
  opp('DurationBetween', 'Year', d('2023-12-31'), d('2024-01-01')), '0'),
('difference in months between @2024-01-31 and @2024-02-01',
  opp('DifferenceBetween', 'Month', d('2024-01-31'), d('2024-02-01')), '1'),
('difference in days between @2024-01-01T23:00:00Z and @2024-01-02T01:00:00Z',
  opp('DifferenceBetween', 'Day', dt('2024-01-01T23:00:00Z'), dt('2024-01-02T01:00:00Z')), '1'),
('days between @2024-01-01T23:00:00Z and @2024-01-02T01:00:00Z',
  opp('DurationBetween', 'Day', dt('2024-01-01T23:00:00Z'), dt('2024-01-02T01:00:00Z')), '0'),

-- ---- CalculateAgeAt (patient born 1980-06-15) -------------------------------------
('AgeInYearsAt(@2024-06-14)', opp('CalculateAgeAt', 'Year', ref('BirthDate'), d('2024-06-14')), '43'),
('AgeInYearsAt(@2024-06-15)', opp('CalculateAgeAt', 'Year', ref('BirthDate'), d('2024-06-15')), '44'),
('AgeInMonthsAt(@1981-06-14)', opp('CalculateAgeAt', 'Month', ref('BirthDate'), d('1981-06-14')), '11'),
('AgeInDaysAt(@1980-07-15)', opp('CalculateAgeAt', 'Day', ref('BirthDate'), d('1980-07-15')), '30'),
('CalculateAgeInYearsAt(@1980-06-15, null)', opp('CalculateAgeAt', 'Year', d('1980-06-15'), nul('Date')), 'null'),

-- ---- calendar arithmetic ----------------------------------------------------------
('@2024-01-31 + 1 month',  op('Add', d('2024-01-31'), q('1', 'month')), '"2024-02-29"'),
('@2023-01-31 + 1 month',  op('Add', d('2023-01-31'), q('1', 'month')), '"2023-02-28"'),
('@2024-02-29 + 1 year',   op('Add', d('2024-02-29'), q('1', 'year')), '"2025-02-28"'),
('@2024-03-31 - 1 month',  op('Subtract', d('2024-03-31'), q('1', 'month')), '"2024-02-29"'),
('@2024-12-31 + 1 day',    op('Add', d('2024-12-31'), q('1', 'day')), '"2025-01-01"'),
('@2012-01-31 + 1 week',   op('Add', d('2012-01-31'), q('1', 'week')), '"2012-02-07"'),
('@2012-01 + 1 month',     op('Add', d('2012-01'), q('1', 'month')), '"2012-02"'),
-- a quantity finer than the value''s precision is truncated to that precision
('@2012-01 + 45 days',     op('Add', d('2012-01'), q('45', 'days')), '"2012-02"'),
('@2024-01-01T00:00:00Z + 36 hours = @2024-01-02T12:00:00Z',
  op('Equal', op('Add', dt('2024-01-01T00:00:00Z'), q('36', 'hours')), dt('2024-01-02T12:00:00Z')), 'true'),
('@2024-03-01T00:30:00Z - 1 hour same day as @2024-02-29T23:30:00Z',
  opp('SameAs', 'Minute', op('Subtract', dt('2024-03-01T00:30:00Z'), q('1', 'hour')), dt('2024-02-29T23:30:00Z')), 'true'),
('@2024-01-31 + null', op('Add', d('2024-01-31'), nul('Quantity')), 'null'),
('@2024-01-31 + 1 month + 1 month', op('Add', op('Add', d('2024-01-31'), q('1', 'month')), q('1', 'month')), '"2024-03-29"'),
('@2024-01-01 + 1.5 days (truncated to whole days)', op('Add', d('2024-01-01'), q('1.5', 'days')), '"2024-01-02"'),
('@2012-01-01T00:00:00.000+14:00 = @2011-12-31T10:00:00.000Z',
  op('Equal', dt('2012-01-01T00:00:00.000+14:00'), dt('2011-12-31T10:00:00.000Z')), 'true'),
('hours between @2012-01-01T01:00:00.000+05:00 and @2011-12-31T21:00:00.000Z',
  opp('DurationBetween', 'Hour', dt('2012-01-01T01:00:00.000+05:00'), dt('2011-12-31T21:00:00.000Z')), '1'),
('ToDate(''2012-02-30'') (no such day)', op1('ToDate', s('2012-02-30')), 'null');

SELECT elmt.load_library('EngTemporal');
SELECT * FROM elmt.run('EngTemporal', 'eng-temporal-p');
SELECT count(*) FILTER (WHERE ok) AS passed, count(*) FILTER (WHERE NOT ok) AS failed FROM elmt.run('EngTemporal', 'eng-temporal-p');
