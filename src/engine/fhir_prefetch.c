/*
 * fhir_prefetch.c
 *		The index entries of a batch of patients, read in one pass.
 *
 * Owner: the measure engine.  Evaluating a patient reads its resources
 * through the store's (patient_key, resource_type, fhir_id) index: one
 * descent of the index for its Patient resource, one more for the rest, each
 * with a scan set up and torn down.  A population run evaluates its patients
 * in key order, a batch at a time, so the run reads the index entries of the
 * whole batch first, in one range scan per run of consecutive keys, keeping
 * each entry's resource type and heap TID (from the index tuple: no heap
 * access).  The patient's evaluation then fetches the heap tuples it needs
 * by TID (fhir_data.c); patients who leave the initial population on their
 * Patient resource still fetch nothing else.
 *
 * The entries are valid for the transaction that read them and until
 * fhir_prefetch_forget: a resource updated after them would be missed (its
 * new version has another TID), so nothing else uses them.
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

static struct
{
	MemoryContext mcxt;
	LocalTransactionId lxid;	/* InvalidLocalTransactionId: nothing prefetched */
	int			n;
	int			cap;
	int64	   *keys;			/* per entry, ascending */
	PrefetchedRow *rows;
	/* the distinct resource types met, NUL-terminated; the last one matched */
	int			ntypes;
	const char *types[32];
	int			last_type;		/* a patient's entries come grouped by type */
} prefetch = {NULL, InvalidLocalTransactionId};

/* the type name of an index entry, as a stable string */
static const char *
entry_type(const char *text, int len)
{
	char		buf[NAMEDATALEN];
	const char *itype;
	int			last = prefetch.last_type;

	if (last < prefetch.ntypes && strncmp(prefetch.types[last], text, len) == 0 &&
		prefetch.types[last][len] == '\0')
		return prefetch.types[last];
	for (int i = 0; i < prefetch.ntypes; i++)
		if (strncmp(prefetch.types[i], text, len) == 0 && prefetch.types[i][len] == '\0')
			return prefetch.types[prefetch.last_type = i];
	len = Min(len, NAMEDATALEN - 1);
	memcpy(buf, text, len);
	buf[len] = '\0';
	itype = fhir_type_intern(buf);
	if (itype == NULL)
		itype = MemoryContextStrdup(prefetch.mcxt, buf);
	if (prefetch.ntypes < lengthof(prefetch.types))
		prefetch.types[prefetch.ntypes++] = itype;
	return itype;
}

static void
scan_range(Relation heap, Relation index, Snapshot snapshot, int64 lo, int64 hi)
{
	ScanKeyData keys[2];
	IndexScanDesc scan;
	ItemPointer tid;

	ScanKeyInit(&keys[0], 1, BTGreaterEqualStrategyNumber, F_INT8GE, Int64GetDatum(lo));
	ScanKeyInit(&keys[1], 1, BTLessEqualStrategyNumber, F_INT8LE, Int64GetDatum(hi));
	scan = index_beginscan(heap, index, snapshot, 2, 0);
	scan->xs_want_itup = true;	/* the type from the index tuple, not the heap */
	index_rescan(scan, keys, 2, NULL, 0);
	while ((tid = index_getnext_tid(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		Datum		key = index_getattr(scan->xs_itup, 1, scan->xs_itupdesc, &isnull);
		text	   *type = DatumGetTextPP(index_getattr(scan->xs_itup, 2, scan->xs_itupdesc, &isnull));

		if (prefetch.n == prefetch.cap)
		{
			prefetch.cap *= 2;
			prefetch.keys = repalloc(prefetch.keys, sizeof(int64) * prefetch.cap);
			prefetch.rows = repalloc(prefetch.rows, sizeof(PrefetchedRow) * prefetch.cap);
		}
		prefetch.keys[prefetch.n] = DatumGetInt64(key);
		prefetch.rows[prefetch.n].type = entry_type(VARDATA_ANY(type), VARSIZE_ANY_EXHDR(type));
		prefetch.rows[prefetch.n].tid = *tid;
		prefetch.n++;
	}
	index_endscan(scan);
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
	if (prefetch.mcxt == NULL)
		prefetch.mcxt = AllocSetContextCreate(TopMemoryContext, "hedis prefetched patients",
											  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(prefetch.mcxt);
	prefetch.cap = Max(n * 16, 64);
	prefetch.keys = palloc(sizeof(int64) * prefetch.cap);
	prefetch.rows = palloc(sizeof(PrefetchedRow) * prefetch.cap);
	fhir_resource_relation_ids(&heap_oid, &index_oid);
	heap = table_open(heap_oid, AccessShareLock);
	index = index_open(index_oid, AccessShareLock);
	for (int i = 0, start = 0; i < n; i++)
		if (i == n - 1 || keys[i + 1] < keys[i] || keys[i + 1] - keys[i] > PREFETCH_KEY_GAP)
		{
			scan_range(heap, index, snapshot, keys[start], keys[i]);
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
	prefetch.n = 0;
	prefetch.ntypes = 0;
	prefetch.last_type = 0;
	if (prefetch.mcxt)
		MemoryContextReset(prefetch.mcxt);
}

bool
fhir_prefetched_rows(int64 patient_key, const PrefetchedRow **rows, int *nrows)
{
	int			lo = 0,
				hi,
				n;

	if (prefetch.lxid != MyProc->lxid || prefetch.n == 0 ||
		patient_key < prefetch.keys[0] || patient_key > prefetch.keys[prefetch.n - 1])
		return false;
	/* the first entry of the key */
	hi = prefetch.n;
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (prefetch.keys[mid] < patient_key)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (n = 0; lo + n < prefetch.n && prefetch.keys[lo + n] == patient_key; n++)
		;
	/* none: not a patient of the batch (or one without resources): read it as usual */
	if (n == 0)
		return false;
	*rows = &prefetch.rows[lo];
	*nrows = n;
	return true;
}
