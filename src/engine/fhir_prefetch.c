/*
 * fhir_prefetch.c
 *		The index entries of a batch of patients, read in one pass.
 *
 * Owner: the measure engine.  Evaluating a patient reads its resources
 * through the store's (patient_key, resource_type, fhir_id) index.  It first
 * reads the patient's index entries alone, keeping each entry's resource
 * type and heap TID (from the index tuple: no heap access), in one descent
 * keyed on the patient key, and then fetches the heap tuples it needs by
 * TID (fhir_data.c): the Patient resource first, the other types when a
 * retrieve first asks; patients who leave the initial population on their
 * Patient resource fetch nothing else.  A population run evaluates its
 * patients in key order, a batch at a time, so the run reads the index
 * entries of the whole batch first, in one range scan per run of
 * consecutive keys.
 *
 * A batch's entries are valid for the transaction that read them and until
 * fhir_prefetch_forget; entries read ahead, for snapshots that see what the
 * reading one saw.  A resource written after them would be missed (a new
 * version has another TID), so nothing else uses them.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/itup.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "engine/fhir_data.h"
#include "engine/hedis_engine.h"

/* a gap of more keys than this between two patients starts another range scan */
#define PREFETCH_KEY_GAP 256

/* index entries read: per entry its patient key, type and TID, keys ascending */
typedef struct EntryBuf
{
	int			n;
	int			cap;
	int64	   *keys;
	PrefetchedRow *rows;
} EntryBuf;

/*
 * The distinct resource types met, as stable strings (interned, or copied
 * into mcxt for a type the model does not know); the last one matched is
 * tried first, as a patient's entries come grouped by type.
 */
typedef struct EntryTypes
{
	MemoryContext mcxt;
	int			ntypes;
	int			last;
	const char *types[32];
	int			lens[32];
} EntryTypes;

static struct
{
	MemoryContext mcxt;
	LocalTransactionId lxid;	/* InvalidLocalTransactionId: nothing prefetched */
	EntryBuf	entries;
	EntryTypes	types;
	/*
	 * Entries read ahead (fhir_patient_entries) serve only MVCC snapshots
	 * that see exactly what the one they were read with saw: the same
	 * transactions in progress and the same commands of this one (a copy
	 * of its visibility fields).  A batch's serve the whole transaction
	 * (its caller forgets them).
	 */
	bool		read_ahead;
	SnapshotData seen;
} prefetch = {NULL, InvalidLocalTransactionId};

/*
 * Read ahead: the keys read at once, the largest step between keys that
 * continues a run, and the run that starts reading ahead.  Reading an
 * entry costs about a tenth of a descent and a patient has several: only
 * a run of consecutive keys gains (every fifth key loses, measured).
 */
#define READ_AHEAD_KEYS 64
#define READ_AHEAD_STEP 1
#define READ_AHEAD_RUN 8

/* the types of single patients' entries: kept for the backend */
static EntryTypes patient_types;

/* the type name of an index entry, as a stable string */
static const char *
entry_type(EntryTypes *t, const char *text, int len)
{
	char		buf[NAMEDATALEN];
	const char *itype;

	/* a patient's entries come sorted by type: the last one first */
	if (t->last < t->ntypes && t->lens[t->last] == len &&
		memcmp(t->types[t->last], text, len) == 0)
		return t->types[t->last];
	for (int i = 0; i < t->ntypes; i++)
		if (t->lens[i] == len && memcmp(t->types[i], text, len) == 0)
			return t->types[t->last = i];
	len = Min(len, NAMEDATALEN - 1);
	memcpy(buf, text, len);
	buf[len] = '\0';
	itype = fhir_type_intern(buf);
	if (itype == NULL)
		itype = MemoryContextStrdup(t->ntypes < lengthof(t->types) ? t->mcxt : CurrentMemoryContext, buf);
	if (t->ntypes < lengthof(t->types))
	{
		t->lens[t->ntypes] = len;
		t->types[t->ntypes++] = itype;
	}
	return itype;
}

/*
 * Append the index entries of the patients with keys lo..hi to buf (in
 * CurrentMemoryContext), reading each entry's type from the index tuple: no
 * heap access, and only the patient key compared during the descent.
 */
