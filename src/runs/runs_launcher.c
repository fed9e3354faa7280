/*
 * runs_launcher.c
 *		GUCs, shared memory, the static launcher and the per-database
 *		scheduler of population runs.
 *
 * Owner: runs.  Three kinds of background worker:
 *   launcher   one per cluster, static (shared_preload_libraries).  Connected
 *              to no database; starts a scheduler for a database when a run
 *              is queued there (woken through shared memory at commit) and,
 *              once at start, for every database (to resume the queue and to
 *              mark runs cut short by a crash or restart as interrupted).
 *   scheduler  one per database with work; exits when that database has no
 *              pg_hedis or nothing to do.  Takes queued runs by priority, one
 *              run at a time, and starts hedis.max_workers run workers.
 *   worker     runs_worker.c: evaluates its share of one run.
 * Lock order: RunsShared->mutex (spinlock) is never held while calling out.
 */
#include "postgres.h"

#include <unistd.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "common/hedis_init.h"
#include "runs/runs.h"

#define RUNS_MAX_WAKE 32
#define RUNS_SCHEDULER_IDLE_EXIT_MS 5000
/* advisory lock key of "the scheduler of this database" */
#define RUNS_SCHEDULER_LOCK_KEY 4848454901

int			hedis_runs_max_workers = 2;
int			hedis_runs_batch_size = 2000;
int			hedis_runs_naptime_ms = 1000;
bool		hedis_runs_preloaded = false;

typedef struct RunsShared
{
	slock_t		mutex;
	Latch	   *launcher_latch;
	bool		wake_all;
	int			nwake;
	Oid			wake[RUNS_MAX_WAKE];
} RunsShared;

static RunsShared *runs_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
runs_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(RunsShared)));
	RequestAddinShmemSpace(runs_share_shmem_size());
}

static void
runs_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	runs_shared = ShmemInitStruct("pg_hedis runs", sizeof(RunsShared), &found);
	if (!found)
	{
		SpinLockInit(&runs_shared->mutex);
		runs_shared->launcher_latch = NULL;
		runs_shared->wake_all = false;
		runs_shared->nwake = 0;
	}
	runs_share_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

/* Ask the launcher to (re)start the scheduler of database dboid. */
void
runs_request_launcher_wake(Oid dboid)
{
	Latch	   *latch;
	int			i;
	bool		known = false;

	if (runs_shared == NULL)
		return;
	SpinLockAcquire(&runs_shared->mutex);
	for (i = 0; i < runs_shared->nwake; i++)
		if (runs_shared->wake[i] == dboid)
			known = true;
	if (!known)
	{
		if (runs_shared->nwake < RUNS_MAX_WAKE)
			runs_shared->wake[runs_shared->nwake++] = dboid;
		else
			runs_shared->wake_all = true;
	}
	latch = runs_shared->launcher_latch;
	SpinLockRelease(&runs_shared->mutex);
	if (latch)
		SetLatch(latch);
}

static void
runs_launcher_detach(int code, Datum arg)
{
	if (runs_shared == NULL)
		return;
	SpinLockAcquire(&runs_shared->mutex);
	runs_shared->launcher_latch = NULL;
	SpinLockRelease(&runs_shared->mutex);
}

/* Connectable, non-template databases (shared catalog: no connection needed) */
static List *
runs_list_databases(void)
{
	List	   *dbs = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext resultcxt = CurrentMemoryContext;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext oldcxt;

		if (!db->datallowconn || db->datistemplate)
			continue;
		oldcxt = MemoryContextSwitchTo(resultcxt);
		dbs = lappend_oid(dbs, db->oid);
		MemoryContextSwitchTo(oldcxt);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return dbs;
}

static BackgroundWorkerHandle *
runs_start_scheduler(Oid dboid)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_hedis");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "hedis_runs_scheduler_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_hedis run scheduler for database %u", dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "pg_hedis run scheduler");
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return NULL;
	return handle;
}

typedef struct SchedulerSlot
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
} SchedulerSlot;

