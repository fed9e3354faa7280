-- engine_query: queries (multiple sources, let, with/without, where,
-- return distinct vs all, sort, aggregate), FunctionRef with overloads and
-- fluent functions, ParameterRef (default; Measurement Period from
-- evaluate_expression's dates), FHIR property navigation over loaded data
-- (choice types value[x]/effective[x], primitive extensions).
-- Expected values are from the CQL 1.5 specification (§5 Queries, §8 Functions).
\set ECHO none
\i test/fixtures/elm/helpers.sql
\set ECHO all

SELECT elmt.load($$[
 {"resourceType": "Patient", "id": "eng-query-p", "birthDate": "1975-04-01",
  "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                                "valueDateTime": "1975-04-01T08:30:00Z"}]}},
 {"resourceType": "Observation", "id": "eng-query-o1", "status": "final",
  "subject": {"reference": "Patient/eng-query-p"},
  "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
  "effectiveDateTime": "2024-03-05T10:00:00Z",
  "valueQuantity": {"value": 142, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
 {"resourceType": "Observation", "id": "eng-query-o2", "status": "final",
  "subject": {"reference": "Patient/eng-query-p"},
  "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
  "effectivePeriod": {"start": "2024-07-01T09:00:00Z", "end": "2024-07-01T09:10:00Z"},
  "valueQuantity": {"value": 128.5, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
 {"resourceType": "Observation", "id": "eng-query-o3", "status": "final",
  "subject": {"reference": "Patient/eng-query-p"},
  "code": {"coding": [{"system": "http://loinc.org", "code": "72166-2"}]},
  "effectiveDateTime": "2023-11-20",
  "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "8517006"}]}},
 {"resourceType": "Observation", "id": "eng-query-other", "status": "final",
  "subject": {"reference": "Patient/eng-query-someone-else"},
  "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
  "effectiveDateTime": "2024-03-05", "valueQuantity": {"value": 999, "unit": "mm[Hg]"}},
 {"resourceType": "Condition", "id": "eng-query-c1", "subject": {"reference": "Patient/eng-query-p"},
  "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
  "onsetDateTime": "2020-05-06",
  "_recordedDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                                   "valueCode": "unknown"}]}},
 {"resourceType": "MedicationRequest", "id": "eng-query-m1", "status": "active", "intent": "order",
  "subject": {"reference": "Patient/eng-query-p"},
  "identifier": [{"value": "id-1"}],
  "instantiatesCanonical": ["http://example.org/a", "http://example.org/b"]}
]$$);

-- helper statements and functions ----------------------------------------------------
CREATE FUNCTION elmt.qsrc(alias text, expr jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS
$$ SELECT jsonb_build_object('alias', alias, 'expression', expr) $$;
-- Observations sorted by id, so results that list them are deterministic
SELECT elmt.define('Observations', jsonb_build_object('type', 'Query',
  'source', jsonb_build_array(qsrc('O', retrieve('Observation'))),
  'sort', '{"by": [{"type": "ByExpression", "direction": "asc", "expression": {"type": "Property", "path": "id.value", "scope": "O"}}]}'::jsonb));
SELECT elmt.define('FirstObs', src('First', ref('Observations')));
SELECT elmt.define('SecondObs', op('Indexer', ref('Observations'), i(1)));
SELECT elmt.define('ThirdObs', op('Indexer', ref('Observations'), i(2)));
SELECT elmt.define('TheCondition', jsonb_build_object('type', 'SingletonFrom', 'operand', retrieve('Condition')));
SELECT elmt.define('TheRequest', jsonb_build_object('type', 'SingletonFrom', 'operand', retrieve('MedicationRequest')));
-- overloads (no signature needed at the call when the argument types differ)
SELECT elmt.define_function('Twice', ARRAY['x', 'Integer'], op('Multiply', operand('x'), i(2)));
SELECT elmt.define_function('Twice', ARRAY['x', 'String'], op('Concatenate', operand('x'), operand('x')));
-- "operand.value" bodies (FHIRHelpers.ToString...): a call on a property is
-- read in one step when the overload chosen for its type is such a body
SELECT elmt.define_function('CodeValue', ARRAY['x', 'FHIR.code'], prop('value', operand('x')));
SELECT elmt.define_function('ValueOf', ARRAY['x', 'FHIR.string'], prop('value', operand('x')));
SELECT elmt.define_function('ValueOf', ARRAY['x', 'FHIR.decimal'], s('a decimal'));
-- a fluent function whose body is a query over its operand (Status'
-- isEncounterPerformed...): an empty list gives an empty list without a call
SELECT elmt.define_function('positives', ARRAY['xs', 'Integer'],
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(jsonb_build_object('alias', 'X', 'expression', operand('xs'))),
     'where', op('Greater', alias('X'), i(0))), true);
SELECT elmt.define_function('plusOne', ARRAY['x', 'Integer'], op('Add', operand('x'), i(1)), true);
SELECT elmt.define_function('Between', ARRAY['lo', 'Integer', 'hi', 'Integer', 'x', 'Integer'],
  op('And', op('LessOrEqual', operand('lo'), operand('x')), op('LessOrEqual', operand('x'), operand('hi'))));
-- a function that calls a function and a definition
SELECT elmt.define('Ten', i(10));
SELECT elmt.define_function('AddTen', ARRAY['x', 'Integer'], op('Add', call('plusOne', ARRAY[operand('x')]), op('Subtract', ref('Ten'), i(1))));

INSERT INTO elmt.chk (cql, expr, expected) VALUES
-- ---- queries over lists ----------------------------------------------------------------
('from {1, 2} A, {10, 20} B return A + B sort asc',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('A', lst(i(1), i(2))), qsrc('B', lst(i(10), i(20)))),
     'return', jsonb_build_object('expression', op('Add', alias('A'), alias('B'))),
     'sort', '{"by": [{"type": "ByDirection", "direction": "asc"}]}'::jsonb), '[11, 12, 21, 22]'),
('from {1, 2} A, {1, 2} B return A + B (distinct by default) sort asc',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('A', lst(i(1), i(2))), qsrc('B', lst(i(1), i(2)))),
     'return', jsonb_build_object('expression', op('Add', alias('A'), alias('B'))),
     'sort', '{"by": [{"type": "ByDirection", "direction": "asc"}]}'::jsonb), '[2, 3, 4]'),
('from {1, 2, 3} X let Y: X * 10 where Y > 10 return Y',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('X', lst(i(1), i(2), i(3)))),
     'let', jsonb_build_array(jsonb_build_object('identifier', 'Y', 'expression', op('Multiply', alias('X'), i(10)))),
     'where', op('Greater', jsonb_build_object('type', 'QueryLetRef', 'name', 'Y'), i(10)),
     'return', jsonb_build_object('expression', jsonb_build_object('type', 'QueryLetRef', 'name', 'Y'))), '[20, 30]'),
('from {1, 2, 3} X with {2, 3, 4} Y such that X = Y',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('X', lst(i(1), i(2), i(3)))),
     'relationship', jsonb_build_array(jsonb_build_object('type', 'With', 'alias', 'Y', 'expression', lst(i(2), i(3), i(4)),
                                         'suchThat', op('Equal', alias('X'), alias('Y'))))), '[2, 3]'),