static void
scan_entries(Relation heap, Relation index, Snapshot snapshot, int64 lo, int64 hi,
			 EntryBuf *buf, EntryTypes *types)
{
	ScanKeyData keys[1];
	IndexScanDesc scan;
	ItemPointer tid;
	int			nkeys = 1;

	/*
	 * One patient: one equality key, checked once per entry.  A range: the
	 * lower bound positions the scan and the loop stops past the upper one
	 * (a second scan key would be checked on every entry as well).
	 */
	if (lo == hi)
		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(lo));
	else
		ScanKeyInit(&keys[0], 1, BTGreaterEqualStrategyNumber, F_INT8GE, Int64GetDatum(lo));
	scan = index_beginscan(heap, index, snapshot, nkeys, 0);
	scan->xs_want_itup = true;	/* the type from the index tuple, not the heap */
	index_rescan(scan, keys, nkeys, NULL, 0);
	while ((tid = index_getnext_tid(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		Datum		key = index_getattr(scan->xs_itup, 1, scan->xs_itupdesc, &isnull);
		text	   *type;

		if (isnull || DatumGetInt64(key) > hi)
			break;
		type = DatumGetTextPP(index_getattr(scan->xs_itup, 2, scan->xs_itupdesc, &isnull));

		if (buf->n == buf->cap)
		{
			buf->cap = Max(buf->cap * 2, 16);
			buf->keys = buf->keys ? repalloc(buf->keys, sizeof(int64) * buf->cap)
				: palloc(sizeof(int64) * buf->cap);
			buf->rows = buf->rows ? repalloc(buf->rows, sizeof(PrefetchedRow) * buf->cap)
				: palloc(sizeof(PrefetchedRow) * buf->cap);
		}
		buf->keys[buf->n] = DatumGetInt64(key);
		buf->rows[buf->n].type = entry_type(types, VARDATA_ANY(type), VARSIZE_ANY_EXHDR(type));
		buf->rows[buf->n].tid = *tid;
		buf->n++;
	}
	index_endscan(scan);
}

static bool fhir_prefetched_rows(int64 patient_key, Snapshot snapshot,
								 const PrefetchedRow **rows, int *nrows);

static void
prefetch_begin(int n)
{
	hedis_engine_prefetch_forget();
	if (prefetch.mcxt == NULL)
		prefetch.mcxt = AllocSetContextCreate(TopMemoryContext, "hedis prefetched patients",
											  ALLOCSET_DEFAULT_SIZES);
	prefetch.types.mcxt = prefetch.mcxt;
	prefetch.entries.cap = Max(n * 16, 64);
	prefetch.entries.keys = MemoryContextAlloc(prefetch.mcxt, sizeof(int64) * prefetch.entries.cap);
	prefetch.entries.rows = MemoryContextAlloc(prefetch.mcxt, sizeof(PrefetchedRow) * prefetch.entries.cap);
}

/* do two MVCC snapshots decide every tuple's visibility alike */
static bool
same_visibility(const SnapshotData *a, Snapshot b)
{
	return a->snapshot_type == SNAPSHOT_MVCC && b->snapshot_type == SNAPSHOT_MVCC &&
		a->xmin == b->xmin && a->xmax == b->xmax && a->curcid == b->curcid &&
		a->xcnt == b->xcnt && a->subxcnt == b->subxcnt &&
		a->suboverflowed == b->suboverflowed &&
		a->takenDuringRecovery == b->takenDuringRecovery &&
		(a->xcnt == 0 || memcmp(a->xip, b->xip, sizeof(TransactionId) * a->xcnt) == 0) &&
		(a->subxcnt == 0 || memcmp(a->subxip, b->subxip, sizeof(TransactionId) * a->subxcnt) == 0);
}

/* remember what the snapshot sees (its arrays copied into the prefetch context) */
static void
remember_visibility(Snapshot snapshot)
{
	prefetch.seen = *snapshot;
	prefetch.seen.xip = snapshot->xcnt > 0
		? MemoryContextAlloc(prefetch.mcxt, sizeof(TransactionId) * snapshot->xcnt) : NULL;
	if (snapshot->xcnt > 0)
		memcpy(prefetch.seen.xip, snapshot->xip, sizeof(TransactionId) * snapshot->xcnt);
	prefetch.seen.subxip = snapshot->subxcnt > 0
		? MemoryContextAlloc(prefetch.mcxt, sizeof(TransactionId) * snapshot->subxcnt) : NULL;
	if (snapshot->subxcnt > 0)
		memcpy(prefetch.seen.subxip, snapshot->subxip, sizeof(TransactionId) * snapshot->subxcnt);
}

/*
 * Read the entries of keys key .. key + READ_AHEAD_KEYS - 1 at once (the
 * caller saw a run of consecutive keys): a statement evaluating a whole
 * population in key order then pays one descent of the index per
 * READ_AHEAD_KEYS keys instead of one per patient.
 */
static bool
read_ahead(Relation heap, Relation index, Snapshot snapshot, int64 key)
{
	MemoryContext old;

	/* a batch's entries are its caller's to forget; a snapshot of unknown make is not compared */
	if (snapshot->snapshot_type != SNAPSHOT_MVCC ||
		(prefetch.lxid == MyProc->lxid && !prefetch.read_ahead))
		return false;
	prefetch_begin(READ_AHEAD_KEYS);
	old = MemoryContextSwitchTo(prefetch.mcxt);
	scan_entries(heap, index, snapshot, key, key + READ_AHEAD_KEYS - 1,
				 &prefetch.entries, &prefetch.types);
	MemoryContextSwitchTo(old);
	prefetch.lxid = MyProc->lxid;
	prefetch.read_ahead = true;
	remember_visibility(snapshot);
	return true;
}

/*
 * The index entries of one patient (sorted as the index): from a batch's or
 * the read-ahead's (after READ_AHEAD_RUN consecutive keys), or else read now
 * in CurrentMemoryContext, in one descent keyed on the patient key alone
 * (patients asked in any other order: single look-ups, random samples,
 * every fifth key).  One descent replaces the two a patient cost before
 * (its Patient resource, then the other types, each comparing type names
 * on the way down).  may_read_ahead: no other patient's entries are in use
 * (a read-ahead replaces them).
 */
int
fhir_patient_entries(Relation heap, Relation index, Snapshot snapshot, int64 patient_key,
					 bool may_read_ahead, const PrefetchedRow **rows)
{
	static int64 last_key = -1;
	static int	run = 0;			/* keys in a row, each the last one plus 1 */
	EntryBuf	buf = {0};
	int			n;

	if (patient_key != last_key)	/* the same patient again keeps the run */
		run = (last_key >= 0 && patient_key > last_key &&
			   patient_key - last_key <= READ_AHEAD_STEP) ? run + 1 : 0;
	last_key = patient_key;
	if (fhir_prefetched_rows(patient_key, snapshot, rows, &n))
		return n;
	if (may_read_ahead && run >= READ_AHEAD_RUN && read_ahead(heap, index, snapshot, patient_key) &&
		fhir_prefetched_rows(patient_key, snapshot, rows, &n))
		return n;
	if (patient_types.mcxt == NULL)
		patient_types.mcxt = TopMemoryContext;
	scan_entries(heap, index, snapshot, patient_key, patient_key, &buf, &patient_types);
	*rows = buf.rows;
	return buf.n;
}

void
hedis_engine_prefetch_patients(const int64 *keys, int n)
{
	Oid			heap_oid,
				index_oid;
	Relation	heap,
				index;
	Snapshot	snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
	MemoryContext old;

	hedis_engine_prefetch_forget();
	if (n <= 0)
		return;
	prefetch_begin(n);
	old = MemoryContextSwitchTo(prefetch.mcxt);
	fhir_resource_relation_ids(&heap_oid, &index_oid);
	heap = table_open(heap_oid, AccessShareLock);
	index = index_open(index_oid, AccessShareLock);
	for (int i = 0, start = 0; i < n; i++)
		if (i == n - 1 || keys[i + 1] < keys[i] || keys[i + 1] - keys[i] > PREFETCH_KEY_GAP)
		{
			scan_entries(heap, index, snapshot, keys[start], keys[i],
						 &prefetch.entries, &prefetch.types);
			start = i + 1;
		}
	index_close(index, NoLock);
	table_close(heap, NoLock);
	MemoryContextSwitchTo(old);
	prefetch.lxid = MyProc->lxid;
}

void
hedis_engine_prefetch_forget(void)
{
	prefetch.lxid = InvalidLocalTransactionId;
	prefetch.read_ahead = false;
	prefetch.entries = (EntryBuf) {0};
	prefetch.types.ntypes = 0;
	prefetch.types.last = 0;
	if (prefetch.mcxt)
		MemoryContextReset(prefetch.mcxt);
}

/* the prefetched entries of a patient (sorted as the index), if any */
static bool
fhir_prefetched_rows(int64 patient_key, Snapshot snapshot, const PrefetchedRow **rows, int *nrows)
{
	const int64 *keys = prefetch.entries.keys;
	int			lo = 0,
				hi,
				n;

	if (prefetch.lxid != MyProc->lxid || prefetch.entries.n == 0 ||
		patient_key < keys[0] || patient_key > keys[prefetch.entries.n - 1] ||
		(prefetch.read_ahead && !same_visibility(&prefetch.seen, snapshot)))
		return false;
	/* the first entry of the key */
	hi = prefetch.entries.n;
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (keys[mid] < patient_key)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (n = 0; lo + n < prefetch.entries.n && keys[lo + n] == patient_key; n++)
		;
	/* none: not a patient of the batch (or one without resources): read it as usual */
	if (n == 0)
		return false;
	*rows = &prefetch.entries.rows[lo];
	*nrows = n;
	return true;
}
