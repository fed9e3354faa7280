/*
 * evaluate_population.c
 *		hedis.evaluate_population(): every patient's result as rows, in one
 *		statement, nothing stored.
 *
 * Owner: runs.  What a population run computes, returned to the caller
 * instead of written to hedis.run_patient: one row per patient of
 * hedis.patient (keys ascending) with the outcome hedis.run_result shows
 * (the result of hedis.evaluate_patient_result without its "patient"
 * member).  The patients are read in batches of hedis.run_batch_size, as a
 * run's worker reads them: screened by birth date first (patients outside
 * every initial population are not read; hedis_measure_screen), the index
 * entries of the others read in one pass, then each evaluated in a memory
 * context reset after it.  The rows go to a tuplestore, which spills to
 * disk past work_mem: memory does not grow with the population.
 *
 * For a synchronous answer over a population that fits a statement; long
 * work with progress, cancel and resume is hedis.run().  An error of a
 * patient's evaluation ends the statement (a run records it and goes on).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "engine/hedis_engine.h"
#include "runs/runs.h"

/* one batch of patients, read from hedis.patient */
typedef struct PopulationBatch
{
	int			n;
	int64	   *keys;
	text	  **ids;
	DateADT    *birth_dates;
	bool	   *birth_nulls;
	bool	   *outside;
} PopulationBatch;

/*
 * hedis.patient in key order, through its primary key: read in place
 * rather than through SPI, whose copies of every row cost 8 % of a
 * generated patient's evaluation.  The caller's right to read the table
 * is checked as a query's would be; row security is not applied here, so
 * a table that has it is refused.
 */
typedef struct PatientScan
{
	Relation	heap;
	Relation	index;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	AttrNumber	att_key;
	AttrNumber	att_id;
	AttrNumber	att_birth;
	bool		done;			/* the index is read to its end (reading on would start it again) */
} PatientScan;

static void
patient_scan_begin(PatientScan *ps)
{
	Oid			nsp = get_namespace_oid("hedis", false);
	Oid			relid = get_relname_relid("patient", nsp);
	Oid			index_oid = get_relname_relid("patient_pkey", nsp);
	AclResult	acl;

	if (!OidIsValid(relid) || !OidIsValid(index_oid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("hedis.patient or its primary key patient_pkey is missing")));
	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, "patient");
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("hedis.evaluate_population does not apply row security, which hedis.patient has enabled"),
				 errhint("Evaluate the patients you may see with hedis.evaluate_patient_result.")));
	ps->heap = table_open(relid, AccessShareLock);
	ps->index = index_open(index_oid, AccessShareLock);
	ps->att_key = get_attnum(relid, "patient_key");
	ps->att_id = get_attnum(relid, "fhir_id");
	ps->att_birth = get_attnum(relid, "birth_date");
	if (ps->index->rd_rel->relam != BTREE_AM_OID ||
		IndexRelationGetNumberOfKeyAttributes(ps->index) != 1 ||
		ps->index->rd_index->indkey.values[0] != ps->att_key ||
		ps->att_id == InvalidAttrNumber || ps->att_birth == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("hedis.patient is not the table pg_hedis created")));
	ps->scan = index_beginscan(ps->heap, ps->index, GetActiveSnapshot(), 0, 0);
	index_rescan(ps->scan, NULL, 0, NULL, 0);
	ps->slot = table_slot_create(ps->heap, NULL);
	ps->done = false;
}

/* the next (up to) max patients, in CurrentMemoryContext; false when none is left */
static bool
patient_scan_batch(PatientScan *ps, int max, PopulationBatch *b)
{
	AttrNumber	natts = Max(ps->att_key, Max(ps->att_id, ps->att_birth));

	b->n = 0;
	b->keys = palloc(sizeof(int64) * max);
	b->ids = palloc(sizeof(text *) * max);
	b->birth_dates = palloc(sizeof(DateADT) * max);
	b->birth_nulls = palloc(sizeof(bool) * max);
	b->outside = palloc(sizeof(bool) * max);
	while (b->n < max && !ps->done)
	{
		TupleTableSlot *slot = ps->slot;

		if (!index_getnext_slot(ps->scan, ForwardScanDirection, slot))
		{
			ps->done = true;
			break;
		}

		slot_getsomeattrs(slot, natts);
		b->keys[b->n] = DatumGetInt64(slot->tts_values[ps->att_key - 1]);
		b->ids[b->n] = DatumGetTextPCopy(slot->tts_values[ps->att_id - 1]);
		b->birth_nulls[b->n] = slot->tts_isnull[ps->att_birth - 1];
		b->birth_dates[b->n] = b->birth_nulls[b->n] ? 0 :
			DatumGetDateADT(slot->tts_values[ps->att_birth - 1]);
		b->n++;
	}
	return b->n > 0;
}