('from {1, 2, 3} X without {2, 3, 4} Y such that X = Y',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('X', lst(i(1), i(2), i(3)))),
     'relationship', jsonb_build_array(jsonb_build_object('type', 'Without', 'alias', 'Y', 'expression', lst(i(2), i(3), i(4)),
                                         'suchThat', op('Equal', alias('X'), alias('Y'))))), '[1]'),
('from {1, null, 3} X where X > 1 (null where is false)',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('X', lst(i(1), nul('Integer'), i(3)))),
     'where', op('Greater', alias('X'), i(1))), '[3]'),
('from {1, 1, 2} X return X',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('X', lst(i(1), i(1), i(2)))),
     'return', jsonb_build_object('expression', alias('X'))), '[1, 2]'),
('from {1, 1, 2} X return all X',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('X', lst(i(1), i(1), i(2)))),
     'return', jsonb_build_object('distinct', false, 'expression', alias('X'))), '[1, 1, 2]'),
('from {1, 1, 2} X (no return clause keeps duplicates)',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('X', lst(i(1), i(1), i(2))))), '[1, 1, 2]'),
('from {Tuple{a: 2}, Tuple{a: 1}, Tuple{a: 3}} T sort by a desc',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('T', lst(tup('a', i(2)::text), tup('a', i(1)::text), tup('a', i(3)::text)))),
     'sort', '{"by": [{"type": "ByColumn", "direction": "desc", "path": "a"}]}'::jsonb), '[{"a": 3}, {"a": 2}, {"a": 1}]'),
