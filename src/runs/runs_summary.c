/*
 * runs_summary.c
 *		A run's counts per group, stratum and population, added up in C from
 *		the engine's compact results and stored in hedis.run_summary_part.
 *
 * The counts used to be computed by SQL over the stored results
 * (jsonb_array_elements, jsonb_each_text, GROUP BY): that query cost more
 * than evaluating the patients.  Here each result is walked once and its
 * counts go to a small hash table; a batch (or a synchronous run) then
 * writes one row per key.
 *
 * The rows are what that query produced (see the comments of
 * hedis.run_summary_part): group_index is the group's position, group_id its
 * "id" (or its position as text), stratifier '' and stratum '' for the whole
 * group, else the stratifier's "id" (or position) and its value as jsonb
 * text; count sums the population counts (an episodic stratum's own, else
 * the group's), patients counts the results whose count is above 0.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "common/jsonb_access.h"
#include "runs/runs.h"

/* one population's counts within one stratum */
typedef struct PopulationCount
{
	char	   *population;
	int			len;
	int64		count;
	int64		patients;
} PopulationCount;

/* the counts of one group (stratifier '' and stratum '') or one stratum of it */
typedef struct StratumEntry
{
	uint32		hash;			/* of group_index, stratifier, stratum */
	int			group_index;
	char	   *group_id;
	char	   *stratifier;
	char	   *stratum;
	int			npops;
	int			cappops;
	PopulationCount *pops;
} StratumEntry;

struct RunSummary
{
	MemoryContext mcxt;			/* the entries */
	MemoryContext scratch;		/* one result's transient values, reset per result */
	StratumEntry **slots;		/* open addressing, power-of-two size */
	int			nslots;
	int			nentries;		/* strata */
	int			nrows;			/* (stratum, population) pairs */
};

static const char *const summary_upsert_sql =
"INSERT INTO hedis.run_summary_part AS s"
"       (run_id, worker, group_index, group_id, stratifier, stratum, population, count, patients)"
"SELECT $1, $2, u.gi, u.gid, u.st, u.sv, u.pop, u.n, u.p"
"  FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[])"
"       AS u(gi, gid, st, sv, pop, n, p)"
" ON CONFLICT (run_id, worker, group_index, stratifier, stratum, population)"
" DO UPDATE SET count = s.count + excluded.count, patients = s.patients + excluded.patients";

static SPIPlanPtr summary_upsert_plan = NULL;

RunSummary *
run_summary_create(MemoryContext mcxt)
{
	RunSummary *s = MemoryContextAllocZero(mcxt, sizeof(RunSummary));

	s->mcxt = mcxt;
	s->scratch = AllocSetContextCreate(mcxt, "hedis run summary scratch", ALLOCSET_SMALL_SIZES);
	s->nslots = 64;
	s->slots = MemoryContextAllocZero(mcxt, sizeof(StratumEntry *) * s->nslots);
	return s;
}

static void
summary_grow(RunSummary *s)
{
	StratumEntry **old = s->slots;
	int			oldn = s->nslots;

	s->nslots *= 2;
	s->slots = MemoryContextAllocZero(s->mcxt, sizeof(StratumEntry *) * s->nslots);
	for (int i = 0; i < oldn; i++)
		if (old[i])
		{
			uint32		h = old[i]->hash & (s->nslots - 1);

			while (s->slots[h])
				h = (h + 1) & (s->nslots - 1);
			s->slots[h] = old[i];
		}
	pfree(old);
}

