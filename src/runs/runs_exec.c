/*
 * runs_exec.c
 *		Evaluate one batch of a population run and store it.
 *
 * Owner: runs.  Shared by the background run workers (one transaction per
 * batch) and hedis.run_now() (every batch in the caller's transaction).  A
 * batch stores, in this order: the run's progress (which also locks the run
 * row, so a cancelled or restarted run is noticed and concurrent workers
 * write their counts one after the other), the outcomes it met first
 * (runs_outcome.c), one row per patient naming its outcome, and the batch's
 * summary counts.  Memory: one context per patient, reset after
 * each, and one per batch, so nothing grows with the population size.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "engine/hedis_engine.h"
#include "runs/runs.h"

/*
 * The patients of a unit of keys (runs_share.c) not evaluated yet.  The
 * "already evaluated" test is a per-row index probe (OFFSET 0 keeps it a
 * subplan), so a batch costs the same at the end of a million patients as
 * at the start, even when the statistics of run_patient are stale.
 */
static const char *const batch_keys_sql =
"SELECT p.patient_key, p.fhir_id, p.birth_date"
"  FROM hedis.patient p"
" WHERE p.patient_key > $1 AND p.patient_key <= $2"
"   AND NOT EXISTS (SELECT 1 FROM hedis.run_patient r"
"                    WHERE r.run_id = $3 AND r.patient_key = p.patient_key OFFSET 0)"
" ORDER BY p.patient_key";

/*
 * The same for an attempt that had no results before this dispatch (a new
 * run, run_now): its workers never meet a patient evaluated already, so the
 * per-patient probe of run_patient is left out.
 */
static const char *const fresh_batch_keys_sql =
"SELECT p.patient_key, p.fhir_id, p.birth_date"
"  FROM hedis.patient p"
" WHERE p.patient_key > $1 AND p.patient_key <= $2"
" ORDER BY p.patient_key";

/* first patient key after $1, to jump over gaps in the key space */
static const char *const next_key_sql =
"SELECT min(patient_key) FROM hedis.patient WHERE patient_key > $1";

/*
 * A background batch takes a share lock on the run row: it still runs this
 * attempt, and a cancel or restart waits until the batch has committed (so a
 * run's results never mix attempts).  Share locks do not block the other
 * workers' batches.
 */
static const char *const batch_check_sql =
"SELECT 1 FROM hedis.run"
" WHERE run_id = $1 AND attempt = $2 AND status = 'running'"
"   FOR SHARE";

/* each worker's progress is its own row: no worker waits for another */
static const char *const batch_progress_sql =
"UPDATE hedis.run_worker"
"   SET patients_done = patients_done + $3,"
"       patients_failed = patients_failed + $4,"
"       updated_at = clock_timestamp()"
" WHERE run_id = $1 AND worker = $2";

/*
 * a patient's row names its outcome, or holds its whole result (inline), or
 * its error; when run_patient has triggers of the DBA's (runs_store.c)
 */
static const char *const batch_results_sql =
"INSERT INTO hedis.run_patient (run_id, attempt, patient_key, patient_id, outcome, result, error)"
"SELECT $1, $2, u.k, u.i, u.o, u.r, u.e"
"  FROM unnest($3::bigint[], $4::text[], $5::bigint[], $6::jsonb[], $7::text[])"
"       AS u(k, i, o, r, e)";

/* the plans of the statements above (runs_execute) */
static SPIPlanPtr batch_keys_plan = NULL;
static SPIPlanPtr fresh_batch_keys_plan = NULL;
static SPIPlanPtr batch_check_plan = NULL;
static SPIPlanPtr batch_progress_plan = NULL;
static SPIPlanPtr batch_results_plan = NULL;

/* A batch's rows of hedis.run_patient, column by column */
typedef struct BatchRows
{
	int			n;
	int64	   *keys;
	Datum	   *key_datums;
	Datum	   *id_datums;
	/* outside every initial population by birth date (hedis_measure_screen) */
	bool	   *outside;
	Jsonb	   *outside_outcome;	/* their outcome, if any is */
	Jsonb	  **outcomes;		/* each patient's outcome; NULL: error */
	Datum	   *name_datums;	/* run_patient.outcome */
	bool	   *name_nulls;
	Datum	   *inline_datums;	/* run_patient.result: the outcome, then the
								 * whole result (whole_result), when inline */
	bool	   *inline_nulls;
	Datum	   *error_datums;
	bool	   *error_nulls;
} BatchRows;

