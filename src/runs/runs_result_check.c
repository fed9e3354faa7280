/*
 * runs_result_check.c
 *		hedis.run_patient's reference to hedis.run, checked row by row in C.
 *
 * Owner: runs.  run_patient.run_id has the guarantees of a foreign key to
 * hedis.run: a result of a missing run is a foreign_key_violation (23503),
 * and the run row is locked FOR KEY SHARE, so that a concurrent DELETE of the
 * run waits for the inserting transaction (whose results its cascade trigger
 * then deletes).  A real foreign key checked every inserted result, each
 * check locking the same run row for every worker; the statement trigger
 * that replaced it copied every result into a transition table and ran two
 * plpgsql queries per batch, 6 % of a population run.  This BEFORE ROW
 * trigger checks and locks a run the first time a statement (command) names
 * it and remembers it for the rest of that statement: a batch of 2,000 results
 * costs one look-up.
 *
 * As PostgreSQL's own foreign key checks do (ri_triggers.c), the look-up
 * runs as the owner of hedis.run, with search_path pinned: the inserting role
 * needs no privilege on hedis.run.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "common/search_path.h"

/* the run checked last, and in which statement */
static struct
{
	LocalTransactionId lxid;
	SubTransactionId subxid;
	CommandId	cid;
	int64		run_id;
} checked = {InvalidLocalTransactionId};

static SPIPlanPtr lock_plan = NULL;

/* run_patient.run_id's attribute number, for the relation it was found in */
static Oid	run_id_rel = InvalidOid;
static int	run_id_attnum = 0;

static Oid
relation_owner(Oid relid)
{
	HeapTuple	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tp))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tp))->relowner;
	ReleaseSysCache(tp);
	return owner;
}

/* lock the run FOR KEY SHARE; false if it does not exist */
static bool
lock_run(int64 run_id)
{
	Oid			run_rel = get_relname_relid("run", get_namespace_oid("hedis", false));
	Oid			save_userid;
	int			save_sec_context;
	int			pinned;
	Datum		args[1] = {Int64GetDatum(run_id)};
	int			rc;

	if (!OidIsValid(run_rel))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("hedis.run is missing")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(relation_owner(run_rel),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	pinned = search_path_pin();
	if (lock_plan == NULL)
	{
		Oid			argtypes[1] = {INT8OID};
		SPIPlanPtr	p = SPI_prepare("SELECT 1 FROM hedis.run x"
									" WHERE x.run_id OPERATOR(pg_catalog.=) $1 FOR KEY SHARE OF x",
									1, argtypes);

		if (p == NULL)
			elog(ERROR, "could not prepare the run look-up: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		lock_plan = p;
	}
	rc = SPI_execute_plan(lock_plan, args, NULL, false, 1);
	search_path_restore(pinned);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not look up run " INT64_FORMAT ": %s", run_id, SPI_result_code_string(rc));
	rc = (int) SPI_processed;
	SPI_finish();
	return rc > 0;
}

PG_FUNCTION_INFO_V1(hedis_run_result_check_run);
Datum
hedis_run_result_check_run(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	tuple;
	bool		isnull;
	int			attnum;
	int64		run_id;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		elog(ERROR, "hedis_run_result_check_run: not called as a BEFORE ROW trigger");
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	/* the column's number, found once per relation rather than once per row */
	if (run_id_rel != RelationGetRelid(trigdata->tg_relation))
	{
		run_id_attnum = SPI_fnumber(RelationGetDescr(trigdata->tg_relation), "run_id");
		if (run_id_attnum <= 0)
			elog(ERROR, "table \"%s\" has no run_id", RelationGetRelationName(trigdata->tg_relation));
		run_id_rel = RelationGetRelid(trigdata->tg_relation);
	}
	attnum = run_id_attnum;
	run_id = DatumGetInt64(heap_getattr(tuple, attnum, RelationGetDescr(trigdata->tg_relation), &isnull));
	if (isnull)
		return PointerGetDatum(tuple);	/* NOT NULL refuses it */

	if (checked.lxid != MyProc->lxid || checked.subxid != GetCurrentSubTransactionId() ||
		checked.cid != GetCurrentCommandId(false) || checked.run_id != run_id)
	{
		if (!lock_run(run_id))
			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("insert or update on table \"%s\" violates its reference to hedis.run",
							RelationGetRelationName(trigdata->tg_relation)),
					 errdetail("Key (run_id)=(" INT64_FORMAT ") is not present in table \"run\".", run_id)));
		checked.lxid = MyProc->lxid;
		checked.subxid = GetCurrentSubTransactionId();
		checked.cid = GetCurrentCommandId(false);
		checked.run_id = run_id;
	}
	return PointerGetDatum(tuple);
}