/* the entry of (group, stratifier, stratum), made on first sight */
static StratumEntry *
stratum_entry(RunSummary *s, int group_index, const char *group_id,
			  const char *stratifier, const char *stratum)
{
	uint32		h;
	StratumEntry *e;

	h = hash_combine(hash_bytes_uint32((uint32) group_index),
					 hash_bytes((const unsigned char *) stratifier, strlen(stratifier)));
	h = hash_combine(h, hash_bytes((const unsigned char *) stratum, strlen(stratum)));
	for (uint32 i = h & (s->nslots - 1);; i = (i + 1) & (s->nslots - 1))
	{
		e = s->slots[i];
		if (e == NULL)
		{
			e = MemoryContextAllocZero(s->mcxt, sizeof(StratumEntry));
			e->hash = h;
			e->group_index = group_index;
			e->group_id = MemoryContextStrdup(s->mcxt, group_id);
			e->stratifier = MemoryContextStrdup(s->mcxt, stratifier);
			e->stratum = MemoryContextStrdup(s->mcxt, stratum);
			e->cappops = 8;
			e->pops = MemoryContextAllocZero(s->mcxt, sizeof(PopulationCount) * e->cappops);
			s->slots[i] = e;
			if (++s->nentries * 2 > s->nslots)
				summary_grow(s);
			break;
		}
		if (e->hash == h && e->group_index == group_index &&
			strcmp(e->stratifier, stratifier) == 0 && strcmp(e->stratum, stratum) == 0)
			break;
	}
	/* min(group_id), as the SQL summary took it */
	if (strcmp(group_id, e->group_id) < 0)
		e->group_id = MemoryContextStrdup(s->mcxt, group_id);
	return e;
}

/*
 * add one count of a population (name of len bytes) for each of times
 * patients; the same order each time is the fast path
 */
static void
population_count(RunSummary *s, StratumEntry *e, int position, const char *name, int len,
				 int64 n, int64 times)
{
	PopulationCount *pc = NULL;

	if (position < e->npops && e->pops[position].len == len &&
		memcmp(e->pops[position].population, name, len) == 0)
		pc = &e->pops[position];
	for (int i = 0; pc == NULL && i < e->npops; i++)
		if (e->pops[i].len == len && memcmp(e->pops[i].population, name, len) == 0)
			pc = &e->pops[i];
	if (pc == NULL)
	{
		if (e->npops == e->cappops)
		{
			e->cappops *= 2;
			e->pops = repalloc(e->pops, sizeof(PopulationCount) * e->cappops);
		}
		pc = &e->pops[e->npops++];
		pc->population = MemoryContextAlloc(s->mcxt, len + 1);
		memcpy(pc->population, name, len);
		pc->population[len] = '\0';
		pc->len = len;
		pc->count = pc->patients = 0;
		s->nrows++;
	}
	pc->count += n * times;
	if (n > 0)
		pc->patients += times;
}

/* a count: the engine writes small integers, compared here with cached ones */
static int64
count_value(Numeric num)
{
	static Numeric small[16];

	if (small[0] == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		for (int i = 0; i < lengthof(small); i++)
			small[i] = int64_to_numeric(i);
		MemoryContextSwitchTo(old);
	}
	for (int i = 0; i < lengthof(small); i++)
		if (VARSIZE_ANY(num) == VARSIZE_ANY(small[i]) &&
			memcmp(num, small[i], VARSIZE_ANY(num)) == 0)
			return i;
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(num)));
}

/* count every population of a group's "populations" object under one stratum */
static void
count_populations(RunSummary *s, JsonbContainer *pops, StratumEntry *e, int64 times)
{
	JbObjectWalk w;
	const char *population;
	int			len;
	JsonbValue	v;
	int			position = 0;

	jb_object_walk_begin(&w, pops);
	while (jb_object_walk_next(&w, &population, &len, &v))
	{
		if (v.type != jbvNumeric)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("population \"%.*s\" of a run result is not a number", len, population)));
		population_count(s, e, position++, population, len, count_value(v.val.numeric), times);
	}
}

/* a member's value as jsonb text ("null" when absent) */
static char *
member_jsonb_text(JsonbContainer *obj, const char *key)
{
	JsonbValue	v;

	if (!jb_object_get(obj, key, strlen(key), &v))
		return "null";
	/* scalars as jsonb's output writes them; containers through it */
	switch (v.type)
	{
		case jbvNull:
			return "null";
		case jbvBool:
			return v.val.boolean ? "true" : "false";
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
		case jbvString:
			{
				StringInfoData out;

				initStringInfo(&out);
				escape_json(&out, pnstrdup(v.val.string.val, v.val.string.len));
				return out.data;
			}
		default:
			return JsonbToCString(NULL, v.val.binary.data, v.val.binary.len);
	}
}

