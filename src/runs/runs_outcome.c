/*
 * runs_outcome.c
 *		The distinct outcomes of a population run, named and stored once.
 *
 * Owner: runs.  A patient's outcome is the engine's compact result without
 * the patient's id; the patients of a measure share a handful of them
 * (CMS125 over generated patients: 7 per run).  A run stores
 * each outcome once in hedis.run_outcome, named by a 64-bit hash of its
 * bytes, and each patient's row names it (src/sql/60_runs.sql).
 *
 * This backend remembers the outcomes of its current run.  A batch names
 * its patients' outcomes from that memory and, before storing the patients,
 * stores the outcomes it used that are not known to be stored yet (INSERT
 * ... ON CONFLICT DO NOTHING, then a read that checks the stored outcome is
 * the same: another worker may have stored it, or, once in 2^64, a
 * different outcome with the same hash).  An outcome that cannot be named
 * so is "inline": its patients get their whole result in their own row.
 * What is known to be stored is forgotten when a transaction aborts.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "runs/runs.h"

/*
 * At most this many outcomes per run are named (a stratifier whose values
 * are per patient could make every result distinct): the others are stored
 * inline, and memory stays bounded.
 */
#define RUNS_OUTCOMES_MAX 4096

typedef enum OutcomeState
{
	OUTCOME_NEW,				/* named here; not known to be stored */
	OUTCOME_STORED,				/* stored by a committed or the current transaction */
	OUTCOME_INLINE				/* its hash names another outcome in the run */
} OutcomeState;

typedef struct OutcomeEntry
{
	uint64		hash;			/* the key: the outcome's name */
	Jsonb	   *jb;
	OutcomeState state;
	int64		batch;			/* last batch that used it */
} OutcomeEntry;

/* the outcomes of this backend's current run, by name (dynahash: entries stay put) */
static MemoryContext outcome_cxt = NULL;
static HTAB *outcomes = NULL;
static int64 outcome_run = 0;
static int64 current_batch = 0;
static OutcomeEntry *last_named = NULL;	/* most patients repeat the last outcome */
static bool callback_registered = false;

static void
outcomes_forget(void)
{
	if (outcome_cxt)
		MemoryContextReset(outcome_cxt);	/* the table lives in it too */
	outcomes = NULL;
	outcome_run = 0;
	last_named = NULL;
}

/* what was stored by an aborted transaction is not stored */
static void
outcomes_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		outcomes_forget();
}

