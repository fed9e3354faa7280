/*
 * runs.h
 *		Population runs: declarations shared by the files of src/runs.
 *
 * Owner: runs (src/runs).  Private to src/runs; the rest of the extension
 * sees only SQL functions.  Measure logic is reached only through
 * engine/hedis_engine.h.
 */
#ifndef HEDIS_RUNS_H
#define HEDIS_RUNS_H

#include "postgres.h"

#include "executor/spi.h"
#include "utils/date.h"
#include "utils/jsonb.h"

/* GUCs (runs_launcher.c) */
extern int	hedis_runs_max_workers;
extern int	hedis_runs_batch_size;
extern int	hedis_runs_naptime_ms;
extern bool hedis_runs_preloaded;

/* What a run evaluates: read from hedis.run */
typedef struct RunSpec
{
	int64		run_id;
	int32		attempt;
	char	   *measure_ref;
	DateADT		period_start;
	DateADT		period_end;
	int64		max_patient_key;
	bool		sync;			/* hedis.run_now: one transaction, counted at the end */
	bool		fresh;			/* the attempt had no results before this dispatch */
} RunSpec;

/*
 * Counts per group, stratum and population of a set of compact results
 * (runs_summary.c).  A background batch stores its own in its transaction;
 * a synchronous run (sync_summary of runs_process_batch) adds up all its
 * batches and stores them at the end.
 */
typedef struct RunSummary RunSummary;
extern RunSummary *run_summary_create(MemoryContext mcxt);
extern void run_summary_add(RunSummary *s, Jsonb *result, int64 times);
extern void run_summary_store(RunSummary *s, int64 run_id, int worker);

/*
 * A worker's share of a run (runs_share.c): units of unit_keys consecutive
 * patient keys, claimed from a counter in shared memory (slot >= 0) or, if
 * the run has none, every n_workers-th unit from the worker's number on.
 */
typedef struct RunShare
{
	int			worker;
	int			n_workers;
	int64		unit_keys;
	int			slot;			/* the run's unit counter; -1: fixed shares */
	uint64		ticket;			/* of the counter, checked at every claim */
	uint64		next_unit;		/* fixed shares: this worker's next unit */
} RunShare;

extern Size runs_share_shmem_size(void);
extern void runs_share_shmem_init(void);
extern int	runs_share_counter_take(uint64 *ticket);
extern void runs_share_counter_release(int slot, uint64 ticket);
extern void runs_share_init(RunShare *share, int worker, int n_workers, int unit_keys,
							int slot, uint64 ticket);
extern bool runs_share_next(RunShare *share, int64 max_patient_key, int64 *lo, int64 *hi);
extern void runs_share_skip_to(RunShare *share, int64 key);

/* The distinct outcomes of a run, stored once each (runs_outcome.c) */
extern void runs_outcomes_begin_batch(int64 run_id);
extern Jsonb *runs_outcome_name(Jsonb *jb, int64 *name);
extern void runs_outcomes_store(int64 run_id);
extern bool runs_outcome_stored(int64 name);

/* Outcome of one batch */
typedef struct RunBatchOutcome
{
	int			patients;		/* patients evaluated (0: no more patients) */
	int			failed;			/* of which raised an error */
	bool		run_still_active;	/* false: run cancelled or superseded */
} RunBatchOutcome;

/*
 * Evaluate and store the next batch of this worker's share of the run: the
 * patients of its next unit of keys that has any (runs_exec.c) and no
 * result yet.  Must run inside a transaction with SPI connected.
 * Evaluation errors are caught per patient and stored as that patient's
 * error.
 */
extern RunBatchOutcome runs_process_batch(const RunSpec *spec, RunShare *share,
										  RunSummary *sync_summary);

/*
 * Execute one of the statements every batch runs through a plan prepared
 * on first use and kept by this backend (*plan caches it): parsing and
 * planning them per batch was 6 % of a worker's time.  SPI connected.
 */
extern int	runs_execute(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
						 Datum *values, long count);

/* Insert a batch's rows of hedis.run_patient directly (runs_store.c) */
extern bool runs_store_patient_rows(int64 run_id, int32 attempt, int n, const Datum *keys,
									const Datum *ids, const Datum *names,
									const bool *name_nulls, const Datum *inline_results,
									const bool *inline_nulls, const Datum *errors,
									const bool *error_nulls);

/* Read the run's spec (SPI connected); false if the run does not exist. */
extern bool runs_read_spec(int64 run_id, RunSpec *spec, char **status);

/* Had the run results before its current dispatch?  (SPI connected) */
extern bool runs_has_earlier_results(int64 run_id);

/* Shared memory and wake-up of the launcher (runs_launcher.c) */
extern void runs_request_launcher_wake(Oid dboid);

/* Background worker entry points (exported for the postmaster) */
extern PGDLLEXPORT void hedis_runs_launcher_main(Datum arg);
extern PGDLLEXPORT void hedis_runs_scheduler_main(Datum arg);
extern PGDLLEXPORT void hedis_runs_worker_main(Datum arg);

/* Arguments of a run worker, passed in bgw_extra */
typedef struct RunWorkerArgs
{
	Oid			dboid;
	Oid			roleoid;
	int32		worker;
	int32		n_workers;
	int32		attempt;
	int32		unit_keys;		/* keys per unit of the run's share */
	int32		share_slot;		/* RunShare.slot */
	uint64		share_ticket;	/* RunShare.ticket */
} RunWorkerArgs;

#endif							/* HEDIS_RUNS_H */