void
hedis_runs_launcher_main(Datum arg)
{
	List	   *pending = NIL;	/* databases waiting for a scheduler */
	List	   *running = NIL;	/* SchedulerSlot * */
	bool		warned_no_slot = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("pg_hedis launcher");

	SpinLockAcquire(&runs_shared->mutex);
	runs_shared->launcher_latch = MyLatch;
	runs_shared->wake_all = true;	/* first pass: every database */
	SpinLockRelease(&runs_shared->mutex);
	before_shmem_exit(runs_launcher_detach, (Datum) 0);

	ereport(LOG, (errmsg("pg_hedis run launcher started")));

	for (;;)
	{
		bool		all = false;
		Oid			woken[RUNS_MAX_WAKE];
		int			nwoken;
		int			i;
		ListCell   *lc;
		MemoryContext oldcxt;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		SpinLockAcquire(&runs_shared->mutex);
		all = runs_shared->wake_all;
		nwoken = runs_shared->nwake;
		memcpy(woken, runs_shared->wake, sizeof(Oid) * nwoken);
		runs_shared->wake_all = false;
		runs_shared->nwake = 0;
		SpinLockRelease(&runs_shared->mutex);

		oldcxt = MemoryContextSwitchTo(TopMemoryContext);
		if (all)
		{
			List	   *dbs = runs_list_databases();

			foreach(lc, dbs)
				pending = list_append_unique_oid(pending, lfirst_oid(lc));
			list_free(dbs);
		}
		for (i = 0; i < nwoken; i++)
			pending = list_append_unique_oid(pending, woken[i]);

		/* forget schedulers that have exited */
		foreach(lc, running)
		{
			SchedulerSlot *slot = lfirst(lc);
			pid_t		pid;

			if (GetBackgroundWorkerPid(slot->handle, &pid) == BGWH_STOPPED)
			{
				pfree(slot->handle);
				pfree(slot);
				running = foreach_delete_current(running, lc);
			}
		}

		/*
		 * Start a scheduler for each pending database that has none.  A
		 * database woken while its scheduler runs stays pending: should that
		 * scheduler exit without having seen the new run, the next one will.
		 */
		foreach(lc, pending)
		{
			Oid			dboid = lfirst_oid(lc);
			bool		busy = false;
			ListCell   *lc2;
			BackgroundWorkerHandle *handle;
			SchedulerSlot *slot;

			foreach(lc2, running)
				if (((SchedulerSlot *) lfirst(lc2))->dboid == dboid)
					busy = true;
			if (busy)
				continue;
			handle = runs_start_scheduler(dboid);
			if (handle == NULL)
			{
				if (!warned_no_slot)
					ereport(WARNING,
							(errmsg("pg_hedis could not start a run scheduler: no free background worker slot"),
							 errhint("Increase max_worker_processes; the launcher retries every hedis.launcher_naptime.")));
				warned_no_slot = true;
				break;
			}
			warned_no_slot = false;
			slot = palloc(sizeof(SchedulerSlot));
			slot->dboid = dboid;
			slot->handle = handle;
			running = lappend(running, slot);
			pending = foreach_delete_current(pending, lc);
		}
		MemoryContextSwitchTo(oldcxt);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 hedis_runs_naptime_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ---------------------------------------------------------------- scheduler */

typedef struct ActiveRun
{
	int64		run_id;
	int			n_workers;
	int32		attempt;
	Oid			roleoid;
	int32		unit_keys;		/* keys per unit of the workers' shares */
	int			share_slot;		/* the run's unit counter (-1: fixed shares) */
	uint64		share_ticket;
	BackgroundWorkerHandle **handles;	/* NULL: not started yet */
} ActiveRun;

static BackgroundWorkerHandle *
runs_start_worker(const ActiveRun *run, int worker_no)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	RunWorkerArgs args;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_hedis");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "hedis_runs_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_hedis run %lld worker %d/%d",
			 (long long) run->run_id, worker_no, run->n_workers);
	snprintf(worker.bgw_type, BGW_MAXLEN, "pg_hedis run worker");
	worker.bgw_main_arg = Int64GetDatum(run->run_id);
	worker.bgw_notify_pid = MyProcPid;
	args.dboid = MyDatabaseId;
	args.roleoid = run->roleoid;
	args.worker = worker_no;
	args.n_workers = run->n_workers;
	args.attempt = run->attempt;
	args.unit_keys = run->unit_keys;
	args.share_slot = run->share_slot;
	args.share_ticket = run->share_ticket;
	StaticAssertStmt(sizeof(RunWorkerArgs) <= BGW_EXTRALEN, "RunWorkerArgs too large");
	memcpy(worker.bgw_extra, &args, sizeof(args));
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return NULL;
	return handle;
}