/*
 * An inline patient's whole result: its outcome with its "patient" member,
 * as the engine returns it (and hedis.run_result shows a named one).  Rare:
 * a hash taken by another outcome of the run, or too many outcomes.
 */
static Datum
whole_result(Jsonb *outcome, Datum patient_id)
{
	JsonbParseState *state = NULL;
	JsonbValue	key;
	JsonbValue	id;
	Jsonb	   *patient;

	key.type = jbvString;
	key.val.string.val = "patient";
	key.val.string.len = strlen("patient");
	id.type = jbvString;
	id.val.string.val = TextDatumGetCString(patient_id);
	id.val.string.len = strlen(id.val.string.val);
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	pushJsonbValue(&state, WJB_KEY, &key);
	pushJsonbValue(&state, WJB_VALUE, &id);
	patient = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
	return DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(outcome), JsonbPGetDatum(patient));
}

/*
 * Add the batch's results to a summary, each distinct outcome once with its
 * number of patients: walking every patient's result was 2 % of a run.
 */
static void
summarize_batch(const BatchRows *rows, RunSummary *summary)
{
	Jsonb	  **distinct = palloc(sizeof(Jsonb *) * rows->n);
	int64	   *times = palloc0(sizeof(int64) * rows->n);
	int			ndistinct = 0;

	for (int i = 0; i < rows->n; i++)
	{
		int			d;

		if (rows->outcomes[i] == NULL)
			continue;			/* an error */
		/* a named outcome is one pointer for the whole run; few per batch */
		for (d = ndistinct - 1; d >= 0 && distinct[d] != rows->outcomes[i]; d--)
			;
		if (d < 0)
		{
			d = ndistinct++;
			distinct[d] = rows->outcomes[i];
		}
		times[d]++;
	}
	for (int d = 0; d < ndistinct; d++)
		run_summary_add(summary, distinct[d], times[d]);
	pfree(distinct);
	pfree(times);
}

int
runs_execute(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
			 Datum *values, long count)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, argtypes);

		if (p == NULL)
			elog(ERROR, "could not prepare a statement of population runs: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "could not keep a statement of population runs");
		*plan = p;
	}
	return SPI_execute_plan(*plan, values, NULL, false, count);
}

/* Memory contexts reused by every batch of this backend's current run */
static MemoryContext batch_cxt = NULL;
static MemoryContext patient_cxt = NULL;

static void
runs_ensure_contexts(void)
{
	if (batch_cxt == NULL)
	{
		batch_cxt = AllocSetContextCreate(TopMemoryContext, "hedis run batch",
										  ALLOCSET_DEFAULT_SIZES);
		patient_cxt = AllocSetContextCreate(TopMemoryContext, "hedis run patient",
											ALLOCSET_DEFAULT_SIZES);
	}
}

/*
 * In a PG_CATCH block of an internal subtransaction begun in oldcxt under
 * oldowner: the error (copied into errcxt), the subtransaction rolled back,
 * and oldcxt and oldowner current again.  A query cancel or a termination
 * is thrown on: it must stop the run, not only what the subtransaction did.
 */
static ErrorData *
subtransaction_failed(MemoryContext errcxt, MemoryContext oldcxt, ResourceOwner oldowner)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(errcxt);
	edata = CopyErrorData();
	FlushErrorState();
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
		edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
		ReThrowError(edata);
	return edata;
}

/*
 * Evaluate the batch's patients from *next on inside one internal
 * subtransaction, up to the end of the batch or a patient's error.  An error
 * raised by the engine becomes that patient's error: the subtransaction is
 * rolled back, the patients before it keep their results (copies in
 * batch_cxt: evaluating only reads), and *next moves past it, for the caller
 * to go on in a new subtransaction.  A subtransaction per patient cost a
 * tenth of a run, and errors are rare.
 */