static void
patient_scan_end(PatientScan *ps)
{
	ExecDropSingleTupleTableSlot(ps->slot);
	index_endscan(ps->scan);
	index_close(ps->index, NoLock);
	table_close(ps->heap, NoLock);
}

/*
 * The batch's rows: the screened-out patients with the outcome of such a
 * patient, the others evaluated (their index entries read in one pass).
 */
static void
emit_batch(ReturnSetInfo *rsinfo, const char *measure, DateADT start, DateADT end,
		   const PopulationBatch *b, Jsonb *outside_outcome, MemoryContext patient_cxt)
{
	MemoryContext oldcxt = CurrentMemoryContext;

	hedis_engine_prefetch_patients(b->keys, b->outside, b->n);
	PG_TRY();
	{
		for (int i = 0; i < b->n; i++)
		{
			Datum		values[3];
			bool		nulls[3] = {false, false, false};

			CHECK_FOR_INTERRUPTS();
			MemoryContextSwitchTo(patient_cxt);
			values[0] = Int64GetDatum(b->keys[i]);
			values[1] = PointerGetDatum(b->ids[i]);
			values[2] = JsonbPGetDatum(b->outside[i] ? outside_outcome :
									   hedis_measure_evaluate_outcome(measure, b->keys[i],
																	  start, end));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			MemoryContextReset(patient_cxt);
		}
	}
	PG_FINALLY();
	{
		hedis_engine_prefetch_forget();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
}

PG_FUNCTION_INFO_V1(hedis_evaluate_population);
Datum
hedis_evaluate_population(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *measure;
	DateADT		start;
	DateADT		end;
	MemoryContext batch_cxt;
	MemoryContext patient_cxt;
	MemoryContext caller;
	Jsonb	   *outside_outcome = NULL;
	PatientScan scan;
	PopulationBatch b;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("measure, period_start and period_end must not be null")));
	measure = text_to_cstring(PG_GETARG_TEXT_PP(0));
	start = PG_GETARG_DATEADT(1);
	end = PG_GETARG_DATEADT(2);
	if (end < start)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("measurement period ends before it starts")));
	InitMaterializedSRF(fcinfo, 0);
	caller = CurrentMemoryContext;
	batch_cxt = AllocSetContextCreate(caller, "hedis population batch", ALLOCSET_DEFAULT_SIZES);
	patient_cxt = AllocSetContextCreate(caller, "hedis population patient", ALLOCSET_DEFAULT_SIZES);

	patient_scan_begin(&scan);
	for (;;)
	{
		MemoryContextSwitchTo(batch_cxt);
		if (!patient_scan_batch(&scan, hedis_runs_batch_size, &b))
			break;
		if (hedis_measure_screen(measure, start, end, b.birth_dates, b.birth_nulls,
								 b.n, b.outside) > 0 && outside_outcome == NULL)
		{
			MemoryContextSwitchTo(caller);
			outside_outcome = hedis_measure_outside_outcome(measure, start, end);
			MemoryContextSwitchTo(batch_cxt);
		}
		emit_batch(rsinfo, measure, start, end, &b, outside_outcome, patient_cxt);
		MemoryContextSwitchTo(caller);
		MemoryContextReset(batch_cxt);
	}
	MemoryContextSwitchTo(caller);
	patient_scan_end(&scan);
	MemoryContextDelete(batch_cxt);
	MemoryContextDelete(patient_cxt);
	return (Datum) 0;
}