static void
runs_xact_begin(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
runs_xact_end(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

static void
runs_exec(const char *sql, int nargs, Oid *types, Datum *values, int expected)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (rc != expected)
		elog(ERROR, "pg_hedis scheduler query failed (%s): %s",
			 SPI_result_code_string(rc), sql);
}

/*
 * Runs left 'running' whose workers are all gone (server crash or restart,
 * a scheduler that died) are interrupted.  The active run of this scheduler
 * is checked through its worker handles instead.
 */
static void
runs_mark_orphans_interrupted(int64 active_run_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(active_run_id)};

	runs_exec("UPDATE hedis.run r"
			  "   SET status = 'interrupted', updated_at = clock_timestamp(),"
			  "       message = 'its workers are gone (server restart, crash or termination)'"
			  " WHERE r.status = 'running' AND r.mode = 'background' AND r.run_id <> $1"
			  "   AND NOT EXISTS (SELECT 1 FROM hedis.run_worker w"
			  "                     JOIN pg_catalog.pg_stat_activity a ON a.pid = w.pid"
			  "                    WHERE w.run_id = r.run_id AND w.finished_at IS NULL"
			  "                      AND a.backend_type = 'pg_hedis run worker')",
			  1, types, values, SPI_OK_UPDATE);
	if (SPI_processed > 0)
		ereport(LOG,
				(errmsg("pg_hedis marked %llu run(s) as interrupted",
						(unsigned long long) SPI_processed),
				 errhint("Resume them with hedis.resume_run(run_id).")));
}

/* Take the next queued run, if any, and record its dispatch.  */
static bool
runs_dispatch_next(ActiveRun *run)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];
	bool		isnull;
	int			rc;

	rc = SPI_execute("SELECT run_id FROM hedis.run WHERE status = 'queued'"
					 " ORDER BY priority DESC, run_id LIMIT 1 FOR UPDATE SKIP LOCKED",
					 false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read the run queue: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return false;
	run->run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1, &isnull));
	run->n_workers = hedis_runs_max_workers;

	values[0] = Int64GetDatum(run->run_id);
	values[1] = Int32GetDatum(run->n_workers);
	runs_exec("UPDATE hedis.run"
			  "   SET status = 'running', workers = $2,"
			  "       knowledge_generation = coalesce(knowledge_generation,"
			  "                 (SELECT generation FROM hedis.knowledge_state)),"
			  "       max_patient_key = coalesce(max_patient_key,"
			  "                 (SELECT coalesce(max(patient_key), 0) FROM hedis.patient)),"
			  "       started_at = coalesce(started_at, clock_timestamp()),"
			  "       dispatched_at = clock_timestamp(), updated_at = clock_timestamp(),"
			  "       done_at_dispatch = patients_done, finished_at = NULL, message = NULL"
			  " WHERE run_id = $1",
			  2, types, values, SPI_OK_UPDATE);
	runs_exec("UPDATE hedis.run"
			  "   SET patients_total = coalesce(patients_total,"
			  "         (SELECT count(*) FROM hedis.patient p WHERE p.patient_key <= max_patient_key))"
			  " WHERE run_id = $1 RETURNING attempt, queued_by",
			  1, types, values, SPI_OK_UPDATE_RETURNING);
	run->attempt = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	run->roleoid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 2, &isnull));
	runs_exec("DELETE FROM hedis.run_worker WHERE run_id = $1",
			  1, types, values, SPI_OK_DELETE);
	runs_exec("INSERT INTO hedis.run_worker (run_id, worker)"
			  " SELECT $1, generate_series(0, $2 - 1)",
			  2, types, values, SPI_OK_INSERT);

	/* one unit of keys per batch; units claimed from a counter if one is free */
	run->unit_keys = hedis_runs_batch_size;
	run->share_slot = runs_share_counter_take(&run->share_ticket);
	run->handles = MemoryContextAllocZero(TopMemoryContext,
										  sizeof(BackgroundWorkerHandle *) * run->n_workers);
	return true;
}

/* Start the workers of the active run that are not started yet. */
static void
runs_start_missing_workers(ActiveRun *run)
{
	int			i;

	for (i = 0; i < run->n_workers; i++)
	{
		BackgroundWorkerHandle *h;
		pid_t		pid;

		if (run->handles[i] != NULL)
			continue;
		h = runs_start_worker(run, i);
		if (h == NULL)
		{
			ereport(WARNING,
					(errmsg("pg_hedis run %lld: no free background worker slot for worker %d",
							(long long) run->run_id, i),
					 errhint("Increase max_worker_processes or lower hedis.max_workers; "
							 "the scheduler retries every hedis.launcher_naptime.")));
			return;
		}
		run->handles[i] = h;
		if (WaitForBackgroundWorkerStartup(h, &pid) == BGWH_STARTED)
		{
			Oid			types[3] = {INT8OID, INT4OID, INT4OID};
			Datum		values[3];

			values[0] = Int64GetDatum(run->run_id);
			values[1] = Int32GetDatum(i);
			values[2] = Int32GetDatum((int32) pid);
			runs_xact_begin();
			runs_exec("UPDATE hedis.run_worker SET pid = $3, started_at = clock_timestamp()"
					  " WHERE run_id = $1 AND worker = $2",
					  3, types, values, SPI_OK_UPDATE);
			runs_xact_end();
		}
	}
}