('from {Tuple{a: 2}, Tuple{a: 1}, Tuple{a: 3}} T sort by -a (sort by expression)',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('T', lst(tup('a', i(2)::text), tup('a', i(1)::text), tup('a', i(3)::text)))),
     'sort', jsonb_build_object('by', jsonb_build_array(jsonb_build_object('type', 'ByExpression', 'direction', 'asc',
        'expression', op1('Negate', jsonb_build_object('type', 'IdentifierRef', 'name', 'a')))))), '[{"a": 3}, {"a": 2}, {"a": 1}]'),
('from {1, 2, 3} X aggregate R starting 0: R + X',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('X', lst(i(1), i(2), i(3)))),
     'aggregate', jsonb_build_object('identifier', 'R', 'starting', i(0),
        'expression', op('Add', jsonb_build_object('type', 'QueryLetRef', 'name', 'R'), alias('X')))), '6'),
('from {1, 1, 2} X aggregate distinct R starting 0: R + X',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('X', lst(i(1), i(1), i(2)))),
     'aggregate', jsonb_build_object('identifier', 'R', 'starting', i(0), 'distinct', true,
        'expression', op('Add', jsonb_build_object('type', 'QueryLetRef', 'name', 'R'), alias('X')))), '3'),
('from (5) X return X * 2 (a singleton source gives a singleton)',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('X', i(5))),
     'return', jsonb_build_object('expression', op('Multiply', alias('X'), i(2)))), '10'),
('from ({} as List<Integer>) X return X * 2 (an empty source)',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('X', empty_list())),
     'return', jsonb_build_object('expression', op('Multiply', alias('X'), i(2)))), '[]'),
('from {1, 2} A, ({} as List<Integer>) B return A (one empty source of two)',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('A', lst(i(1), i(2))), qsrc('B', empty_list())),
     'return', jsonb_build_object('expression', alias('A'))), '[]'),
('from ({} as List<Integer>) X aggregate R starting 5: R + X (an empty source, aggregated)',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('X', empty_list())),
     'aggregate', jsonb_build_object('identifier', 'R', 'starting', i(5),
        'expression', op('Add', jsonb_build_object('type', 'QueryLetRef', 'name', 'R'), alias('X')))), '5'),
('({} as List<Integer>).positives()', call('positives', ARRAY[empty_list()]), '[]'),
('{-1, 2, 3}.positives()', call('positives', ARRAY[lst(i(-1), i(2), i(3))]), '[2, 3]'),
('from (null as Integer) X return X * 2',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('X', nul('Integer'))),
     'return', jsonb_build_object('expression', op('Multiply', alias('X'), i(2)))), 'null'),

-- ---- functions ------------------------------------------------------------------------------
('Twice(4)',                call('Twice', ARRAY[i(4)], ARRAY['Integer']), '8'),
('Twice(''ab'')',           call('Twice', ARRAY[s('ab')], ARRAY['String']), '"abab"'),
('Twice(''ab'') without a signature', call('Twice', ARRAY[s('ab')]), '"abab"'),
('Twice(4) without a signature',      call('Twice', ARRAY[i(4)]), '8'),
('41.plusOne() (fluent)',   call('plusOne', ARRAY[i(41)], ARRAY['Integer']), '42'),
('Between(1, 10, 5)',       call('Between', ARRAY[i(1), i(10), i(5)]), 'true'),
('AddTen(5)',               call('AddTen', ARRAY[i(5)]), '15'),
('Twice(null as Integer)',  call('Twice', ARRAY[nul('Integer')], ARRAY['Integer']), 'null'),

-- ---- parameters -------------------------------------------------------------------------------
('Threshold (default 5)',   jsonb_build_object('type', 'ParameterRef', 'name', 'Threshold'), '5'),
('start of "Measurement Period" = @2024-01-01T00:00:00.000',
  op('Equal', op1('Start', jsonb_build_object('type', 'ParameterRef', 'name', 'Measurement Period')), dt('2024-01-01T00:00:00.000Z')), 'true'),
('"Measurement Period" contains @2024-12-31T23:59:59.999',
  op('Contains', jsonb_build_object('type', 'ParameterRef', 'name', 'Measurement Period'), dt('2024-12-31T23:59:59.999Z')), 'true'),
('"Measurement Period" contains @2025-01-01T00:00:00.000',
  op('Contains', jsonb_build_object('type', 'ParameterRef', 'name', 'Measurement Period'), dt('2025-01-01T00:00:00.000Z')), 'false'),

