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
 * text; count sums the population counts, patients counts the results whose
 * count is above 0.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "common/jsonb_access.h"
#include "runs/runs.h"

typedef struct SummaryEntry
{
	uint32		hash;			/* of group_index, stratifier, stratum, population */
	int			group_index;
	char	   *group_id;
	char	   *stratifier;
	char	   *stratum;
	char	   *population;
	int64		count;
	int64		patients;
} SummaryEntry;

struct RunSummary
{
	MemoryContext mcxt;
	SummaryEntry **slots;		/* open addressing, power-of-two size */
	int			nslots;
	int			nentries;
};

static const char *const summary_upsert_sql =
"INSERT INTO hedis.run_summary_part AS s"
"       (run_id, worker, group_index, group_id, stratifier, stratum, population, count, patients)"
"SELECT $1, $2, u.gi, u.gid, u.st, u.sv, u.pop, u.n, u.p"
"  FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[])"
"       AS u(gi, gid, st, sv, pop, n, p)"
" ON CONFLICT (run_id, worker, group_index, stratifier, stratum, population)"
" DO UPDATE SET count = s.count + excluded.count, patients = s.patients + excluded.patients";

RunSummary *
run_summary_create(MemoryContext mcxt)
{
	RunSummary *s = MemoryContextAllocZero(mcxt, sizeof(RunSummary));
	MemoryContext old = MemoryContextSwitchTo(mcxt);

	s->mcxt = mcxt;
	s->nslots = 64;
	s->slots = palloc0(sizeof(SummaryEntry *) * s->nslots);
	MemoryContextSwitchTo(old);
	return s;
}

static void
summary_grow(RunSummary *s)
{
	SummaryEntry **old = s->slots;
	int			oldn = s->nslots;

	s->nslots *= 2;
	s->slots = MemoryContextAllocZero(s->mcxt, sizeof(SummaryEntry *) * s->nslots);
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

static void
summary_count(RunSummary *s, int group_index, const char *group_id,
			  const char *stratifier, const char *stratum, const char *population, int64 n)
{
	uint32		h;
	SummaryEntry *e;

	h = hash_combine(hash_bytes_uint32((uint32) group_index),
					 hash_bytes((const unsigned char *) stratifier, strlen(stratifier)));
	h = hash_combine(h, hash_bytes((const unsigned char *) stratum, strlen(stratum)));
	h = hash_combine(h, hash_bytes((const unsigned char *) population, strlen(population)));
	for (uint32 i = h & (s->nslots - 1);; i = (i + 1) & (s->nslots - 1))
	{
		e = s->slots[i];
		if (e == NULL)
		{
			MemoryContext old = MemoryContextSwitchTo(s->mcxt);

			e = palloc0(sizeof(SummaryEntry));
			e->hash = h;
			e->group_index = group_index;
			e->group_id = pstrdup(group_id);
			e->stratifier = pstrdup(stratifier);
			e->stratum = pstrdup(stratum);
			e->population = pstrdup(population);
			MemoryContextSwitchTo(old);
			s->slots[i] = e;
			s->nentries++;
			break;
		}
		if (e->hash == h && e->group_index == group_index &&
			strcmp(e->stratifier, stratifier) == 0 && strcmp(e->stratum, stratum) == 0 &&
			strcmp(e->population, population) == 0)
			break;
	}
	/* min(group_id), as the SQL summary took it */
	if (strcmp(group_id, e->group_id) < 0)
		e->group_id = MemoryContextStrdup(s->mcxt, group_id);
	e->count += n;
	if (n > 0)
		e->patients++;
	if (s->nentries * 2 > s->nslots)
		summary_grow(s);
}

/* a member's value as jsonb text ("null" when absent) */
static char *
member_jsonb_text(JsonbContainer *obj, const char *key)
{
	JsonbValue	v;

	if (getKeyJsonValueFromContainer(obj, key, strlen(key), &v) == NULL)
		return "null";
	if (v.type == jbvBinary)
		return JsonbToCString(NULL, v.val.binary.data, v.val.binary.len);
	{
		Jsonb	   *scalar = JsonbValueToJsonb(&v);

		return JsonbToCString(NULL, &scalar->root, VARSIZE(scalar));
	}
}

/* count every population of a group's "populations" object under one stratum */
static void
count_populations(RunSummary *s, JsonbContainer *pops, int gi, const char *gid,
				  const char *stratifier, const char *stratum)
{
	JsonbIterator *it = JsonbIteratorInit(pops);
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *population = NULL;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			population = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE && population)
		{
			int64		n = 0;

			if (v.type == jbvNumeric)
				n = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v.val.numeric)));
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("population \"%s\" of a run result is not a number", population)));
			summary_count(s, gi, gid, stratifier, stratum, population, n);
			population = NULL;
		}
	}
}

/* add one compact result (see hedis_engine.h); NULL (an error) counts nothing */
void
run_summary_add(RunSummary *s, Jsonb *result)
{
	JsonbContainer *groups;
	MemoryContext old;

	if (result == NULL || !JB_ROOT_IS_OBJECT(result))
		return;
	old = MemoryContextSwitchTo(s->mcxt);
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
		count_populations(s, pops, gi, gid, "", "");
		strats = jb_member_container(g, "stratifiers");
		for (int si = 0; si < jb_array_length(strats); si++)
		{
			JsonbContainer *st = jb_array_item(strats, si);
			char	   *sid;

			if (st == NULL || !JsonContainerIsObject(st))
				continue;
			sid = jb_member_string(st, "id");
			count_populations(s, pops, gi, gid, sid ? sid : psprintf("%d", si),
							  member_jsonb_text(st, "value"));
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

	if (s->nentries == 0)
		return;
	old = MemoryContextSwitchTo(s->mcxt);
	for (int c = 0; c < 7; c++)
		cols[c] = palloc(sizeof(Datum) * s->nentries);
	for (int i = 0; i < s->nslots; i++)
	{
		SummaryEntry *e = s->slots[i];

		if (e == NULL)
			continue;
		cols[0][n] = Int32GetDatum(e->group_index);
		cols[1][n] = CStringGetTextDatum(e->group_id);
		cols[2][n] = CStringGetTextDatum(e->stratifier);
		cols[3][n] = CStringGetTextDatum(e->stratum);
		cols[4][n] = CStringGetTextDatum(e->population);
		cols[5][n] = Int64GetDatum(e->count);
		cols[6][n] = Int64GetDatum(e->patients);
		n++;
	}
	args[0] = Int64GetDatum(run_id);
	args[1] = Int32GetDatum(worker);
	args[2] = PointerGetDatum(construct_array(cols[0], n, INT4OID, 4, true, TYPALIGN_INT));
	for (int c = 1; c <= 4; c++)
		args[2 + c] = PointerGetDatum(construct_array(cols[c], n, TEXTOID, -1, false, TYPALIGN_INT));
	args[7] = PointerGetDatum(construct_array(cols[5], n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[8] = PointerGetDatum(construct_array(cols[6], n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	MemoryContextSwitchTo(old);
	rc = SPI_execute_with_args(summary_upsert_sql, 9, argtypes, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not store the summary of run %lld: %s",
			 (long long) run_id, SPI_result_code_string(rc));
	memset(s->slots, 0, sizeof(SummaryEntry *) * s->nslots);
	s->nentries = 0;
}