/* true while some worker of the active run may still be running */
static bool
runs_active_run_alive(ActiveRun *run)
{
	int			i;

	for (i = 0; i < run->n_workers; i++)
	{
		pid_t		pid;

		if (run->handles[i] == NULL)
			return true;		/* still to be started */
		if (GetBackgroundWorkerPid(run->handles[i], &pid) != BGWH_STOPPED)
			return true;
	}
	return false;
}

static void
runs_forget_active_run(ActiveRun *run)
{
	int			i;

	for (i = 0; i < run->n_workers; i++)
		if (run->handles[i])
			pfree(run->handles[i]);
	pfree(run->handles);
	run->handles = NULL;
	runs_share_counter_release(run->share_slot, run->share_ticket);
	run->share_slot = -1;
	run->run_id = 0;
}

static bool
runs_extension_present(void)
{
	bool		isnull;
	int			rc;

	rc = SPI_execute("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension"
					 "                WHERE extname = 'pg_hedis')", true, 1);
	return rc == SPI_OK_SELECT &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

void
hedis_runs_scheduler_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	ActiveRun	run = {0};
	TimestampTz idle_since = GetCurrentTimestamp();

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("pg_hedis scheduler");

	/* is pg_hedis installed here, and is this the only scheduler? */
	runs_xact_begin();
	{
		bool		isnull;
		int			rc;

		if (!runs_extension_present())
		{
			runs_xact_end();
			proc_exit(0);
		}
		rc = SPI_execute("SELECT pg_catalog.pg_try_advisory_lock(" CppAsString2(RUNS_SCHEDULER_LOCK_KEY) ")",
						 false, 1);
		if (rc != SPI_OK_SELECT ||
			!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		{
			runs_xact_end();
			proc_exit(0);
		}
	}
	runs_xact_end();

	for (;;)
	{
		bool		busy = false;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		runs_xact_begin();
		pgstat_report_activity(STATE_RUNNING, "pg_hedis scheduler");
		if (!runs_extension_present())
		{
			/* DROP EXTENSION: the run tables are gone, and so is the work */
			runs_xact_end();
			proc_exit(0);
		}
		runs_mark_orphans_interrupted(run.run_id);

		if (run.run_id != 0 && !runs_active_run_alive(&run))
		{
			Oid			types[1] = {INT8OID};
			Datum		values[1] = {Int64GetDatum(run.run_id)};

			/* workers that finish normally mark the run done; the others did not */
			runs_exec("UPDATE hedis.run SET status = 'interrupted', updated_at = clock_timestamp(),"
					  "       message = 'a worker exited before finishing its share'"
					  " WHERE run_id = $1 AND status = 'running'",
					  1, types, values, SPI_OK_UPDATE);
			if (SPI_processed > 0)
				ereport(WARNING,
						(errmsg("pg_hedis run %lld was interrupted: a worker exited before finishing its share",
								(long long) run.run_id),
						 errhint("See the server log for the worker's error; resume with hedis.resume_run(%lld).",
								 (long long) run.run_id)));
			runs_forget_active_run(&run);
		}

		if (run.run_id == 0)
			busy = runs_dispatch_next(&run);
		else
			busy = true;
		runs_xact_end();
		pgstat_report_activity(STATE_IDLE, NULL);

		if (run.run_id != 0)
			runs_start_missing_workers(&run);

		if (busy)
			idle_since = GetCurrentTimestamp();
		else if (TimestampDifferenceExceeds(idle_since, GetCurrentTimestamp(),
											RUNS_SCHEDULER_IDLE_EXIT_MS))
			proc_exit(0);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 hedis_runs_naptime_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ---------------------------------------------------------------- init */

void
hedis_runs_init(void)
{
	BackgroundWorker worker;

	DefineCustomIntVariable("hedis.max_workers",
							"Background workers that share one population run.",
							"Read when a run is dispatched; the workers take units of hedis.run_batch_size patient keys in turn until none is left.",
							&hedis_runs_max_workers,
							2, 1, 64,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("hedis.run_batch_size",
							"Patients evaluated per transaction of a population run.",
							"A run's patient keys are cut into units of this many keys when the run is dispatched (or hedis.run_now starts); one unit per batch.",
							&hedis_runs_batch_size,
							2000, 1, 100000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("hedis.launcher_naptime",
							"How often the run launcher and schedulers look for work.",
							NULL,
							&hedis_runs_naptime_ms,
							1000, 10, 600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	hedis_runs_preloaded = true;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = runs_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = runs_shmem_startup;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_hedis");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "hedis_runs_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_hedis run launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "pg_hedis run launcher");
	RegisterBackgroundWorker(&worker);
}