-- ---- FHIR data: retrieve, property navigation, choice types ---------------------------------
('Count([Observation]) (only this patient''s)', src('Count', retrieve('Observation')), '3'),
('Observations.id',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('O', ref('Observations'))),
     'return', jsonb_build_object('distinct', false, 'expression', prop('id.value', alias('O')))),
  '["eng-query-o1", "eng-query-o2", "eng-query-o3"]'),
('Patient.birthDate.value', prop('birthDate.value', ref('Patient')), '"1975-04-01"'),
('FirstObs.value is FHIR.Quantity',         is_(prop('value', ref('FirstObs')), 'FHIR.Quantity'), 'true'),
('FirstObs.value is FHIR.CodeableConcept',  is_(prop('value', ref('FirstObs')), 'FHIR.CodeableConcept'), 'false'),
('(FirstObs.value as FHIR.Quantity).value.value',
  prop('value', prop('value', as_(prop('value', ref('FirstObs')), 'FHIR.Quantity'))), '142'),
('(SecondObs.value as FHIR.Quantity).unit.value',
  prop('value', prop('unit', as_(prop('value', ref('SecondObs')), 'FHIR.Quantity'))), '"mm[Hg]"'),
('(FirstObs.effective as FHIR.dateTime).value',
  prop('value', as_(prop('effective', ref('FirstObs')), 'FHIR.dateTime')), '"2024-03-05T10:00:00+00:00"'),
('(SecondObs.effective as FHIR.Period).start.value',
  prop('value', prop('start', as_(prop('effective', ref('SecondObs')), 'FHIR.Period'))), '"2024-07-01T09:00:00+00:00"'),
('SecondObs.effective as FHIR.dateTime (wrong choice)', as_(prop('effective', ref('SecondObs')), 'FHIR.dateTime'), 'null'),
('(ThirdObs.value as FHIR.CodeableConcept).coding[0].code.value',
  prop('value', prop('code', op('Indexer', prop('coding', as_(prop('value', ref('ThirdObs')), 'FHIR.CodeableConcept')), i(0)))), '"8517006"'),
('(ThirdObs.effective as FHIR.dateTime).value (a date-only dateTime)',
  prop('value', as_(prop('effective', ref('ThirdObs')), 'FHIR.dateTime')), '"2023-11-20"'),
('Observations O where (O.value as FHIR.Quantity).value.value > 130 return O.id.value',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('O', ref('Observations'))),
     'where', op('Greater', prop('value', prop('value', as_(prop('value', alias('O')), 'FHIR.Quantity'))), dc('130')),
     'return', jsonb_build_object('expression', prop('id.value', alias('O')))), '["eng-query-o1"]'),
('Count(Patient.birthDate.extension) (primitive extension)',
  src('Count', prop('extension', prop('birthDate', ref('Patient')))), '1'),
('First(Patient.birthDate.extension).url.value',
  prop('value', prop('url', src('First', prop('extension', prop('birthDate', ref('Patient')))))),
  '"http://hl7.org/fhir/StructureDefinition/patient-birthTime"'),
('(First(Patient.birthDate.extension).value as FHIR.dateTime).value',
  prop('value', as_(prop('value', src('First', prop('extension', prop('birthDate', ref('Patient'))))), 'FHIR.dateTime')),
  '"1975-04-01T08:30:00+00:00"'),
('Patient.gender (absent)', prop('gender', ref('Patient')), 'null'),
('Patient.name (absent list)', prop('name', ref('Patient')), '[]'),
-- X.name.value is read in one step (elm_eval.c eval_child_value) where name
-- is one primitive; these must give what the two steps give
('TheCondition.recordedDate.value (a primitive with only an extension)',
  prop('value', prop('recordedDate', ref('TheCondition'))), 'null'),
('TheCondition.recordedDate.value (dotted path)', prop('recordedDate.value', ref('TheCondition')), 'null'),
('Count(TheCondition.recordedDate.extension)',
  src('Count', prop('extension', prop('recordedDate', ref('TheCondition')))), '1'),
('TheCondition.abatement.value (an absent choice)', prop('value', prop('abatement', ref('TheCondition'))), 'null'),
('TheCondition.onset.value (a choice: the two steps)', prop('value', prop('onset', ref('TheCondition'))), '"2020-05-06"'),
('TheCondition.clinicalStatus.value (not a primitive)', prop('value', prop('clinicalStatus', ref('TheCondition'))), 'null'),
('TheRequest.instantiatesCanonical.value (a list of primitives)',
  prop('value', prop('instantiatesCanonical', ref('TheRequest'))), '["http://example.org/a", "http://example.org/b"]'),
