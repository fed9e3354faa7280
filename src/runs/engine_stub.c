/*
 * engine_stub.c
 *		TEMPORARY stand-in for the measure engine, for testing src/runs before
 *		src/engine lands.  Compiled only with -DHEDIS_ENGINE_STUB (never in
 *		the default build); delete once the engine exists.
 *
 * Rules (deterministic from the store, so tests can predict them):
 *   initial-population = 1 if the patient has a birth date
 *   denominator        = initial-population and gender = 'female'
 *   denominator-exclusion = denominator and the patient has a Procedure
 *   numerator          = denominator, not excluded, and the patient has an Observation
 *   stratifier "gender" = the gender
 *   a patient whose FHIR id contains "error" raises an ERROR
 */
#ifdef HEDIS_ENGINE_STUB
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "engine/hedis_engine.h"

Jsonb *
hedis_measure_evaluate_patient(const char *measure_ref, int64 patient_key,
							   DateADT period_start, DateADT period_end)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(patient_key)};
	char	   *json;
	Datum		result;
	int			rc;
	MemoryContext callercxt = CurrentMemoryContext;

	SPI_connect();
	rc = SPI_execute_with_args(
		"SELECT p.fhir_id, jsonb_build_object('patient', p.fhir_id, 'groups', jsonb_build_array("
		"  jsonb_build_object('id', 'g1', 'populations', jsonb_build_object("
		"     'initial-population', ip, 'denominator', den,"
		"     'denominator-exclusion', (den = 1 AND proc)::int,"
		"     'numerator', (den = 1 AND NOT proc AND obs)::int),"
		"   'stratifiers', jsonb_build_array(jsonb_build_object('id', 'gender',"
		"       'value', to_jsonb(coalesce(p.gender, 'unknown')))))))::text"
		"  FROM hedis.patient p,"
		"       LATERAL (SELECT (p.birth_date IS NOT NULL)::int AS ip) a,"
		"       LATERAL (SELECT (ip = 1 AND p.gender = 'female')::int AS den) b,"
		"       LATERAL (SELECT EXISTS (SELECT 1 FROM hedis.resource r WHERE r.patient_key = p.patient_key"
		"                               AND r.resource_type = 'Procedure') AS proc,"
		"                       EXISTS (SELECT 1 FROM hedis.resource r WHERE r.patient_key = p.patient_key"
		"                               AND r.resource_type = 'Observation') AS obs) c"
		" WHERE p.patient_key = $1",
		1, types, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND),
						errmsg("stub engine: no patient %lld", (long long) patient_key)));
	if (strstr(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "error"))
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
						errmsg("stub engine: patient asked for an error")));
	json = MemoryContextStrdup(callercxt,
							   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	SPI_finish();
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(json));
	return DatumGetJsonbP(result);
}

void
hedis_engine_reset_caches(void)
{
}
#endif							/* HEDIS_ENGINE_STUB */
