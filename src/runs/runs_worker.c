/*
 * runs_worker.c
 *		A background worker evaluating its share of one population run.
 *
 * Owner: runs.  Started by the scheduler (runs_launcher.c) with the run id
 * and (database, role, worker number, number of workers, attempt).  One
 * transaction per batch; stops as soon as the run is no longer 'running' in
 * the attempt it was started for (cancelled, interrupted, restarted).  The
 * last worker to finish marks the run done.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

#include "runs/runs.h"

/* Mark this worker's share finished; the last one marks the run done. */
static void
runs_worker_finish(const RunSpec *spec, int worker)
{
	Oid			types[3] = {INT8OID, INT4OID, INT4OID};
	Datum		values[3];
	int			rc;

	values[0] = Int64GetDatum(spec->run_id);
	values[1] = Int32GetDatum(worker);
	values[2] = Int32GetDatum(spec->attempt);

	/* the run row lock serialises finishing workers: the last sees all others */
	rc = SPI_execute_with_args("SELECT 1 FROM hedis.run WHERE run_id = $1 FOR UPDATE",
							   1, types, values, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not lock run %lld", (long long) spec->run_id);
	/* this worker's progress becomes the run's */
	rc = SPI_execute_with_args("UPDATE hedis.run r"
							   "   SET patients_done = r.patients_done + w.patients_done,"
							   "       patients_failed = r.patients_failed + w.patients_failed,"
							   "       updated_at = clock_timestamp()"
							   "  FROM hedis.run_worker w"
							   " WHERE r.run_id = $1 AND w.run_id = $1 AND w.worker = $2",
							   2, types, values, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not count worker %d of run %lld", worker, (long long) spec->run_id);
	rc = SPI_execute_with_args("UPDATE hedis.run_worker SET finished_at = clock_timestamp(),"
							   "       patients_done = 0, patients_failed = 0"
							   " WHERE run_id = $1 AND worker = $2",
							   2, types, values, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not finish worker %d of run %lld", worker, (long long) spec->run_id);
	rc = SPI_execute_with_args("UPDATE hedis.run"
							   "   SET status = 'done', finished_at = clock_timestamp(),"
							   "       updated_at = clock_timestamp()"
							   " WHERE run_id = $1 AND attempt = $3 AND status = 'running'"
							   "   AND NOT EXISTS (SELECT 1 FROM hedis.run_worker w"
							   "                    WHERE w.run_id = $1 AND w.finished_at IS NULL)",
							   3, types, values, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not complete run %lld", (long long) spec->run_id);
	if (SPI_processed > 0)
		ereport(LOG, (errmsg("pg_hedis run %lld done", (long long) spec->run_id)));
}

void
hedis_runs_worker_main(Datum arg)
{
	int64		run_id = DatumGetInt64(arg);
	RunWorkerArgs args;
	RunShare	share;
	char		appname[NAMEDATALEN];
	int			fresh = -1;		/* no results before this dispatch: 1, some: 0, not looked yet: -1 */

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	runs_share_init(&share, args.worker, args.n_workers, args.unit_keys,
					args.share_slot, args.share_ticket);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(args.dboid, args.roleoid, 0);

	snprintf(appname, sizeof(appname), "pg_hedis run %lld worker %d/%d",
			 (long long) run_id, args.worker, args.n_workers);
	pgstat_report_appname(appname);
	/* small per-patient statements: JIT would cost more than it saves */
	SetConfigOption("jit", "off", PGC_USERSET, PGC_S_SESSION);
	/*
	 * Whatever the role's or database's default: a batch's statements must
	 * see what the other workers committed meanwhile (the run's outcomes,
	 * runs_outcome.c; the run's status).
	 */
	SetConfigOption("default_transaction_isolation", "read committed",
					PGC_USERSET, PGC_S_SESSION);

	for (;;)
	{
		RunSpec		spec;
		char	   *status = NULL;
		RunBatchOutcome outcome;
		bool		stop = false;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, appname);

		if (!runs_read_spec(run_id, &spec, &status) ||
			strcmp(status, "running") != 0 || spec.attempt != args.attempt)
			stop = true;
		else
		{
			if (fresh < 0)
				fresh = runs_has_earlier_results(run_id) ? 0 : 1;
			spec.fresh = fresh == 1;
			outcome = runs_process_batch(&spec, &share, NULL);
			if (outcome.patients == 0)
			{
				runs_worker_finish(&spec, args.worker);
				stop = true;
			}
			else if (!outcome.run_still_active)
				stop = true;
		}

		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_stat(false);
		pgstat_report_activity(STATE_IDLE, NULL);
		if (stop)
			break;
	}
	proc_exit(0);
}