('TheRequest.status.value', prop('value', prop('status', ref('TheRequest'))), '"active"'),
('TheRequest.intent.value (dotted path)', prop('intent.value', ref('TheRequest')), '"order"'),
('TheRequest.authoredOn.value (absent)', prop('value', prop('authoredOn', ref('TheRequest'))), 'null'),
('CodeValue(TheRequest.status) (one overload, "x.value")', call('CodeValue', ARRAY[prop('status', ref('TheRequest'))]), '"active"'),
('CodeValue(TheRequest.authoredOn) (absent)', call('CodeValue', ARRAY[prop('authoredOn', ref('TheRequest'))]), 'null'),
('{identifier, Quantity, identifier} X return ValueOf(X.value) (the overload follows the type)',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('X',
       lst(src('First', prop('identifier', ref('TheRequest'))),
           as_(prop('value', ref('FirstObs')), 'FHIR.Quantity'),
           src('First', prop('identifier', ref('TheRequest')))))),
     'return', jsonb_build_object('distinct', false, 'expression', call('ValueOf', ARRAY[prop('value', alias('X'))]))),
  '["id-1", "a decimal", "id-1"]');

-- ---- repeated calls on a function's operands (computed once per call) and lets
-- (computed when first read): values must be those of a plain evaluation
SELECT elmt.define_function('SqNext', ARRAY['x', 'Integer'],
  op('Multiply', call('plusOne', ARRAY[operand('x')]), call('plusOne', ARRAY[operand('x')])));
SELECT elmt.define_function('SqNextTwice', ARRAY['x', 'Integer'],
  op('Add', call('SqNext', ARRAY[call('plusOne', ARRAY[operand('x')])]),
            call('SqNext', ARRAY[call('plusOne', ARRAY[operand('x')])])));
SELECT elmt.define_function('QtyOrZero', ARRAY['o', 'FHIR.Observation'],
  jsonb_build_object('type', 'If', 'condition', is_(prop('value', operand('o')), 'FHIR.Quantity'),
    'then', prop('value', prop('value', as_(prop('value', operand('o')), 'FHIR.Quantity'))),
    'else', dc('0')));
INSERT INTO elmt.chk (cql, expr, expected) VALUES
('SqNext(2) + SqNext(3) (one call''s shared value is not the next''s)',
  op('Add', call('SqNext', ARRAY[i(2)]), call('SqNext', ARRAY[i(3)])), '25'),
('SqNext(SqNext(1)) (a call inside the argument)',
  call('SqNext', ARRAY[call('SqNext', ARRAY[i(1)])]), '25'),
('SqNextTwice(1) (shared calls of a function that shares its own)',
  call('SqNextTwice', ARRAY[i(1)]), '18'),
('QtyOrZero(FirstObs) + QtyOrZero(SecondObs) + QtyOrZero(ThirdObs)',
  op('Add', op('Add', call('QtyOrZero', ARRAY[ref('FirstObs')]), call('QtyOrZero', ARRAY[ref('SecondObs')])),
     call('QtyOrZero', ARRAY[ref('ThirdObs')])), '270.5'),
('from {1, 2, 3} X let A: X * 10, B: A + 1 where B > 15 return A',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('X', lst(i(1), i(2), i(3)))),
     'let', jsonb_build_array(
        jsonb_build_object('identifier', 'A', 'expression', op('Multiply', alias('X'), i(10))),
        jsonb_build_object('identifier', 'B', 'expression', op('Add', jsonb_build_object('type', 'QueryLetRef', 'name', 'A'), i(1)))),
     'where', op('Greater', jsonb_build_object('type', 'QueryLetRef', 'name', 'B'), i(15)),
     'return', jsonb_build_object('expression', jsonb_build_object('type', 'QueryLetRef', 'name', 'A'))), '[20, 30]'),
('from {1, 2} X let A: X * 10 return (from {1, 2} Y return Y + A)',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('X', lst(i(1), i(2)))),
     'let', jsonb_build_array(jsonb_build_object('identifier', 'A', 'expression', op('Multiply', alias('X'), i(10)))),
     'return', jsonb_build_object('expression', jsonb_build_object('type', 'Query',
        'source', jsonb_build_array(qsrc('Y', lst(i(1), i(2)))),
        'return', jsonb_build_object('expression', op('Add', alias('Y'), jsonb_build_object('type', 'QueryLetRef', 'name', 'A')))))),
  '[[11, 12], [21, 22]]'),
