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
#include "access/nbtree.h"
#include "access/table.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type_d.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/predicate.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
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
 * into TopMemoryContext for a type the model does not know), kept for the
 * backend.  A type is found by a small hash of its length and end letters
 * (slot_of: its index + 1): a patient has one or two resources of most
 * types, so consecutive entries seldom share one, and comparing names in
 * turn cost a fifth of reading an entry (Condition, Encounter and
 * Procedure are as long).
 */
#define ENTRY_TYPE_SLOTS 128

typedef struct EntryTypes
{
	int			ntypes;
	const char *types[32];
	int			lens[32];
	uint8		slot_of[ENTRY_TYPE_SLOTS];
} EntryTypes;

/* length and the first two and last two letters: no two of the common types collide */
static inline int
entry_type_slot(const char *text, int len)
{
	uint32		h = len;

	if (len < 2)
		return 0;
	h = (h * 33) ^ (unsigned char) text[0];
	h = (h * 33) ^ (unsigned char) text[1];
	h = (h * 33) ^ (unsigned char) text[len - 2];
	h = (h * 33) ^ (unsigned char) text[len - 1];
	return (h ^ (h >> 7)) & (ENTRY_TYPE_SLOTS - 1);
}

static struct
{
	MemoryContext mcxt;
	LocalTransactionId lxid;	/* InvalidLocalTransactionId: nothing prefetched */
	EntryBuf	entries;
	/*
	 * Entries read ahead (fhir_patient_entries) serve only MVCC snapshots
	 * that see exactly what the one they were read with saw: the same
	 * transactions in progress and the same commands of this one (a copy
	 * of its visibility fields).  A batch's serve the whole transaction
	 * (its caller forgets them).
	 */
	bool		read_ahead;
	SnapshotData seen;
	int			next;			/* where the last patient's entries ended */
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

static EntryTypes entry_types;

/* a type not found by its slot: looked for in turn, or added */
static pg_noinline const char *
entry_type_slow(EntryTypes *t, const char *text, int len, int slot)
{
	char		buf[NAMEDATALEN];
	const char *itype;

	for (int i = 0; i < t->ntypes; i++)
		if (t->lens[i] == len && memcmp(t->types[i], text, len) == 0)
		{
			t->slot_of[slot] = i + 1;	/* the slot's last type wins */
			return t->types[i];
		}
	len = Min(len, NAMEDATALEN - 1);
	memcpy(buf, text, len);
	buf[len] = '\0';
	itype = fhir_type_intern(buf);
	if (itype == NULL)
		itype = MemoryContextStrdup(t->ntypes < lengthof(t->types) ? TopMemoryContext : CurrentMemoryContext, buf);
	if (t->ntypes < lengthof(t->types))
	{
		t->lens[t->ntypes] = len;
		t->types[t->ntypes++] = itype;
		t->slot_of[slot] = t->ntypes;
	}
	return itype;
}

/* the type name of an index entry, as a stable string */
static inline const char *
entry_type(const char *text, int len)
{
	EntryTypes *t = &entry_types;
	int			slot = entry_type_slot(text, len);
	int			i = t->slot_of[slot] - 1;

	if (i >= 0 && t->lens[i] == len && memcmp(t->types[i], text, len) == 0)
		return t->types[i];
	return entry_type_slow(t, text, len, slot);
}

static pg_noinline void
entry_buf_grow(EntryBuf *buf)
{
	buf->cap = Max(buf->cap * 2, 16);
	buf->keys = buf->keys ? repalloc(buf->keys, sizeof(int64) * buf->cap)
		: palloc(sizeof(int64) * buf->cap);
	buf->rows = buf->rows ? repalloc(buf->rows, sizeof(PrefetchedRow) * buf->cap)
		: palloc(sizeof(PrefetchedRow) * buf->cap);
}

/* inline: called for every index entry read, and its growth seldom happens */
static inline void
entry_add(EntryBuf *buf, int64 key, const char *type, ItemPointer tid)
{
	if (unlikely(buf->n == buf->cap))
		entry_buf_grow(buf);
	buf->keys[buf->n] = key;
	buf->rows[buf->n].type = type;
	buf->rows[buf->n].tid = *tid;
	buf->n++;
}

/*
 * Is the index the store's btree on (patient_key, resource_type, ...),
 * ascending, complete (valid, not partial), whose leaf pages
 * read_leaf_entries reads?  The extension creates it so; a DBA may have
 * recreated it otherwise (a hash index has no tuples to read; a descending
 * or partial one would give a patient wrong entries).  Checked where the
 * index is looked up (fhir_data.c): once per transaction, and again after
 * a relcache invalidation (dropping an index is one).
 */
void
fhir_check_patient_index(Oid heap, Oid index_oid)
{
	Relation	index = index_open(index_oid, AccessShareLock);
	Form_pg_index ix = index->rd_index;
	TupleDesc	desc = RelationGetDescr(index);
	bool		ok;

	ok = index->rd_rel->relam == BTREE_AM_OID &&
		ix->indrelid == heap &&
		ix->indisvalid &&
		heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL) &&
		IndexRelationGetNumberOfKeyAttributes(index) >= 2 &&
		ix->indkey.values[0] == get_attnum(heap, "patient_key") &&
		ix->indkey.values[1] == get_attnum(heap, "resource_type") &&
		TupleDescAttr(desc, 0)->atttypid == INT8OID &&
		TupleDescAttr(desc, 1)->atttypid == TEXTOID &&
		index->rd_indoption[0] == 0 && index->rd_indoption[1] == 0;	/* ascending */
	index_close(index, NoLock);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("index hedis.resource_patient_idx is not the index pg_hedis created"),
				 errdetail("The engine reads a patient's resources through a valid, complete btree index "
						   "on hedis.resource (patient_key, resource_type, fhir_id), ascending."),
				 errhint("Recreate it: DROP INDEX hedis.resource_patient_idx; "
						 "CREATE INDEX resource_patient_idx ON hedis.resource (patient_key, resource_type, fhir_id);")));
}

