-- ---------------------------------------------------------------------------
-- The measure engine: evaluate published ELM over the data store.
-- Functions run with the caller's rights (they only read); a caller's objects
-- cannot shadow the engine's own queries: search_path is pinned by the SET
-- clause, or, for the two per-patient functions (evaluate and
-- evaluate_patient_result, called once per patient), by the C code around
-- the rare queries it runs (src/common/search_path.h) while its per-patient
-- queries name their operators (OPERATOR(pg_catalog.=)); a SET clause costs
-- a GUC save and restore on every call.
-- ---------------------------------------------------------------------------

CREATE FUNCTION hedis.evaluate(measure text, patient text,
                               period_start date, period_end date)
RETURNS jsonb
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'hedis_evaluate';
COMMENT ON FUNCTION hedis.evaluate(text, text, date, date) IS
  'FHIR MeasureReport (individual) of one patient for a Measure (canonical url, url|version or name), with the evidence behind it';

CREATE FUNCTION hedis.evaluate_expression(library text, expression text, patient text,
                                          period_start date, period_end date)
RETURNS jsonb
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hedis_evaluate_expression';
COMMENT ON FUNCTION hedis.evaluate_expression(text, text, text, date, date) IS
  'value of one CQL definition of a library for one patient, as JSON';

CREATE FUNCTION hedis.evaluate_patient_result(measure text, patient_key bigint,
                                              period_start date, period_end date)
RETURNS jsonb
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'hedis_evaluate_patient_result';
COMMENT ON FUNCTION hedis.evaluate_patient_result(text, bigint, date, date) IS
  'compact per-patient population counts and strata (what population runs store)';

CREATE FUNCTION hedis.compile_library(library text, version text DEFAULT NULL)
RETURNS integer
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hedis_compile_library';
COMMENT ON FUNCTION hedis.compile_library(text, text) IS
  'compile a library and its includes; raises an error naming any ELM node the engine does not implement; returns the number of definitions';

CREATE FUNCTION hedis.check_elm(elm jsonb, source text DEFAULT NULL)
RETURNS void
LANGUAGE C IMMUTABLE
AS 'MODULE_PATHNAME', 'hedis_check_elm';
COMMENT ON FUNCTION hedis.check_elm(jsonb, text) IS
  'raise feature_not_supported naming the first ELM node type the engine does not evaluate (called when a Library is loaded)';

CREATE FUNCTION hedis.elm_supported_nodes()
RETURNS SETOF text
LANGUAGE C STRICT IMMUTABLE
AS 'MODULE_PATHNAME', 'hedis_elm_supported_nodes';
COMMENT ON FUNCTION hedis.elm_supported_nodes() IS
  'the ELM node types the engine evaluates';

GRANT EXECUTE ON FUNCTION hedis.evaluate(text, text, date, date),
                          hedis.evaluate_expression(text, text, text, date, date),
                          hedis.evaluate_patient_result(text, bigint, date, date),
                          hedis.compile_library(text, text),
                          hedis.check_elm(jsonb, text),
                          hedis.elm_supported_nodes()
  TO hedis_reader;
