/*
 * runs_share.c
 *		How the patients of a population run are shared among its workers.
 *
 * Owner: runs.  The keys 1..max_patient_key of a run are cut into units of
 * unit_keys consecutive keys; a worker evaluates one unit per batch.  Units
 * are claimed from a counter in shared memory, so a worker that gets less
 * CPU (this machine's two vCPUs also serve the WAL writer, the kernel's
 * writeback and the clients) takes fewer units and all workers finish
 * together.  Fixed shares (unit number modulo the number of workers) left
 * one worker up to 0.8 CPU-s behind the other in a run of 8 seconds.
 *
 * The scheduler takes a counter when it dispatches a run and gives it back
 * when all the run's workers have stopped; workers find it by slot number
 * and check its ticket (a number never reused).  Without a free counter,
 * and in hedis.run_now, the fixed shares are used: still correct, only
 * less even.  A scheduler that exits with a run still active (an error,
 * DROP EXTENSION) leaves its counter taken until the server restarts:
 * giving it back could pull it from under workers still running.  A crash or restart resets shared memory, and with it every
 * worker: a resumed run starts its units from the beginning and skips the
 * patients that have results.
 */
#include "postgres.h"

#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "runs/runs.h"

/* at most this many runs (one per database) share units through a counter */
#define RUNS_SHARE_COUNTERS 32

typedef struct RunShareCounter
{
	uint64		ticket;			/* 0: free; set and cleared under the mutex */
	pg_atomic_uint64 next_unit;
} RunShareCounter;

typedef struct RunShareState
{
	slock_t		mutex;
	uint64		last_ticket;
	RunShareCounter counters[RUNS_SHARE_COUNTERS];
} RunShareState;

static RunShareState *share_state = NULL;

Size
runs_share_shmem_size(void)
{
	return MAXALIGN(sizeof(RunShareState));
}

/* Called with AddinShmemInitLock held. */
void
runs_share_shmem_init(void)
{
	bool		found;
	int			i;

	share_state = ShmemInitStruct("pg_hedis run shares", sizeof(RunShareState), &found);
	if (found)
		return;
	SpinLockInit(&share_state->mutex);
	share_state->last_ticket = 0;
	for (i = 0; i < RUNS_SHARE_COUNTERS; i++)
	{
		share_state->counters[i].ticket = 0;
		pg_atomic_init_u64(&share_state->counters[i].next_unit, 0);
	}
}

/*
 * A counter for a run being dispatched: its slot (-1: none free, or no shared
 * memory) and ticket.
 */
int
runs_share_counter_take(uint64 *ticket)
{
	int			i;
	int			slot = -1;

	*ticket = 0;
	if (share_state == NULL)
		return -1;
	SpinLockAcquire(&share_state->mutex);
	for (i = 0; i < RUNS_SHARE_COUNTERS; i++)
	{
		if (share_state->counters[i].ticket == 0)
		{
			slot = i;
			*ticket = ++share_state->last_ticket;
			share_state->counters[i].ticket = *ticket;
			pg_atomic_write_u64(&share_state->counters[i].next_unit, 0);
			break;
		}
	}
	SpinLockRelease(&share_state->mutex);
	return slot;
}

/* Give a run's counter back: its workers have all stopped. */
void
runs_share_counter_release(int slot, uint64 ticket)
{
	if (share_state == NULL || slot < 0 || slot >= RUNS_SHARE_COUNTERS)
		return;
	SpinLockAcquire(&share_state->mutex);
	if (share_state->counters[slot].ticket == ticket)
		share_state->counters[slot].ticket = 0;
	SpinLockRelease(&share_state->mutex);
}

static RunShareCounter *
runs_share_counter(const RunShare *share)
{
	RunShareCounter *c;
	uint64		ticket;

	if (share->slot < 0)
		return NULL;
	if (share_state == NULL || share->slot >= RUNS_SHARE_COUNTERS)
		elog(ERROR, "pg_hedis run shares are not in shared memory");
	c = &share_state->counters[share->slot];
	SpinLockAcquire(&share_state->mutex);
	ticket = c->ticket;
	SpinLockRelease(&share_state->mutex);
	/* released only after every worker stopped: a mismatch is a bug */
	if (ticket != share->ticket)
		elog(ERROR, "the unit counter of this run was given back while its workers ran");
	return c;
}

void
runs_share_init(RunShare *share, int worker, int n_workers, int unit_keys,
				int slot, uint64 ticket)
{
	share->worker = worker;
	share->n_workers = Max(n_workers, 1);
	share->unit_keys = Max(unit_keys, 1);
	share->slot = slot;
	share->ticket = ticket;
	share->next_unit = worker;
}

/*
 * The keys (*lo, *hi] of this worker's next unit; false when the run has no
 * unit left for it.
 */
bool
runs_share_next(RunShare *share, int64 max_patient_key, int64 *lo, int64 *hi)
{
	RunShareCounter *c = runs_share_counter(share);
	uint64		unit;

	if (c != NULL)
		unit = pg_atomic_fetch_add_u64(&c->next_unit, 1);
	else
	{
		unit = share->next_unit;
		share->next_unit += share->n_workers;
	}
	/* unit u holds the keys (u * unit_keys, (u + 1) * unit_keys] */
	if (max_patient_key < 1 ||
		unit > (uint64) ((max_patient_key - 1) / share->unit_keys))
		return false;
	*lo = (int64) unit * share->unit_keys;
	*hi = Min(*lo + share->unit_keys, max_patient_key);
	return true;
}

/*
 * The units before the one holding key are empty (a gap in the keys, left by
 * deleted patients): move on to it instead of claiming them one by one.
 */
void
runs_share_skip_to(RunShare *share, int64 key)
{
	uint64		target = (uint64) ((key - 1) / share->unit_keys);
	RunShareCounter *c = runs_share_counter(share);

	if (key < 1)
		return;
	if (c != NULL)
	{
		uint64		cur = pg_atomic_read_u64(&c->next_unit);

		/* another worker may move it on meanwhile: never move it back */
		while (cur < target &&
			   !pg_atomic_compare_exchange_u64(&c->next_unit, &cur, target))
			;
	}
	else if (share->next_unit < target)
	{
		uint64		n = share->n_workers;

		/* the first unit >= target that is still this worker's */
		share->next_unit = target + (share->worker + n - target % n) % n;
	}
}