/*
 * The entries of keys lo..hi read from the btree's leaf pages themselves:
 * one descent to the first key, then each page's items in order, under
 * the page's share lock, moving right by the sibling links as a forward
 * index scan does (an item moved right by a concurrent split is met again
 * on the page it moved to, never skipped).  An index scan checked its
 * scan key through the operator's function call for every item, copied
 * every item out and returned them one call at a time: three quarters of
 * what reading an entry cost.  Which entries are visible is decided by
 * the heap fetch, as for any index scan's; items already marked dead are
 * skipped as an index scan skips them.  The entries are appended to buf
 * (in CurrentMemoryContext), each entry's type read from its index tuple.
 * wanted (ascending, from lo to hi), if given, are the only keys whose
 * entries are kept: a population evaluation's batch leaves out the
 * patients it screened out by birth date (measure_prescreen.c), whose
 * entries lie between the others'.
 */
static void
read_leaf_entries(Relation index, Snapshot snapshot, int64 lo, int64 hi,
				  const int64 *wanted, int nwanted, EntryBuf *buf)
{
	int			w = 0;			/* the wanted key the entries have reached */
	TupleDesc	desc = RelationGetDescr(index);
	BTScanInsert key = _bt_mkscankey(index, NULL);
	BTStack		stack;
	Buffer		page_buf;
	bool		done = false;

	_bt_metaversion(index, &key->heapkeyspace, &key->allequalimage);
	key->keysz = 1;
	key->scankeys[0].sk_flags &= ~SK_ISNULL;
	key->scankeys[0].sk_argument = Int64GetDatum(lo);
	stack = _bt_search(index, key, &page_buf, BT_READ, snapshot);
	_bt_freestack(stack);
	pfree(key);
	if (!BufferIsValid(page_buf))
		return;					/* an empty index */
	pgstat_count_index_scan(index);
	for (;;)
	{
		Page		page = BufferGetPage(page_buf);
		BTPageOpaque opaque = BTPageGetOpaque(page);

		TestForOldSnapshot(snapshot, index, page);
		if (!P_IGNORE(opaque))
		{
			OffsetNumber maxoff = PageGetMaxOffsetNumber(page);

			PredicateLockPage(index, BufferGetBlockNumber(page_buf), snapshot);
			for (OffsetNumber off = P_FIRSTDATAKEY(opaque); off <= maxoff; off++)
			{
				ItemId		iid = PageGetItemId(page, off);
				IndexTuple	itup;
				bool		isnull;
				int64		k;
				text	   *type;
				const char *itype;

				if (ItemIdIsDead(iid) && !snapshot->takenDuringRecovery)
					continue;
				itup = (IndexTuple) PageGetItem(page, iid);
				if (likely(!IndexTupleHasNulls(itup)))
				{
					/*
					 * The key, int8, starts the data and the type, text,
					 * follows it at offset 8, already aligned (the shape
					 * fhir_check_patient_index checked): read in place,
					 * without index_getattr's look-ups in the descriptor
					 * for every entry.
					 */
					const char *data = (const char *) itup + IndexInfoFindDataOffset(itup->t_info);

					k = *(const int64 *) data;
					type = (text *) (data + sizeof(int64));
				}
				else
				{
					k = DatumGetInt64(index_getattr(itup, 1, desc, &isnull));
					if (isnull)
					{
						done = true;	/* past the range (nulls sort last) */
						break;
					}
					type = (text *) DatumGetPointer(index_getattr(itup, 2, desc, &isnull));
					if (isnull)
						continue;
				}
				if (k > hi)
				{
					done = true;	/* past the range */
					break;
				}
				if (k < lo)
					continue;
				if (wanted != NULL)
				{
					while (w < nwanted && wanted[w] < k)
						w++;
					if (w == nwanted || wanted[w] != k)
						continue;
				}
				itype = entry_type(VARDATA_ANY(type), VARSIZE_ANY_EXHDR(type));
				if (BTreeTupleIsPosting(itup))
				{
					for (int j = 0; j < BTreeTupleGetNPosting(itup); j++)
						entry_add(buf, k, itype, BTreeTupleGetPostingN(itup, j));
				}
				else
					entry_add(buf, k, itype, &itup->t_tid);
			}
		}
		if (done || P_RIGHTMOST(opaque))
			break;
		{
			BlockNumber next = opaque->btpo_next;

			_bt_relbuf(index, page_buf);
			CHECK_FOR_INTERRUPTS();
			page_buf = _bt_getbuf(index, next, BT_READ);
		}
	}
	_bt_relbuf(index, page_buf);
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
read_ahead(Relation index, Snapshot snapshot, int64 key)
{
	MemoryContext old;

	/* a batch's entries are its caller's to forget; a snapshot of unknown make is not compared */
	if (snapshot->snapshot_type != SNAPSHOT_MVCC ||
		(prefetch.lxid == MyProc->lxid && !prefetch.read_ahead))
		return false;
	prefetch_begin(READ_AHEAD_KEYS);
	old = MemoryContextSwitchTo(prefetch.mcxt);
	read_leaf_entries(index, snapshot, key, key + READ_AHEAD_KEYS - 1, NULL, 0,
					  &prefetch.entries);
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
fhir_patient_entries(Relation index, Snapshot snapshot, int64 patient_key,
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
	if (may_read_ahead && run >= READ_AHEAD_RUN && read_ahead(index, snapshot, patient_key) &&
		fhir_prefetched_rows(patient_key, snapshot, rows, &n))
		return n;
	read_leaf_entries(index, snapshot, patient_key, patient_key, NULL, 0, &buf);
	*rows = buf.rows;
	return buf.n;
}

void
hedis_engine_prefetch_patients(const int64 *batch_keys, const bool *skip, int nbatch)
{
	Oid			heap_oid,
				index_oid;
	Relation	heap,
				index;
	Snapshot	snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
	MemoryContext old;
	int64	   *keys = palloc(sizeof(int64) * Max(nbatch, 1));
	int			n = 0;

	hedis_engine_prefetch_forget();
	for (int i = 0; i < nbatch; i++)
		if (skip == NULL || !skip[i])
			keys[n++] = batch_keys[i];
	if (n <= 0)
	{
		pfree(keys);
		return;
	}
	prefetch_begin(n);
	old = MemoryContextSwitchTo(prefetch.mcxt);
	fhir_resource_relation_ids(&heap_oid, &index_oid);
	heap = table_open(heap_oid, AccessShareLock);	/* the heap first, as every reader locks */
	index = index_open(index_oid, AccessShareLock);
	for (int i = 0, start = 0; i < n; i++)
		if (i == n - 1 || keys[i + 1] < keys[i] || keys[i + 1] - keys[i] > PREFETCH_KEY_GAP)
		{
			read_leaf_entries(index, snapshot, keys[start], keys[i], keys + start, i - start + 1,
							  &prefetch.entries);
			start = i + 1;
		}
	index_close(index, NoLock);
	table_close(heap, NoLock);
	MemoryContextSwitchTo(old);
	pfree(keys);
	prefetch.lxid = MyProc->lxid;
}

void
hedis_engine_prefetch_forget(void)
{
	prefetch.lxid = InvalidLocalTransactionId;
	prefetch.read_ahead = false;
	prefetch.next = 0;
	prefetch.entries = (EntryBuf) {0};
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
	/* the first entry of the key: patients come in key order, the next first */
	hi = prefetch.entries.n;
	if (prefetch.next < hi && keys[prefetch.next] == patient_key &&
		(prefetch.next == 0 || keys[prefetch.next - 1] < patient_key))
		lo = hi = prefetch.next;
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
	prefetch.next = lo + n;
	return true;
}