static void
evaluate_until_error(const RunSpec *spec, BatchRows *rows, int *next,
					 RunBatchOutcome *out)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile int i = *next;

	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		for (; i < rows->n; i++)
		{
			Jsonb	   *res;
			Jsonb	   *kept;
			int64		name;

			CHECK_FOR_INTERRUPTS();
			MemoryContextSwitchTo(patient_cxt);
			res = rows->outside[i] ? rows->outside_outcome :
				hedis_measure_evaluate_outcome(spec->measure_ref, rows->keys[i],
											   spec->period_start, spec->period_end);
			if (res == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("the engine returned no result for patient %lld",
								(long long) rows->keys[i])));
			kept = runs_outcome_name(res, &name);
			if (kept != NULL)
			{
				rows->name_datums[i] = Int64GetDatum(name);
				rows->name_nulls[i] = false;
				rows->inline_nulls[i] = true;
			}
			else
			{
				kept = (Jsonb *) MemoryContextAlloc(batch_cxt, VARSIZE(res));
				memcpy(kept, res, VARSIZE(res));
				rows->name_nulls[i] = true;
				rows->inline_datums[i] = JsonbPGetDatum(kept);
				rows->inline_nulls[i] = false;
			}
			rows->outcomes[i] = kept;
			rows->error_nulls[i] = true;
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(patient_cxt);
		}
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata = subtransaction_failed(batch_cxt, oldcxt, oldowner);

		MemoryContextReset(patient_cxt);
		rows->outcomes[i] = NULL;
		rows->name_nulls[i] = true;
		rows->inline_nulls[i] = true;
		MemoryContextSwitchTo(batch_cxt);
		rows->error_datums[i] = PointerGetDatum(cstring_to_text(
			psprintf("%s: %s", unpack_sql_state(edata->sqlerrcode),
					 edata->message ? edata->message : "unknown error")));
		MemoryContextSwitchTo(oldcxt);
		rows->error_nulls[i] = false;
		out->failed++;
		i++;
	}
	PG_END_TRY();
	*next = i;
}

/*
 * Which of the batch's patients are outside every initial population by
 * birth date, and their outcome.  In a subtransaction of its own: an error
 * (a measure that does not compile) screens none out, and each patient's
 * evaluation then meets it and records it, as without screening.
 */
static void
screen_batch(const RunSpec *spec, BatchRows *rows, const DateADT *birth_dates,
			 const bool *birth_nulls)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	rows->outside_outcome = NULL;
	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		MemoryContextSwitchTo(oldcxt);
		if (hedis_measure_screen(spec->measure_ref, spec->period_start, spec->period_end,
								 birth_dates, birth_nulls, rows->n, rows->outside) > 0)
			rows->outside_outcome = hedis_measure_outside_outcome(spec->measure_ref,
																  spec->period_start,
																  spec->period_end);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		(void) subtransaction_failed(oldcxt, oldcxt, oldowner);
		memset(rows->outside, 0, sizeof(bool) * rows->n);
		rows->outside_outcome = NULL;
	}
	PG_END_TRY();
}

bool
runs_read_spec(int64 run_id, RunSpec *spec, char **status)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(run_id)};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	int			rc;

	rc = SPI_execute_with_args("SELECT attempt, measure_ref, period_start, period_end,"
							   "       coalesce(max_patient_key, 0), status"
							   "  FROM hedis.run WHERE run_id = $1",
							   1, argtypes, args, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read run %lld: %s", (long long) run_id,
			 SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return false;

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	spec->run_id = run_id;
	spec->sync = false;
	spec->fresh = false;
	spec->attempt = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
	spec->measure_ref = SPI_getvalue(tup, desc, 2);
	spec->period_start = DatumGetDateADT(SPI_getbinval(tup, desc, 3, &isnull));
	spec->period_end = DatumGetDateADT(SPI_getbinval(tup, desc, 4, &isnull));
	d = SPI_getbinval(tup, desc, 5, &isnull);
	spec->max_patient_key = DatumGetInt64(d);
	if (status)
		*status = SPI_getvalue(tup, desc, 6);
	return true;
}

/*
 * Results of the run evaluated before its latest dispatch: results of this
 * dispatch are younger than it (the batches that wrote earlier ones
 * committed before the run could be resumed).
 */
bool
runs_has_earlier_results(int64 run_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(run_id)};
	bool		isnull;
	int			rc;

	rc = SPI_execute_with_args("SELECT EXISTS (SELECT 1 FROM hedis.run_patient r"
							   "                WHERE r.run_id = $1"
							   "                  AND r.evaluated_at < (SELECT dispatched_at FROM hedis.run"
							   "                                         WHERE run_id = $1))",
							   1, argtypes, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not look for earlier results of run %lld: %s",
			 (long long) run_id, SPI_result_code_string(rc));
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