/*
 * add one compact result (see hedis_engine.h), the result of times patients;
 * NULL (an error) counts nothing
 */
void
run_summary_add(RunSummary *s, Jsonb *result, int64 times)
{
	JsonbContainer *groups;
	MemoryContext old;

	if (result == NULL || !JB_ROOT_IS_OBJECT(result))
		return;
	MemoryContextReset(s->scratch);
	old = MemoryContextSwitchTo(s->scratch);
	groups = jb_member_container(&result->root, "groups");
	for (int gi = 0; gi < jb_array_length(groups); gi++)
	{
		JsonbContainer *g = jb_array_item(groups, gi);
		JsonbContainer *pops;
		JsonbContainer *strats;
		char	   *gid;

		if (g == NULL || !JsonContainerIsObject(g))
			continue;
		gid = jb_member_string(g, "id");
		if (gid == NULL)
			gid = psprintf("%d", gi);
		pops = jb_member_container(g, "populations");
		if (pops == NULL || !JsonContainerIsObject(pops))
			continue;
		count_populations(s, pops, stratum_entry(s, gi, gid, "", ""), times);
		strats = jb_member_container(g, "stratifiers");
		for (int si = 0; si < jb_array_length(strats); si++)
		{
			JsonbContainer *st = jb_array_item(strats, si);
			JsonbContainer *stpops;
			char	   *sid;

			if (st == NULL || !JsonContainerIsObject(st))
				continue;
			sid = jb_member_string(st, "id");
			/* an episodic stratum has counts of its own, else the group's are the stratum's */
			stpops = jb_member_container(st, "populations");
			count_populations(s, stpops && JsonContainerIsObject(stpops) ? stpops : pops,
							  stratum_entry(s, gi, gid, sid ? sid : psprintf("%d", si),
											member_jsonb_text(st, "value")),
							  times);
		}
	}
	MemoryContextSwitchTo(old);
}

/* add the counts to the worker's rows of hedis.run_summary_part (SPI connected), then forget them */
void
run_summary_store(RunSummary *s, int64 run_id, int worker)
{
	Oid			argtypes[9] = {INT8OID, INT4OID, INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID};
	Datum		args[9];
	Datum	   *cols[7];
	int			n = 0;
	int			rc;
	MemoryContext old;

	if (s->nrows == 0)
		return;
	old = MemoryContextSwitchTo(s->scratch);
	for (int c = 0; c < 7; c++)
		cols[c] = palloc(sizeof(Datum) * s->nrows);
	for (int i = 0; i < s->nslots; i++)
	{
		StratumEntry *e = s->slots[i];

		for (int p = 0; e != NULL && p < e->npops; p++)
		{
			cols[0][n] = Int32GetDatum(e->group_index);
			cols[1][n] = CStringGetTextDatum(e->group_id);
			cols[2][n] = CStringGetTextDatum(e->stratifier);
			cols[3][n] = CStringGetTextDatum(e->stratum);
			cols[4][n] = CStringGetTextDatum(e->pops[p].population);
			cols[5][n] = Int64GetDatum(e->pops[p].count);
			cols[6][n] = Int64GetDatum(e->pops[p].patients);
			n++;
		}
	}
	args[0] = Int64GetDatum(run_id);
	args[1] = Int32GetDatum(worker);
	args[2] = PointerGetDatum(construct_array(cols[0], n, INT4OID, 4, true, TYPALIGN_INT));
	for (int c = 1; c <= 4; c++)
		args[2 + c] = PointerGetDatum(construct_array(cols[c], n, TEXTOID, -1, false, TYPALIGN_INT));
	args[7] = PointerGetDatum(construct_array(cols[5], n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[8] = PointerGetDatum(construct_array(cols[6], n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	MemoryContextSwitchTo(old);
	rc = runs_execute(&summary_upsert_plan, summary_upsert_sql, 9, argtypes, args, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not store the summary of run %lld: %s",
			 (long long) run_id, SPI_result_code_string(rc));
	memset(s->slots, 0, sizeof(StratumEntry *) * s->nslots);
	s->nentries = 0;
	s->nrows = 0;
	MemoryContextReset(s->scratch);
}