('from {1, 2, 3} X let A: X + 1 with {3, 4} Y such that Y = A return X',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('X', lst(i(1), i(2), i(3)))),
     'let', jsonb_build_array(jsonb_build_object('identifier', 'A', 'expression', op('Add', alias('X'), i(1)))),
     'relationship', jsonb_build_array(jsonb_build_object('type', 'With', 'alias', 'Y', 'expression', lst(i(3), i(4)),
                                         'suchThat', op('Equal', alias('Y'), jsonb_build_object('type', 'QueryLetRef', 'name', 'A')))),
     'return', jsonb_build_object('expression', alias('X'))), '[2, 3]'),
('from {Tuple{a: 2}, Tuple{a: 5}} T let U: T where U.a > 3 return U.a (a let read by a scoped property)',
  jsonb_build_object('type', 'Query', 'source', jsonb_build_array(qsrc('T', lst(tup('a', i(2)::text), tup('a', i(5)::text)))),
     'let', jsonb_build_array(jsonb_build_object('identifier', 'U', 'expression', alias('T'))),
     'where', op('Greater', sprop('a', 'U'), i(3)),
     'return', jsonb_build_object('expression', sprop('a', 'U'))), '[5]');

-- ---- a function's results kept by element for the evaluation (elm_call_function):
-- the same element gives its value again, every other element its own, and
-- nothing is kept from one evaluation to the next (below, after the run)
SELECT elmt.define('Obs quantities twice', jsonb_build_object('type', 'Query',
  'source', jsonb_build_array(qsrc('O', ref('Observations'))),
  'return', jsonb_build_object('distinct', false, 'expression',
     op('Add', call('QtyOrZero', ARRAY[alias('O')]), call('QtyOrZero', ARRAY[alias('O')])))));
SELECT elmt.define('First quantity', call('QtyOrZero', ARRAY[ref('FirstObs')]));
INSERT INTO elmt.chk (cql, expr, expected) VALUES
('from Observations O return QtyOrZero(O) + QtyOrZero(O) (each element its own value, twice)',
  ref('Obs quantities twice'), '[284, 257.0, 0]'),
('QtyOrZero(FirstObs) + QtyOrZero(SecondObs) + QtyOrZero(FirstObs) + QtyOrZero(ThirdObs)',
  op('Add', op('Add', op('Add', call('QtyOrZero', ARRAY[ref('FirstObs')]), call('QtyOrZero', ARRAY[ref('SecondObs')])),
     call('QtyOrZero', ARRAY[ref('FirstObs')])), call('QtyOrZero', ARRAY[ref('ThirdObs')])), '412.5');

SELECT elmt.load_library('EngQuery', $$ {"parameters": {"def": [
  {"name": "Measurement Period", "accessLevel": "Public"},
  {"name": "Threshold", "accessLevel": "Public", "default": {"type": "Literal", "valueType": "{urn:hl7-org:elm-types:r1}Integer", "value": "5"}}]}} $$);
SELECT * FROM elmt.run('EngQuery', 'eng-query-p');
SELECT count(*) FILTER (WHERE ok) AS passed, count(*) FILTER (WHERE NOT ok) AS failed FROM elmt.run('EngQuery', 'eng-query-p');
-- one statement, two patients of the same shape taking turns: each evaluation
-- computes its own (their documents are read into the same memory, so a
-- result kept by the element's address alone would be the other patient's)
SELECT elmt.load($$[
 {"resourceType": "Patient", "id": "eng-memo-a"},
 {"resourceType": "Observation", "id": "eng-memo-a1", "status": "final",
  "subject": {"reference": "Patient/eng-memo-a"},
  "valueQuantity": {"value": 117, "unit": "mm[Hg]"}},
 {"resourceType": "Patient", "id": "eng-memo-b"},
 {"resourceType": "Observation", "id": "eng-memo-b1", "status": "final",
  "subject": {"reference": "Patient/eng-memo-b"},
  "valueQuantity": {"value": 118, "unit": "mm[Hg]"}}
]$$);
SELECT k, p, hedis.evaluate_expression('EngQuery', 'First quantity', p, '2024-01-01', '2024-12-31') AS quantity
  FROM (VALUES (1, 'eng-memo-a'), (2, 'eng-memo-b'), (3, 'eng-memo-a'), (4, 'eng-memo-b')) v(k, p)
 ORDER BY k;