void
runs_outcomes_begin_batch(int64 run_id)
{
	if (!callback_registered)
	{
		RegisterXactCallback(outcomes_xact_callback, NULL);
		callback_registered = true;
	}
	if (outcome_cxt == NULL)
		outcome_cxt = AllocSetContextCreate(TopMemoryContext, "hedis run outcomes",
											ALLOCSET_SMALL_SIZES);
	if (run_id != outcome_run)
		outcomes_forget();
	if (outcomes == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(OutcomeEntry);
		ctl.hcxt = outcome_cxt;
		outcomes = hash_create("hedis run outcomes", 64, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		outcome_run = run_id;
	}
	current_batch++;
}

static bool
same_jsonb(const Jsonb *a, const Jsonb *b)
{
	return VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0;
}

/*
 * Name a patient's outcome (jb, any memory context).  Returns the outcome
 * as this backend keeps it (valid for the run) and its name, or NULL if the
 * patient's result must be stored inline.
 */
Jsonb *
runs_outcome_name(Jsonb *jb, int64 *name)
{
	OutcomeEntry *e = last_named;

	/* not the same as the last patient's: look it up by its hash */
	if (e == NULL || !same_jsonb(e->jb, jb))
	{
		uint64		hash = hash_bytes_extended((const unsigned char *) jb, VARSIZE(jb), 0);
		bool		found;

		e = hash_search(outcomes, &hash, HASH_FIND, NULL);
		if (e == NULL)
		{
			if (hash_get_num_entries(outcomes) >= RUNS_OUTCOMES_MAX)
				return NULL;
			e = hash_search(outcomes, &hash, HASH_ENTER, &found);
			e->jb = MemoryContextAlloc(outcome_cxt, VARSIZE(jb));
			memcpy(e->jb, jb, VARSIZE(jb));
			e->state = OUTCOME_NEW;
		}
		else if (!same_jsonb(e->jb, jb))
			return NULL;		/* another outcome of the run has this hash */
	}
	if (e->state == OUTCOME_INLINE)
		return NULL;
	e->batch = current_batch;
	last_named = e;
	*name = (int64) e->hash;
	return e->jb;
}

/* May the patients named name keep that name?  (after runs_outcomes_store) */
bool
runs_outcome_stored(int64 name)
{
	uint64		hash = (uint64) name;
	OutcomeEntry *e = hash_search(outcomes, &hash, HASH_FIND, NULL);

	return e != NULL && e->state == OUTCOME_STORED;
}

/*
 * Store the outcomes this batch used that are not known to be stored, and
 * check what is stored under their names.  SPI connected, in the batch's
 * transaction, before its patients are stored.
 */
void
runs_outcomes_store(int64 run_id)
{
	Datum	   *names;
	Datum	   *results;
	int			n = 0;
	int			rc;
	Oid			types[3] = {INT8OID, INT8ARRAYOID, JSONBARRAYOID};
	Datum		args[3];

	HASH_SEQ_STATUS seq;
	OutcomeEntry *e;

	names = palloc(sizeof(Datum) * Max(hash_get_num_entries(outcomes), 1));
	results = palloc(sizeof(Datum) * Max(hash_get_num_entries(outcomes), 1));
	hash_seq_init(&seq, outcomes);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->batch == current_batch && e->state == OUTCOME_NEW)
		{
			names[n] = Int64GetDatum((int64) e->hash);
			results[n] = JsonbPGetDatum(e->jb);
			n++;
		}
	if (n == 0)
		return;

	args[0] = Int64GetDatum(run_id);
	args[1] = PointerGetDatum(construct_array(names, n, INT8OID, 8, FLOAT8PASSBYVAL,
											  TYPALIGN_DOUBLE));
	args[2] = PointerGetDatum(construct_array(results, n, JSONBOID, -1, false, TYPALIGN_INT));
	rc = SPI_execute_with_args("INSERT INTO hedis.run_outcome (run_id, outcome, result)"
							   " SELECT $1, u.o, u.r FROM unnest($2, $3) AS u(o, r)"
							   " ON CONFLICT (run_id, outcome) DO NOTHING",
							   3, types, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not store the outcomes of run %lld: %s",
			 (long long) run_id, SPI_result_code_string(rc));

	/*
	 * Read back what is stored under those names (a new statement: sees an
	 * outcome another worker committed meanwhile): the same outcome, or
	 * another one with the same hash.
	 */
	rc = SPI_execute_with_args("SELECT u.o, s.result = u.r"
							   "  FROM unnest($2, $3) AS u(o, r)"
							   "  LEFT JOIN hedis.run_outcome s ON s.run_id = $1 AND s.outcome = u.o",
							   3, types, args, NULL, false, 0);
	if (rc != SPI_OK_SELECT || SPI_processed != (uint64) n)
		elog(ERROR, "could not check the outcomes of run %lld: %s",
			 (long long) run_id, SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		bool		same_isnull;
		int64		name = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													   SPI_tuptable->tupdesc, 1, &isnull));
		Datum		same = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2,
										 &same_isnull);
		uint64		hash = (uint64) name;

		e = hash_search(outcomes, &hash, HASH_FIND, NULL);
		e->state = !same_isnull && DatumGetBool(same) ? OUTCOME_STORED : OUTCOME_INLINE;
	}
	SPI_freetuptable(SPI_tuptable);
}
