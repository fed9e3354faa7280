/*
 * runs_store.c
 *		A batch's rows of hedis.run_patient, inserted as COPY inserts them.
 *
 * Owner: runs.  An INSERT ... SELECT FROM unnest(arrays) cost a fifth of a
 * run_now per patient (callgrind): the function scan materialised the
 * arrays, every row was projected and inserted alone.  Here the rows go
 * straight into slots, the heap takes them a page at a time
 * (table_multi_insert, one WAL record per page) and the primary key gets
 * its entries, as copyfrom.c does.  Privileges are checked as for an
 * INSERT (ExecCheckRTPerms, column by column), NOT NULL and CHECK
 * constraints per row.
 *
 * run_patient's own row trigger (runs_result_check.c: the run exists and is
 * locked) is not fired here: both callers already hold the run row (a
 * background batch FOR SHARE, run_now inserted it).  If the table has any
 * other trigger, row security or is not a plain table, the caller falls
 * back to the SQL INSERT, which does all of that.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "parser/parsetree.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/timestamp.h"

#include "runs/runs.h"

/* run_patient's columns, in table order (src/sql/60_runs.sql) */
enum
{
	COL_RUN_ID,
	COL_PATIENT_KEY,
	COL_ATTEMPT,
	COL_PATIENT_ID,
	COL_OUTCOME,
	COL_RESULT,
	COL_ERROR,
	COL_EVALUATED_AT,
	RUN_PATIENT_NCOLS
};

static const char *const run_patient_columns[RUN_PATIENT_NCOLS] = {
	"run_id", "patient_key", "attempt", "patient_id", "outcome", "result", "error",
	"evaluated_at"
};

/* Only run_patient's own triggers, no row security, a plain table, the columns above */
static bool
direct_insert_possible(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			ncols = 0;

	if (rel->rd_rel->relkind != RELKIND_RELATION ||
		check_enable_rls(RelationGetRelid(rel), InvalidOid, true) == RLS_ENABLED)
		return false;
	if (rel->trigdesc != NULL)
		for (int i = 0; i < rel->trigdesc->numtriggers; i++)
		{
			const char *name = rel->trigdesc->triggers[i].tgname;

			if (strcmp(name, "run_patient_run_inserted") != 0 &&
				strcmp(name, "run_patient_run_updated") != 0)
				return false;
		}
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		if (ncols >= RUN_PATIENT_NCOLS ||
			strcmp(NameStr(att->attname), run_patient_columns[ncols]) != 0 ||
			att->attnum != ncols + 1)
			return false;
		ncols++;
	}
	return ncols == RUN_PATIENT_NCOLS;
}

/*
 * Insert the rows; false (nothing done) if they must go through SQL.  The
 * values of the columns come from the caller's arrays; evaluated_at is now.
 */
bool
runs_store_patient_rows(int64 run_id, int32 attempt, int n, const Datum *keys,
						const Datum *ids, const Datum *names, const bool *name_nulls,
						const Datum *inline_results, const bool *inline_nulls,
						const Datum *errors, const bool *error_nulls)
{
	Oid			relid;
	Relation	rel;
	RangeTblEntry *rte;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot **slots;
	BulkInsertState bistate;
	TupleDesc	desc;
	Datum		now = TimestampTzGetDatum(GetCurrentTimestamp());
	CommandId	cid;

	relid = RangeVarGetRelid(makeRangeVar("hedis", "run_patient", -1), RowExclusiveLock, false);
	rel = table_open(relid, NoLock);
	if (!direct_insert_possible(rel))
	{
		table_close(rel, NoLock);
		return false;
	}

	/* the privileges an INSERT of these columns needs */
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	for (int c = 0; c < RUN_PATIENT_NCOLS; c++)
		rte->insertedCols = bms_add_member(rte->insertedCols,
										   c + 1 - FirstLowInvalidHeapAttributeNumber);
	ExecCheckRTPerms(list_make1(rte), true);

	estate = CreateExecutorState();
	ExecInitRangeTable(estate, list_make1(rte));
	rri = makeNode(ResultRelInfo);
	ExecInitResultRelation(estate, rri, 1);
	ExecOpenIndices(rri, false);

	/*
	 * The slots' descriptor is a copy without a reference count: slots of
	 * the relation's own descriptor register with the resource owner one by
	 * one, and forgetting 500 of them cost more than inserting the rows.
	 */
	desc = CreateTupleDescCopy(RelationGetDescr(rel));
	slots = palloc(sizeof(TupleTableSlot *) * n);
	for (int i = 0; i < n; i++)
	{
		TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, table_slot_callbacks(rel));

		ExecClearTuple(slot);
		slot->tts_values[COL_RUN_ID] = Int64GetDatum(run_id);
		slot->tts_values[COL_PATIENT_KEY] = keys[i];
		slot->tts_values[COL_ATTEMPT] = Int32GetDatum(attempt);
		slot->tts_values[COL_PATIENT_ID] = ids[i];
		slot->tts_values[COL_OUTCOME] = names[i];
		slot->tts_values[COL_RESULT] = inline_results[i];
		slot->tts_values[COL_ERROR] = errors[i];
		slot->tts_values[COL_EVALUATED_AT] = now;
		memset(slot->tts_isnull, false, sizeof(bool) * RUN_PATIENT_NCOLS);
		slot->tts_isnull[COL_OUTCOME] = name_nulls[i];
		slot->tts_isnull[COL_RESULT] = inline_nulls[i];
		slot->tts_isnull[COL_ERROR] = error_nulls[i];
		ExecStoreVirtualTuple(slot);
		if (rel->rd_att->constr)
			ExecConstraints(rri, slot, estate);
		slots[i] = slot;
	}

	cid = GetCurrentCommandId(true);
	bistate = GetBulkInsertState();
	table_multi_insert(rel, slots, n, cid, 0, bistate);
	FreeBulkInsertState(bistate);
	for (int i = 0; i < n; i++)
	{
		ExecInsertIndexTuples(rri, slots[i], estate, false, false, NULL, NIL);
		ResetPerTupleExprContext(estate);
		ExecDropSingleTupleTableSlot(slots[i]);
	}
	pfree(slots);

	ExecCloseResultRelations(estate);	/* and its indexes */
	ExecCloseRangeTableRelations(estate);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
	/* the statements that follow see the rows */
	CommandCounterIncrement();
	return true;
}