-- ---- extensions picked by url ---------------------------------------------------
-- "Patient.extension E where E.url = '...'" (QI-Core's Patient.sex) reads only
-- the extensions of that url (elm_query_filter_extensions); the same query with
-- a where clause the engine does not recognise takes every extension through
-- the where clause.  Both must agree on every layout of the array.
SELECT elmt.load($$[
 {"resourceType": "Patient", "id": "eng-ext-two-of-three", "extension": [
   {"url": "http://example.org/a", "valueString": "first"},
   {"url": "http://example.org/b", "valueString": "other"},
   {"url": "http://example.org/a", "valueString": "second"}]},
 {"resourceType": "Patient", "id": "eng-ext-none"},
 {"resourceType": "Patient", "id": "eng-ext-empty", "extension": []},
 {"resourceType": "Patient", "id": "eng-ext-no-url", "extension": [
   {"valueString": "without url"}, {"url": "http://example.org/a", "valueCode": "c"}]},
 {"resourceType": "Patient", "id": "eng-ext-other-only", "extension": [
   {"url": "http://example.org/ab", "valueString": "longer url"},
   {"url": "http://example.org/", "valueString": "shorter url"}]}
]$$);
TRUNCATE elmt.chk, elmt.def;
SELECT elmt.define('By url', jsonb_build_object('type', 'Query',
  'source', jsonb_build_array(qsrc('E', prop('extension', ref('Patient')))),
  'where', op('Equal', sprop('url', 'E'), s('http://example.org/a')),
  'return', jsonb_build_object('expression', sprop('value', 'E'))));
SELECT elmt.define('By url, literal first', jsonb_build_object('type', 'Query',
  'source', jsonb_build_array(qsrc('E', prop('extension', ref('Patient')))),
  'where', op('Equal', s('http://example.org/a'), sprop('url', 'E')),
  'return', jsonb_build_object('expression', sprop('value', 'E'))));
SELECT elmt.define('By url, every extension through the where clause', jsonb_build_object('type', 'Query',
  'source', jsonb_build_array(qsrc('E', prop('extension', ref('Patient')))),
  'where', op('And', op('Equal', sprop('url', 'E'), s('http://example.org/a')), b(true)),
  'return', jsonb_build_object('expression', sprop('value', 'E'))));
SELECT elmt.load_library('EngExtUrl');
SELECT p AS patient, elmt.eval('EngExtUrl', 'By url', p) AS by_url,
       elmt.eval('EngExtUrl', 'By url', p) = elmt.eval('EngExtUrl', 'By url, literal first', p)
   AND elmt.eval('EngExtUrl', 'By url', p) = elmt.eval('EngExtUrl', 'By url, every extension through the where clause', p)
       AS same_as_generic
  FROM unnest(ARRAY['eng-ext-two-of-three', 'eng-ext-none', 'eng-ext-empty', 'eng-ext-no-url', 'eng-ext-other-only']) p;
-- inside a function, a source filtered by url is not the same expression as an
-- unfiltered copy of it: "all" lists every extension's url
TRUNCATE elmt.chk, elmt.def;
SELECT elmt.define_function('Urls and a', ARRAY['p', 'FHIR.Patient'], jsonb_build_object('type', 'Tuple', 'element', jsonb_build_array(
  jsonb_build_object('name', 'a', 'value', jsonb_build_object('type', 'Query',
     'source', jsonb_build_array(qsrc('E', prop('extension', operand('p')))),
     'where', op('Equal', sprop('url', 'E'), s('http://example.org/a')),
     'return', jsonb_build_object('expression', sprop('value', 'E')))),
  jsonb_build_object('name', 'all', 'value', jsonb_build_object('type', 'Query',
     'source', jsonb_build_array(qsrc('X', prop('extension', operand('p')))),
     'return', jsonb_build_object('expression', sprop('url', 'X')))))));
SELECT elmt.define('Both', elmt.call('Urls and a', ARRAY[ref('Patient')]));
SELECT elmt.load_library('EngExtUrlShared');
SELECT elmt.eval('EngExtUrlShared', 'Both', 'eng-ext-two-of-three') AS filtered_and_all;

-- ---- a function's kept results when it calls itself: each call on an
-- element keeps its own value, also when a call made during it (on a child
-- element) takes the same slot of the function's memo (20 nested elements,
-- 8 slots: some do)
SELECT elmt.load(jsonb_build_array(jsonb_build_object('resourceType', 'Patient', 'id', 'eng-nested',
  'extension', jsonb_build_array((
    WITH RECURSIVE chain(depth, ext) AS (
      SELECT 20, jsonb_build_object('url', 'd20', 'valueString', 'leaf')
      UNION ALL
      SELECT depth - 1, jsonb_build_object('url', 'd' || (depth - 1), 'extension', jsonb_build_array(ext))
        FROM chain WHERE depth > 1)
    SELECT ext FROM chain WHERE depth = 1)))));
