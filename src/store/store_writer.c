/*
 * store_writer.c
 *		Batched upserts of extracted resources into hedis.patient and
 *		hedis.resource; calls into the knowledge-store SQL helpers.
 *
 * Owns the only SQL that writes the clinical store.  Rows are buffered
 * (STORE_BATCH_ROWS) and written with three set-based statements per batch:
 * patients first, so that the resources of the same batch find their
 * patient_key by join, then the resources, then the resources of earlier
 * loads that were waiting for one of these patients are attached.  Within a
 * batch the last copy of a (type, id) wins, as a later load would.
 * The caller must be connected to SPI.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "store/store.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#define STORE_BATCH_ROWS 1000

struct StoreWriter
{
	MemoryContext cxt;			/* rows of the current batch */
	int			n;
	int			npatients;
	/* resource columns */
	Datum		type[STORE_BATCH_ROWS];
	Datum		id[STORE_BATCH_ROWS];
	Datum		pref[STORE_BATCH_ROWS];
	bool		pref_null[STORE_BATCH_ROWS];
	Datum		codes[STORE_BATCH_ROWS];
	Datum		pstart[STORE_BATCH_ROWS];
	bool		pstart_null[STORE_BATCH_ROWS];
	Datum		pend[STORE_BATCH_ROWS];
	bool		pend_null[STORE_BATCH_ROWS];
	Datum		res[STORE_BATCH_ROWS];
	/* patient columns */
	Datum		p_id[STORE_BATCH_ROWS];
	Datum		p_birth[STORE_BATCH_ROWS];
	bool		p_birth_null[STORE_BATCH_ROWS];
	Datum		p_gender[STORE_BATCH_ROWS];
	bool		p_gender_null[STORE_BATCH_ROWS];
};

static SPIPlanPtr patient_plan = NULL;
static SPIPlanPtr resource_plan = NULL;
static SPIPlanPtr attach_plan = NULL;
static SPIPlanPtr knowledge_plan = NULL;

static const char *const patient_sql =
"INSERT INTO hedis.patient AS p (fhir_id, birth_date, gender) "
"SELECT DISTINCT ON (u.fhir_id) u.fhir_id, u.birth_date, u.gender "
"  FROM unnest($1::text[], $2::date[], $3::text[]) WITH ORDINALITY "
"       AS u(fhir_id, birth_date, gender, ord) "
" ORDER BY u.fhir_id, u.ord DESC "
"ON CONFLICT (fhir_id) DO UPDATE "
"   SET birth_date = EXCLUDED.birth_date, gender = EXCLUDED.gender, loaded_at = now() "
" WHERE (p.birth_date, p.gender) IS DISTINCT FROM (EXCLUDED.birth_date, EXCLUDED.gender)";

static const char *const resource_sql =
"INSERT INTO hedis.resource AS r "
"       (resource_type, fhir_id, patient_ref, patient_key, codes, period_start, period_end, resource) "
"SELECT u.t, u.id, u.pref, p.patient_key, "
"       CASE WHEN u.codes = '' THEN '{}'::text[] ELSE string_to_array(u.codes, E'\\x1f') END, "
"       u.ps, u.pe, u.res "
"  FROM (SELECT DISTINCT ON (x.t, x.id) x.* "
"          FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
"                      $5::timestamptz[], $6::timestamptz[], $7::jsonb[]) WITH ORDINALITY "
"               AS x(t, id, pref, codes, ps, pe, res, ord) "
"         ORDER BY x.t, x.id, x.ord DESC) u "
"  LEFT JOIN hedis.patient p ON p.fhir_id = u.pref "
"ON CONFLICT (resource_type, fhir_id) DO UPDATE "
"   SET patient_ref = EXCLUDED.patient_ref, patient_key = EXCLUDED.patient_key, "
"       codes = EXCLUDED.codes, period_start = EXCLUDED.period_start, "
"       period_end = EXCLUDED.period_end, resource = EXCLUDED.resource, loaded_at = now() "
" WHERE r.resource IS DISTINCT FROM EXCLUDED.resource "
"    OR r.patient_ref IS DISTINCT FROM EXCLUDED.patient_ref "
"    OR r.patient_key IS DISTINCT FROM EXCLUDED.patient_key "
"    OR r.codes IS DISTINCT FROM EXCLUDED.codes "
"    OR r.period_start IS DISTINCT FROM EXCLUDED.period_start "
"    OR r.period_end IS DISTINCT FROM EXCLUDED.period_end";

static const char *const attach_sql =
"UPDATE hedis.resource r SET patient_key = p.patient_key "
"  FROM hedis.patient p "
" WHERE p.fhir_id = ANY ($1::text[]) "
"   AND r.patient_ref = p.fhir_id "
"   AND r.patient_key IS NULL AND r.patient_ref IS NOT NULL";

static SPIPlanPtr
prepare_kept(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

static void
prepare_plans(void)
{
	if (patient_plan == NULL)
	{
		Oid			types[3] = {TEXTARRAYOID, DATEARRAYOID, TEXTARRAYOID};

		patient_plan = prepare_kept(patient_sql, 3, types);
	}
	if (resource_plan == NULL)
	{
		Oid			types[7] = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
			TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID, JSONBARRAYOID};

		resource_plan = prepare_kept(resource_sql, 7, types);
	}
	if (attach_plan == NULL)
	{
		Oid			types[1] = {TEXTARRAYOID};

		attach_plan = prepare_kept(attach_sql, 1, types);
	}
}

StoreWriter *
store_writer_begin(void)
{
	StoreWriter *w = palloc0(sizeof(StoreWriter));

	w->cxt = AllocSetContextCreate(CurrentMemoryContext, "hedis store batch",
								   ALLOCSET_DEFAULT_SIZES);
	prepare_plans();
	return w;
}

