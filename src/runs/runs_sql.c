/*
 * runs_sql.c
 *		SQL-callable functions of population runs written in C:
 *		hedis.run_now() and the launcher wake-up used by hedis.run().
 *
 * Owner: runs.  The queue itself (hedis.run, cancel_run, resume_run,
 * measure_report) is plpgsql in src/sql/60_runs.sql.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"

#include "runs/runs.h"

static bool wake_callback_registered = false;
static bool wake_at_commit = false;

static void
runs_wake_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if (wake_at_commit)
				runs_request_launcher_wake(MyDatabaseId);
			wake_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

PG_FUNCTION_INFO_V1(hedis_runs_wake_on_commit);
Datum
hedis_runs_wake_on_commit(PG_FUNCTION_ARGS)
{
	if (!hedis_runs_preloaded)
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_hedis background workers are not running: the run stays queued"),
				 errhint("Add pg_hedis to shared_preload_libraries and restart the server, "
						 "or evaluate small populations with hedis.run_now().")));
	if (!wake_callback_registered)
	{
		RegisterXactCallback(runs_wake_xact_callback, NULL);
		wake_callback_registered = true;
	}
	wake_at_commit = true;
	PG_RETURN_VOID();
}

/*
 * hedis.run_now(measure, period_start, period_end): the whole run in the
 * calling transaction, one worker share (all patients), same tables as a
 * background run.  Its rows become visible when the caller commits.
 */
PG_FUNCTION_INFO_V1(hedis_run_now);
Datum
hedis_run_now(PG_FUNCTION_ARGS)
{
	Oid			types[3] = {TEXTOID, DATEOID, DATEOID};
	Datum		values[3];
	RunSpec		spec;
	RunSummary *summary;
	int64		run_id;
	int64		total;
	int64		done = 0;
	int64		failed = 0;
	RunShare	share;
	int			last_decile = 0;
	bool		isnull;
	int			rc;
	int			save_nestlevel;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("measure and measurement period must not be null")));
	if (PG_GETARG_DATEADT(1) > PG_GETARG_DATEADT(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid measurement period: start is after end")));

	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = PG_GETARG_DATUM(2);

	/*
	 * Per-patient and per-batch statements are small: JIT compilation (their
	 * set-returning functions inflate the estimates) would cost more than
	 * the statements themselves.  Restored when this function returns.
	 */
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	SPI_connect();
	rc = SPI_execute_with_args(
		"INSERT INTO hedis.run (measure, measure_ref, period_start, period_end, mode, status,"
		"                       workers, knowledge_generation, max_patient_key, patients_total,"
		"                       queued_by, started_at, dispatched_at, updated_at)"
		"SELECT $1, hedis._runs_resolve_measure($1), $2, $3, 'sync', 'running', 1,"
		"       (SELECT generation FROM hedis.knowledge_state), p.max_key, p.n,"
		"       (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = session_user),"
		"       clock_timestamp(), clock_timestamp(), clock_timestamp()"
		"  FROM (SELECT coalesce(max(patient_key), 0) AS max_key, count(*) AS n"
		"          FROM hedis.patient) p"
		" RETURNING run_id, patients_total",
		3, types, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not create the run: %s", SPI_result_code_string(rc));
	run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	total = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

	if (!runs_read_spec(run_id, &spec, NULL))
		elog(ERROR, "run %lld vanished", (long long) run_id);
	spec.sync = true;
	spec.fresh = true;			/* a run of its own, made just now */
	summary = run_summary_create(CurrentMemoryContext);
	runs_share_init(&share, 0, 1, hedis_runs_batch_size, -1, 0);

	ereport(NOTICE,
			(errmsg("run %lld: evaluating %s for %lld patients",
					(long long) run_id, spec.measure_ref, (long long) total)));

	for (;;)
	{
		RunBatchOutcome outcome;
		int			decile;

		CHECK_FOR_INTERRUPTS();
		outcome = runs_process_batch(&spec, &share, summary);
		if (outcome.patients == 0)
			break;
		if (!outcome.run_still_active)
			elog(ERROR, "run %lld changed state during hedis.run_now()", (long long) run_id);
		done += outcome.patients;
		failed += outcome.failed;
		decile = total > 0 ? (int) (done * 10 / total) : 10;
		if (decile > last_decile && done < total)
		{
			ereport(NOTICE,
					(errmsg("run %lld: %lld of %lld patients evaluated (%d%%)",
							(long long) run_id, (long long) done, (long long) total,
							decile * 10)));
			last_decile = decile;
		}
	}

	run_summary_store(summary, run_id, 0);
	{
		Oid			t[3] = {INT8OID, INT8OID, INT8OID};
		Datum		v[3] = {Int64GetDatum(run_id), Int64GetDatum(done), Int64GetDatum(failed)};

		rc = SPI_execute_with_args("UPDATE hedis.run SET status = 'done',"
								   "       patients_done = $2, patients_failed = $3,"
								   "       finished_at = clock_timestamp(), updated_at = clock_timestamp()"
								   " WHERE run_id = $1", 3, t, v, NULL, false, 0);
		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "could not complete run %lld", (long long) run_id);
	}
	SPI_finish();
	AtEOXact_GUC(true, save_nestlevel);

	ereport(NOTICE,
			(errmsg("run %lld: done, %lld patients evaluated, %lld with errors",
					(long long) run_id, (long long) done, (long long) failed)));
	PG_RETURN_INT64(run_id);
}