TRUNCATE elmt.chk, elmt.def;
SELECT elmt.define_function('Depth', ARRAY['e', 'FHIR.Extension'],
  jsonb_build_object('type', 'If',
    'condition', op1('Exists', prop('extension', operand('e'))),
    'then', op('Add', i(1), call('Depth', ARRAY[src('First', prop('extension', operand('e')))])),
    'else', i(0)));
SELECT elmt.define('E1', src('First', prop('extension', ref('Patient'))));
SELECT elmt.define('E' || k, src('First', prop('extension', ref('E' || (k - 1))))) FROM generate_series(2, 20) k;
-- Depth(E1) first (every call nested in it), then each again, E1 last
SELECT elmt.define('Depths', (SELECT jsonb_build_object('type', 'List', 'element',
    jsonb_agg(call('Depth', ARRAY[ref('E' || k)]) ORDER BY o))
  FROM unnest(ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 1])
       WITH ORDINALITY u(k, o)));
SELECT elmt.load_library('EngNested');
SELECT elmt.eval('EngNested', 'Depths', 'eng-nested') AS depths;

-- ---- members of wide objects: jsonb keeps every 32nd member's offset, the
-- others' lengths (jb_object_get sums the lengths up to 32 entries, steps
-- over the offsets past that); 'birthDate' is member n + 3 of n + 4
SELECT elmt.load((SELECT jsonb_agg(
         (SELECT jsonb_object_agg('x' || lpad(i::text, 3, '0'), i) FROM generate_series(1, n) i)
         || jsonb_build_object('resourceType', 'Patient', 'id', 'eng-wide-' || n, 'gender', 'female',
                               'birthDate', to_char(date '1980-01-01' + n, 'YYYY-MM-DD')))
  FROM unnest(ARRAY[1, 12, 13, 14, 15, 16, 28, 29, 30, 31, 32, 33, 61, 62, 100]) n));
TRUNCATE elmt.chk, elmt.def;
SELECT elmt.define('BirthDate', prop('birthDate.value', ref('Patient')));
SELECT elmt.define('Gender', prop('gender.value', ref('Patient')));
SELECT elmt.load_library('EngWide');
SELECT n, elmt.eval('EngWide', 'BirthDate', 'eng-wide-' || n) = to_jsonb(to_char(date '1980-01-01' + n, 'YYYY-MM-DD')) AS birth_date,
       elmt.eval('EngWide', 'Gender', 'eng-wide-' || n) AS gender
  FROM unnest(ARRAY[1, 12, 13, 14, 15, 16, 28, 29, 30, 31, 32, 33, 61, 62, 100]) n;

-- ---- index entries read from the leaf pages (fhir_prefetch.c): in place
-- when the entry has no nulls, through index_getattr otherwise.  A
-- resource whose patient is not loaded yet has a NULL patient key: its
-- entries sort after every patient's, on the leaf page of the last patient
SELECT elmt.load($$[
 {"resourceType": "Patient", "id": "eng-last-p", "birthDate": "1970-01-01"},
 {"resourceType": "Condition", "id": "eng-last-c1", "subject": {"reference": "Patient/eng-last-p"},
  "code": {"text": "one"}},
 {"resourceType": "Condition", "id": "eng-last-c2", "subject": {"reference": "Patient/eng-last-nobody"},
  "code": {"text": "another patient's, not loaded"}}
]$$);
SELECT count(*) FILTER (WHERE patient_key IS NULL) AS waiting,
       bool_and(patient_key IS NULL OR patient_key = (SELECT max(patient_key) FROM hedis.patient))
         FILTER (WHERE fhir_id LIKE 'eng-last-%') AS after_the_last_patient
  FROM hedis.resource WHERE fhir_id LIKE 'eng-last-%';
TRUNCATE elmt.chk, elmt.def;
SELECT elmt.define('Conditions', jsonb_build_object('type', 'Query',
  'source', jsonb_build_array(jsonb_build_object('alias', 'C', 'expression', retrieve('Condition'))),
  'return', jsonb_build_object('expression', prop('id.value', alias('C')))));
SELECT elmt.load_library('EngLast');
SELECT elmt.eval('EngLast', 'Conditions', 'eng-last-p') AS conditions;