static ArrayType *
make_array(Datum *values, bool *nulls, int n, Oid elemtype)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int16		typlen;
	bool		typbyval;
	char		typalign;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	return construct_md_array(values, nulls, 1, dims, lbs, elemtype,
							  typlen, typbyval, typalign);
}

void
store_writer_add(StoreWriter *w, const StoreRow *row)
{
	MemoryContext old;
	int			i;

	if (w->n >= STORE_BATCH_ROWS)
		store_writer_flush(w);

	old = MemoryContextSwitchTo(w->cxt);
	i = w->n++;
	w->type[i] = CStringGetTextDatum(row->resource_type);
	w->id[i] = CStringGetTextDatum(row->fhir_id);
	w->pref_null[i] = (row->patient_ref == NULL);
	w->pref[i] = row->patient_ref ? CStringGetTextDatum(row->patient_ref) : (Datum) 0;
	w->codes[i] = CStringGetTextDatum(row->codes ? row->codes : "");
	w->pstart_null[i] = !row->has_start;
	w->pstart[i] = TimestampTzGetDatum(row->period_start);
	w->pend_null[i] = !row->has_end;
	w->pend[i] = TimestampTzGetDatum(row->period_end);
	w->res[i] = PointerGetDatum(palloc(VARSIZE(row->resource)));
	memcpy(DatumGetPointer(w->res[i]), row->resource, VARSIZE(row->resource));

	if (row->is_patient)
	{
		int			j = w->npatients++;

		w->p_id[j] = w->id[i];
		w->p_birth_null[j] = !row->has_birth_date;
		w->p_birth[j] = DateADTGetDatum(row->birth_date);
		w->p_gender_null[j] = (row->gender == NULL);
		w->p_gender[j] = row->gender ? CStringGetTextDatum(row->gender) : (Datum) 0;
	}
	MemoryContextSwitchTo(old);
}

void
store_writer_flush(StoreWriter *w)
{
	MemoryContext old;
	int			rc;

	if (w->n == 0)
		return;
	old = MemoryContextSwitchTo(w->cxt);

	if (w->npatients > 0)
	{
		Datum		args[3];
		char		nulls[3] = {' ', ' ', ' '};

		args[0] = PointerGetDatum(make_array(w->p_id, NULL, w->npatients, TEXTOID));
		args[1] = PointerGetDatum(make_array(w->p_birth, w->p_birth_null, w->npatients, DATEOID));
		args[2] = PointerGetDatum(make_array(w->p_gender, w->p_gender_null, w->npatients, TEXTOID));
		rc = SPI_execute_plan(patient_plan, args, nulls, false, 0);
		/* SPI returns in its procedure context; the next arrays belong in ours */
		MemoryContextSwitchTo(w->cxt);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "patient upsert failed: %s", SPI_result_code_string(rc));
	}

	{
		Datum		args[7];
		char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

		args[0] = PointerGetDatum(make_array(w->type, NULL, w->n, TEXTOID));
		args[1] = PointerGetDatum(make_array(w->id, NULL, w->n, TEXTOID));
		args[2] = PointerGetDatum(make_array(w->pref, w->pref_null, w->n, TEXTOID));
		args[3] = PointerGetDatum(make_array(w->codes, NULL, w->n, TEXTOID));
		args[4] = PointerGetDatum(make_array(w->pstart, w->pstart_null, w->n, TIMESTAMPTZOID));
		args[5] = PointerGetDatum(make_array(w->pend, w->pend_null, w->n, TIMESTAMPTZOID));
		args[6] = PointerGetDatum(make_array(w->res, NULL, w->n, JSONBOID));
		rc = SPI_execute_plan(resource_plan, args, nulls, false, 0);
		MemoryContextSwitchTo(w->cxt);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "resource upsert failed: %s", SPI_result_code_string(rc));
	}

	if (w->npatients > 0)
	{
		Datum		args[1];
		char		nulls[1] = {' '};

		args[0] = PointerGetDatum(make_array(w->p_id, NULL, w->npatients, TEXTOID));
		rc = SPI_execute_plan(attach_plan, args, nulls, false, 0);
		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "attaching waiting resources failed: %s", SPI_result_code_string(rc));
	}

	MemoryContextSwitchTo(old);
	MemoryContextReset(w->cxt);
	w->n = 0;
	w->npatients = 0;
}

/*
 * Store one Library, Measure or ValueSet through hedis._store_knowledge
 * (30_loaders.sql).  Returns whether the knowledge store changed.  "where"
 * names the input position for error messages.
 */
bool
store_knowledge_store(Jsonb *resource, const char *where)
{
	Datum		args[2];
	char		nulls[2] = {' ', ' '};
	bool		isnull;
	Datum		d;
	int			rc;

	if (knowledge_plan == NULL)
	{
		Oid			types[2] = {JSONBOID, TEXTOID};

		knowledge_plan = prepare_kept("SELECT hedis._store_knowledge($1, $2)", 2, types);
	}
	args[0] = PointerGetDatum(resource);
	args[1] = CStringGetTextDatum(where);
	rc = SPI_execute_plan(knowledge_plan, args, nulls, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "hedis._store_knowledge failed: %s", SPI_result_code_string(rc));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	SPI_freetuptable(SPI_tuptable);
	return !isnull && DatumGetBool(d);
}

void
store_knowledge_bump_generation(void)
{
	int			rc = SPI_execute("UPDATE hedis.knowledge_state SET generation = generation + 1",
								 false, 0);

	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "knowledge generation update failed: %s", SPI_result_code_string(rc));
}