RunBatchOutcome
runs_process_batch(const RunSpec *spec, RunShare *share, RunSummary *sync_summary)
{
	RunBatchOutcome out = {0, 0, true};
	MemoryContext oldcxt;
	BatchRows	rows;
	int			n;
	int			i;
	int			rc;
	DateADT    *birth_dates;
	bool	   *birth_nulls;

	runs_ensure_contexts();
	MemoryContextReset(batch_cxt);
	runs_outcomes_begin_batch(spec->run_id);

	/* the patients of this worker's next unit that has any */
	for (;;)
	{
		Oid			argtypes[3] = {INT8OID, INT8OID, INT8OID};
		Datum		args[3];
		int64		lo;
		int64		hi;

		if (!runs_share_next(share, spec->max_patient_key, &lo, &hi))
			return out;
		args[0] = Int64GetDatum(lo);
		args[1] = Int64GetDatum(hi);
		args[2] = Int64GetDatum(spec->run_id);
		if (spec->fresh)
			rc = runs_execute(&fresh_batch_keys_plan, fresh_batch_keys_sql, 2, argtypes, args, 0);
		else
			rc = runs_execute(&batch_keys_plan, batch_keys_sql, 3, argtypes, args, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "could not select the patients of run %lld: %s",
				 (long long) spec->run_id, SPI_result_code_string(rc));
		if (SPI_processed > 0)
			break;

		/* an empty unit: jump over the gap to the next existing key */
		{
			Oid			ntypes[1] = {INT8OID};
			Datum		nargs[1] = {Int64GetDatum(hi)};
			bool		isnull;
			Datum		next;

			rc = SPI_execute_with_args(next_key_sql, 1, ntypes, nargs, NULL, false, 1);
			if (rc != SPI_OK_SELECT)
				elog(ERROR, "could not find the next patient of run %lld: %s",
					 (long long) spec->run_id, SPI_result_code_string(rc));
			next = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			if (isnull)
				return out;
			runs_share_skip_to(share, DatumGetInt64(next));
		}
		CHECK_FOR_INTERRUPTS();
	}
	n = (int) SPI_processed;
	if (n == 0)
		return out;

	oldcxt = MemoryContextSwitchTo(batch_cxt);
	rows.n = n;
	rows.keys = palloc(sizeof(int64) * n);
	rows.key_datums = palloc(sizeof(Datum) * n);
	rows.id_datums = palloc(sizeof(Datum) * n);
	rows.outcomes = palloc(sizeof(Jsonb *) * n);
	rows.name_datums = palloc0(sizeof(Datum) * n);
	rows.name_nulls = palloc(sizeof(bool) * n);
	rows.inline_datums = palloc0(sizeof(Datum) * n);
	rows.inline_nulls = palloc(sizeof(bool) * n);
	rows.error_datums = palloc0(sizeof(Datum) * n);
	rows.error_nulls = palloc(sizeof(bool) * n);
	rows.outside = palloc(sizeof(bool) * n);
	birth_dates = palloc(sizeof(DateADT) * n);
	birth_nulls = palloc(sizeof(bool) * n);
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[i];

		rows.keys[i] = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		rows.key_datums[i] = Int64GetDatum(rows.keys[i]);
		rows.id_datums[i] = PointerGetDatum(cstring_to_text(SPI_getvalue(tup, SPI_tuptable->tupdesc, 2)));
		birth_dates[i] = DatumGetDateADT(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3,
													   &birth_nulls[i]));
	}
	SPI_freetuptable(SPI_tuptable);

	/*
	 * Patients outside every initial population by their birth date get
	 * the outcome of such a patient without being read; the others' index
	 * entries are read in one pass (keys ascending), not searched patient
	 * by patient, and forgotten before the batch writes.
	 */
	screen_batch(spec, &rows, birth_dates, birth_nulls);
	MemoryContextSwitchTo(oldcxt);
	hedis_engine_prefetch_patients(rows.keys, rows.outside, n);
	PG_TRY();
	{
		int			next = 0;

		while (next < n)
			evaluate_until_error(spec, &rows, &next, &out);
	}
	PG_FINALLY();
	{
		hedis_engine_prefetch_forget();
	}
	PG_END_TRY();
	out.patients = n;

	/*
	 * A background batch first checks (and share-locks) that the run is
	 * still this attempt, then counts its progress in its worker's row.  A
	 * synchronous run is one transaction of its own: it counts at the end.
	 */
	if (!spec->sync)
	{
		Oid			argtypes[4] = {INT8OID, INT4OID, INT8OID, INT8OID};
		Datum		args[4];

		args[0] = Int64GetDatum(spec->run_id);
		args[1] = Int32GetDatum(spec->attempt);
		rc = runs_execute(&batch_check_plan, batch_check_sql, 2, argtypes, args, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "could not check run %lld: %s",
				 (long long) spec->run_id, SPI_result_code_string(rc));
		if (SPI_processed == 0)
		{
			out.run_still_active = false;
			return out;
		}
		argtypes[1] = INT4OID;
		args[1] = Int32GetDatum(share->worker);
		args[2] = Int64GetDatum((int64) n);
		args[3] = Int64GetDatum((int64) out.failed);
		rc = runs_execute(&batch_progress_plan, batch_progress_sql, 4, argtypes, args, 0);
		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "could not update the progress of run %lld: %s",
				 (long long) spec->run_id, SPI_result_code_string(rc));
	}

	/*
	 * The outcomes first: a patient whose outcome could not be stored under
	 * its name gets it inline.
	 */
	runs_outcomes_store(spec->run_id);
	for (i = 0; i < n; i++)
	{
		if (!rows.name_nulls[i] && !runs_outcome_stored(DatumGetInt64(rows.name_datums[i])))
		{
			rows.name_nulls[i] = true;
			rows.inline_nulls[i] = false;
		}
		if (!rows.inline_nulls[i])
			rows.inline_datums[i] = whole_result(rows.outcomes[i], rows.id_datums[i]);
	}

	if (!runs_store_patient_rows(spec->run_id, spec->attempt, n, rows.key_datums,
								 rows.id_datums, rows.name_datums, rows.name_nulls,
								 rows.inline_datums, rows.inline_nulls,
								 rows.error_datums, rows.error_nulls))
	{
		/* run_patient has triggers or row security of the DBA's: through SQL */
		Oid			argtypes[7] = {INT8OID, INT4OID, INT8ARRAYOID, TEXTARRAYOID,
		INT8ARRAYOID, JSONBARRAYOID, TEXTARRAYOID};
		Datum		args[7];
		int			dims[1] = {n};
		int			lbs[1] = {1};

		oldcxt = MemoryContextSwitchTo(batch_cxt);
		args[0] = Int64GetDatum(spec->run_id);
		args[1] = Int32GetDatum(spec->attempt);
		args[2] = PointerGetDatum(construct_array(rows.key_datums, n, INT8OID, 8,
												  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		args[3] = PointerGetDatum(construct_array(rows.id_datums, n, TEXTOID, -1, false,
												  TYPALIGN_INT));
		args[4] = PointerGetDatum(construct_md_array(rows.name_datums, rows.name_nulls, 1,
													 dims, lbs, INT8OID, 8, FLOAT8PASSBYVAL,
													 TYPALIGN_DOUBLE));
		args[5] = PointerGetDatum(construct_md_array(rows.inline_datums, rows.inline_nulls, 1,
													 dims, lbs, JSONBOID, -1, false,
													 TYPALIGN_INT));
		args[6] = PointerGetDatum(construct_md_array(rows.error_datums, rows.error_nulls, 1,
													 dims, lbs, TEXTOID, -1, false,
													 TYPALIGN_INT));
		MemoryContextSwitchTo(oldcxt);

		rc = runs_execute(&batch_results_plan, batch_results_sql, 7, argtypes, args, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "could not store the results of run %lld: %s",
				 (long long) spec->run_id, SPI_result_code_string(rc));
	}

	/*
	 * A background batch counts its own results, in its own transaction; a
	 * synchronous run adds up all its batches.
	 */
	if (spec->sync)
		summarize_batch(&rows, sync_summary);
	else
	{
		RunSummary *summary = run_summary_create(batch_cxt);

		summarize_batch(&rows, summary);
		run_summary_store(summary, spec->run_id, share->worker);
	}

	return out;
}

