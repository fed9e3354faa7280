/*
 * measure.c
 *		FHIR Measure evaluation: population criteria with the dependencies
 *		FHIR scoring defines (proportion, ratio, continuous variable),
 *		patient- and episode-based groups, measure observations and their
 *		score, stratifiers; the results as a compact jsonb (for population
 *		runs) or a FHIR MeasureReport of type individual (with evidence).
 *
 * A Measure is compiled once per backend: its library is compiled and each
 * population's criteria resolved to an expression definition.  Nothing here
 * knows any particular measure; everything comes from the Measure resource.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "access/xact.h"
#include "utils/memutils.h"

#include "common/jsonb_access.h"
#include "common/search_path.h"
#include "engine/elm_ops.h"
#include "engine/fhir_data.h"
#include "engine/hedis_engine.h"
#include "engine/measure.h"

static const char *const population_codes[HEDIS_NPOP] = {
	"initial-population", "denominator", "denominator-exclusion",
	"denominator-exception", "numerator", "numerator-exclusion",
	"measure-population", "measure-population-exclusion", "measure-observation"
};

const char *
measure_population_code(int i)
{
	return population_codes[i];
}

typedef struct CachedMeasure
{
	char	   *ref;
	MeasureDef *m;
	struct CachedMeasure *next;
} CachedMeasure;

static CachedMeasure *measure_cache = NULL;
static uint64 measure_cache_version = 0;
static uint64 evaluation_epoch = 0;

/* value of the extension with this url (code, string or concept's code), or NULL */
static char *
extension_code(JsonbContainer *obj, const char *url_suffix)
{
	JsonbContainer *exts = jb_member_container(obj, "extension");

	for (int i = 0; i < jb_array_length(exts); i++)
	{
		JsonbContainer *e = jb_array_item(exts, i);
		char	   *url = jb_member_string(e, "url");

		if (url && strlen(url) >= strlen(url_suffix) &&
			strcmp(url + strlen(url) - strlen(url_suffix), url_suffix) == 0)
		{
			char	   *code = jb_member_string(e, "valueCode");
			JsonbContainer *cc;

			if (code)
				return code;
			code = jb_member_string(e, "valueString");
			if (code)
				return code;
			cc = jb_member_container(e, "valueCodeableConcept");
			if (cc && jb_array_length(jb_member_container(cc, "coding")) > 0)
				return jb_member_string(jb_array_item(jb_member_container(cc, "coding"), 0), "code");
		}
	}
	return NULL;
}

static char *
concept_code(JsonbContainer *cc)
{
	JsonbContainer *coding = jb_member_container(cc, "coding");

	return jb_array_length(coding) > 0 ? jb_member_string(jb_array_item(coding, 0), "code") : NULL;
}

static ElmDef *
criteria_def(MeasureDef *m, JsonbContainer *criteria, const char *what)
{
	char	   *expr = jb_member_string(criteria, "expression");
	ElmDef	   *def;

	if (expr == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("measure \"%s\": %s has no criteria expression", m->name, what)));
	def = elm_library_find_def(m->lib, expr);
	if (def == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("measure \"%s\": %s names \"%s\", which library \"%s\" does not define",
						m->name, what, expr, m->lib->name)));
	return def;
}

static int
population_index(const char *code)
{
	for (int i = 0; i < HEDIS_NPOP; i++)
		if (code && strcmp(population_codes[i], code) == 0)
			return i;
	/* test-case reports from MADiE spell the observation this way */
	if (code && strcmp(code, "measure-population-observation") == 0)
		return HEDIS_POP_MOBS;
	return -1;
}

/*
 * The function of the measure's library a measure observation names: one
 * operand (the episode), or none (a patient-based group's observation of
 * the patient); the one-operand overload first.
 */
static ElmFunction *
criteria_function(MeasureDef *m, const char *expr)
{
	ElmFunction *none = NULL;

	for (int i = 0; expr && i < m->lib->nfuncs; i++)
		if (strcmp(m->lib->funcs[i].name, expr) == 0)
		{
			if (m->lib->funcs[i].noperands == 1)
				return &m->lib->funcs[i];
			if (m->lib->funcs[i].noperands == 0)
				none = &m->lib->funcs[i];
		}
	return none;
}

static const char *const aggregate_codes[] = {
	NULL, "sum", "average", "median", "minimum", "maximum", "count"
};

/* cqfm-aggregateMethod (measure-aggregate-method codes; MADiE writes them capitalised) */
static MeasureAggregate
aggregate_method(MeasureDef *m, JsonbContainer *pop)
{
	char	   *code = extension_code(pop, "aggregateMethod");

	if (code == NULL)
		return AGG_NONE;
	for (int a = AGG_SUM; a <= AGG_COUNT; a++)
		if (pg_strcasecmp(code, aggregate_codes[a]) == 0)
			return (MeasureAggregate) a;
	if (pg_strcasecmp(code, "min") == 0)
		return AGG_MINIMUM;
	if (pg_strcasecmp(code, "max") == 0)
		return AGG_MAXIMUM;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("measure \"%s\": unknown aggregate method \"%s\" of a measure observation", m->name, code),
			 errhint("Known methods: sum, average, median, minimum, maximum, count.")));
}

/*
 * A measure-observation population: its function now, the population it
 * observes once every population of the group is known (criteriaReference
 * names one by id; without it, the measure population, else the initial
 * population).
 */
static void
observation_compile(MeasureDef *m, MeasureGroup *mg, JsonbContainer *pop, char **reference)
{
	MeasureObservation *o;
	char	   *expr;

	if (mg->nobs == HEDIS_MAX_OBSERVATIONS)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("measure \"%s\" group \"%s\" has more than %d measure observations",
						m->name, mg->id, HEDIS_MAX_OBSERVATIONS)));
	o = &mg->obs[mg->nobs];
	o->id = jb_member_string(pop, "id");
	expr = jb_member_string(jb_member_container(pop, "criteria"), "expression");
	o->function = criteria_function(m, expr);
	if (o->function == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("measure \"%s\": measure observation \"%s\" is no function of one operand or none in library \"%s\"",
						m->name, expr ? expr : "(no criteria expression)", m->lib->name)));
	o->aggregate = aggregate_method(m, pop);
	reference[mg->nobs] = extension_code(pop, "criteriaReference");
	mg->nobs++;
}

static void
observation_resolve(MeasureDef *m, MeasureGroup *mg, char **reference)
{
	for (int k = 0; k < mg->nobs; k++)
	{
		MeasureObservation *o = &mg->obs[k];

		o->observed = mg->pop[HEDIS_POP_MPOP] ? HEDIS_POP_MPOP : HEDIS_POP_IP;
		if (reference[k] == NULL)
			continue;
		o->observed = -1;
		for (int p = 0; p < HEDIS_NPOP; p++)
			if (mg->pop[p] && mg->pop_id[p] &&
				strcmp(mg->pop_id[p], reference[k]) == 0)
				o->observed = p;
		if (o->observed < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("measure \"%s\" group \"%s\": a measure observation refers to population \"%s\", which the group lacks",
							m->name, mg->id, reference[k])));
	}
}

/*
 * A stratifier or supplemental data element the measure cannot evaluate
 * (no criteria expression, or one its library lacks) is left out with a
 * warning: the populations can still be computed.
 */
static ElmDef *
optional_criteria_def(MeasureDef *m, JsonbContainer *criteria, const char *what, const char *id)
{
	char	   *expr = jb_member_string(criteria, "expression");
	ElmDef	   *def = expr ? elm_library_find_def(m->lib, expr) : NULL;

	if (def == NULL)
		ereport(WARNING,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("measure \"%s\": %s \"%s\" is left out: %s", m->name, what,
						id ? id : "(no id)",
						expr ? psprintf("library \"%s\" has no definition \"%s\"", m->lib->name, expr)
						: "it has no criteria expression")));
	return def;
}

static MeasureDef *
measure_compile(const char *ref, Jsonb *resource)
{
	JsonbContainer *root = &resource->root;
	JsonbContainer *libs = jb_member_container(root, "library");
	JsonbContainer *groups = jb_member_container(root, "group");
	JsonbContainer *sdes = jb_member_container(root, "supplementalData");
	MeasureDef *m = palloc0(sizeof(MeasureDef));
	JsonbValue *lv;
	char	   *measure_scoring;
	char	   *measure_basis;

	m->url = jb_member_string(root, "url");
	m->version = jb_member_string(root, "version");
	m->name = jb_member_string(root, "name");
	if (m->name == NULL)
		m->name = m->url ? m->url : pstrdup(ref);
	if (jb_array_length(libs) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("measure \"%s\" names no library", m->name)));
	lv = getIthJsonbValueFromContainer(libs, 0);
	if (lv == NULL || lv->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("measure \"%s\": library[0] is not a canonical url", m->name)));
	{
		char	   *canon = pnstrdup(lv->val.string.val, lv->val.string.len);
		char	   *bar = strchr(canon, '|');

		if (bar)
			*bar++ = '\0';
		m->lib = elm_library_get(canon, bar);
	}
	measure_scoring = concept_code(jb_member_container(root, "scoring"));
	measure_basis = extension_code(root, "cqfm-populationBasis");

	m->ngroups = jb_array_length(groups);
	if (m->ngroups == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("measure \"%s\" has no group", m->name)));
	m->groups = palloc0(sizeof(MeasureGroup) * m->ngroups);
	for (int g = 0; g < m->ngroups; g++)
	{
		JsonbContainer *grp = jb_array_item(groups, g);
		MeasureGroup *mg = &m->groups[g];
		JsonbContainer *pops = jb_member_container(grp, "population");
		JsonbContainer *strats = jb_member_container(grp, "stratifier");
		char	   *references[HEDIS_MAX_OBSERVATIONS];
		char	   *basis = extension_code(grp, "cqfm-populationBasis");
		char	   *scoring = extension_code(grp, "cqfm-scoring");

		mg->id = jb_member_string(grp, "id");
		if (mg->id == NULL)
			mg->id = psprintf("group-%d", g + 1);
		mg->scoring = scoring ? scoring : (measure_scoring ? measure_scoring : "proportion");
		mg->ratio = strcmp(mg->scoring, "ratio") == 0;
		if (basis == NULL)
			basis = measure_basis;
		mg->patient_based = basis == NULL || strcmp(basis, "boolean") == 0;
		for (int p = 0; p < jb_array_length(pops); p++)
		{
			JsonbContainer *pop = jb_array_item(pops, p);
			char	   *code = concept_code(jb_member_container(pop, "code"));
			int			idx = population_index(code);

			if (idx < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("measure \"%s\": unknown population code \"%s\"", m->name,
								code ? code : "(none)")));
			if (idx == HEDIS_POP_MOBS)
			{
				observation_compile(m, mg, pop, references);
				continue;
			}
			if (mg->pop[idx] != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("measure \"%s\" group \"%s\" has two \"%s\" populations",
								m->name, mg->id, code),
						 idx == HEDIS_POP_IP ?
						 errhint("Ratio groups with two initial populations are not supported.") : 0));
			mg->pop_id[idx] = jb_member_string(pop, "id");
			mg->pop[idx] = criteria_def(m, jb_member_container(pop, "criteria"), code);
		}
		if (mg->pop[HEDIS_POP_IP] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("measure \"%s\" group \"%s\" has no initial-population", m->name, mg->id)));
		if (mg->nobs > 0)
			observation_resolve(m, mg, references);
		mg->strat = palloc0(sizeof(MeasureStratifier) * Max(jb_array_length(strats), 1));
		for (int s = 0; s < jb_array_length(strats); s++)
		{
			JsonbContainer *st = jb_array_item(strats, s);
			MeasureStratifier *ms = &mg->strat[mg->nstrat];

			ms->id = jb_member_string(st, "id");
			if (ms->id == NULL)
				ms->id = psprintf("stratifier-%d", s + 1);
			ms->def = optional_criteria_def(m, jb_member_container(st, "criteria"), "stratifier", ms->id);
			if (ms->def)
				mg->nstrat++;
		}
	}
	m->nretrieved = elm_library_retrieved_types(m->lib, &m->retrieved);
	measure_prescreen_compile(m);
	m->sde = palloc0(sizeof(MeasureStratifier) * Max(jb_array_length(sdes), 1));
	for (int s = 0; s < jb_array_length(sdes); s++)
	{
		JsonbContainer *sd = jb_array_item(sdes, s);
		MeasureStratifier *ms = &m->sde[m->nsde];

		ms->id = jb_member_string(sd, "id");
		ms->def = optional_criteria_def(m, jb_member_container(sd, "criteria"), "supplemental data", ms->id);
		if (ms->def)
			m->nsde++;
	}
	return m;
}

/* Call inside SPI. */
MeasureDef *
measure_get(const char *ref)
{
	int			pinned;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	int			rc;
	CachedMeasure *cm;
	MeasureDef *m;
	MemoryContext old;
	Jsonb	   *res;
	bool		isnull;
	MemoryContext caller = CurrentMemoryContext;

	elm_cache_check_generation();
	if (measure_cache_version != elm_cache_current_version())
	{
		measure_cache = NULL;	/* its memory went with the library cache */
		measure_cache_version = elm_cache_current_version();
	}
	for (cm = measure_cache; cm; cm = cm->next)
		if (strcmp(cm->ref, ref) == 0)
			return cm->m;

	engine_spi_ensure();
	args[0] = CStringGetTextDatum(ref);
	pinned = search_path_pin();
	rc = SPI_execute_with_args("SELECT resource FROM hedis.measure "
							   "WHERE url = $1 OR name = $1 OR url || '|' || version = $1 "
							   "ORDER BY (url || '|' || version = $1) DESC, (url = $1) DESC, version DESC LIMIT 1",
							   1, argtypes, args, NULL, true, 1);
	search_path_restore(pinned);
	MemoryContextSwitchTo(caller);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read hedis.measure: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("measure \"%s\" is not loaded", ref),
				 errhint("Load the Measure resource with hedis.load_bundle(); name it by canonical url or name.")));
	old = MemoryContextSwitchTo(elm_cache_context());
	res = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	MemoryContextSwitchTo(old);

	m = NULL;
	PG_TRY();
	{
		old = MemoryContextSwitchTo(elm_cache_context());
		m = measure_compile(ref, res);
		cm = palloc0(sizeof(CachedMeasure));
		cm->ref = pstrdup(ref);
		cm->m = m;
		cm->next = measure_cache;
		measure_cache = cm;
		MemoryContextSwitchTo(old);
	}
	PG_CATCH();
	{
		elm_cache_reset();
		PG_RE_THROW();
	}
	PG_END_TRY();
	return m;
}

/* ---- evaluation -------------------------------------------------------- */

static CqlValue
period_interval(DateADT start, DateADT end)
{
	/* one period for all the patients of a run: its bounds worked out once */
	static bool have = false;
	static DateADT last_start,
				last_end;
	static int	last_tz;
	static CqlDateTime lo,
				hi;

	if (!have || start != last_start || end != last_end || cql_default_tz_minutes != last_tz)
	{
		int			y,
					mo,
					d;
		int			comps[7];

		j2date(start + POSTGRES_EPOCH_JDATE, &y, &mo, &d);
		comps[0] = y;
		comps[1] = mo;
		comps[2] = d;
		comps[3] = comps[4] = comps[5] = comps[6] = 0;
		cql_dt_from_components('T', comps, 7, true, cql_default_tz_minutes, &lo);
		j2date(end + POSTGRES_EPOCH_JDATE, &y, &mo, &d);
		comps[0] = y;
		comps[1] = mo;
		comps[2] = d;
		comps[3] = 23;
		comps[4] = 59;
		comps[5] = 59;
		comps[6] = 999;
		cql_dt_from_components('T', comps, 7, true, cql_default_tz_minutes, &hi);
		last_start = start;
		last_end = end;
		last_tz = cql_default_tz_minutes;
		have = true;
	}
	return cql_interval(cql_temporal(CK_DATETIME, &lo), cql_temporal(CK_DATETIME, &hi), true, true);
}

/* Now(): the transaction's start, as the CQL specification asks; worked out once per transaction */
static void
evaluation_now(CqlDateTime *out)
{
	static TimestampTz last = DT_NOBEGIN;
	static CqlDateTime now;
	TimestampTz ts = GetCurrentTransactionStartTimestamp();

	if (ts != last)
	{
		struct pg_tm tm;
		fsec_t		fsec;
		int			comps[7];

		memset(&now, 0, sizeof(now));
		if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) == 0)
		{
			comps[0] = tm.tm_year;
			comps[1] = tm.tm_mon;
			comps[2] = tm.tm_mday;
			comps[3] = tm.tm_hour;
			comps[4] = tm.tm_min;
			comps[5] = tm.tm_sec;
			comps[6] = fsec / 1000;
			cql_dt_from_components('T', comps, 7, true, 0, &now);
		}
		last = ts;
	}
	*out = now;
}

void
measure_ctx_begin(EvalCtx *cx, MemoryContext mcxt, PatientData *pd,
				  DateADT period_start, DateADT period_end)
{
	MemoryContext old = MemoryContextSwitchTo(mcxt);

	if (period_end < period_start)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("measurement period ends before it starts")));
	elm_ctx_init(cx, mcxt);
	cx->epoch = ++evaluation_epoch;
	cx->patient = pd;
	cx->measurement_period = period_interval(period_start, period_end);
	evaluation_now(&cx->now);
	MemoryContextSwitchTo(old);
}

static bool
truthy_def(EvalCtx *cx, ElmDef *def)
{
	CqlValue	v;

	if (def == NULL)
		return false;
	/* only whether it is true counts: an And stops at its first operand that is not */
	if (!cx->collect_evidence && elm_def_is_logical(def))
		return elm_def_is_true(cx, def);
	v = elm_system_value(elm_eval_def(cx, def));
	if (v.kind == CK_BOOL)
		return v.u.b;
	if (v.kind == CK_LIST)
		return v.u.list->n > 0;
	return v.kind != CK_NULL;
}

/* is x (an episode) in the list?  Episodes are matched by equality */
static bool
list_holds(CqlValue list, CqlValue x)
{
	for (int k = 0; k < list.u.list->n; k++)
		if (cql_equal(x, list.u.list->items[k]) == CQL_TRUE)
			return true;
	return false;
}

/* episodes of a population: its definition's list, kept to those also in `within` */
static CqlValue
episodes(EvalCtx *cx, ElmDef *def, CqlValue within)
{
	CqlValue	v,
				out;

	if (def == NULL)
		return cql_list_new(0);
	v = elm_eval_def(cx, def);
	if (v.kind != CK_LIST)
	{
		CqlValue	l = cql_list_new(1);

		if (v.kind != CK_NULL && !(v.kind == CK_BOOL && !v.u.b))
			cql_list_append(&l, v);
		v = l;
	}
	v = elm_list_distinct(v);
	if (within.kind != CK_LIST)
		return v;
	out = cql_list_new(v.u.list->n);
	for (int i = 0; i < v.u.list->n; i++)
		if (list_holds(within, v.u.list->items[i]))
			cql_list_append(&out, v.u.list->items[i]);
	return out;
}

static CqlValue
list_minus(CqlValue a, CqlValue b)
{
	CqlValue	out = cql_list_new(a.u.list->n);

	for (int i = 0; i < a.u.list->n; i++)
		if (!list_holds(b, a.u.list->items[i]))
			cql_list_append(&out, a.u.list->items[i]);
	return out;
}

/* the exclusion whose members a population's observation leaves out */
static int
observed_exclusion(int p)
{
	switch (p)
	{
		case HEDIS_POP_DEN:
			return HEDIS_POP_DENEX;
		case HEDIS_POP_NUMER:
			return HEDIS_POP_NUMEX;
		case HEDIS_POP_MPOP:
			return HEDIS_POP_MPOPEX;
		default:
			return -1;
	}
}

/* what one measure observation observed: members, and each one's result (CK_NULL: none) */
typedef struct Observed
{
	CqlValue	members;
	CqlValue   *results;
} Observed;

/*
 * Each measure observation's function applied to the members of the
 * population it observes, as counted (episodes, or for a patient-based
 * group the criteria's value), less those of its exclusion; the non-null
 * results are the observations.  members[] holds the counted episode lists
 * of an episode-based group (unused for a patient-based one); seen[], when
 * given, gets what each observation observed (episodic strata keep their
 * episodes').
 */
static void
observe(EvalCtx *cx, MeasureGroup *g, GroupResult *r, CqlValue *members, Observed *seen)
{
	for (int k = 0; k < g->nobs; k++)
	{
		MeasureObservation *o = &g->obs[k];
		int			excl = observed_exclusion(o->observed);
		CqlValue	observed;

		if (g->patient_based)
		{
			bool		in = r->count[o->observed] > 0 && (excl < 0 || r->count[excl] == 0);

			observed = in ? episodes(cx, g->pop[o->observed], CQL_NULL_VALUE) : cql_list_new(0);
		}
		else
		{
			observed = members[o->observed];
			if (excl >= 0)
				observed = list_minus(observed, members[excl]);
		}
		r->observations[k] = cql_list_new(observed.u.list->n);
		if (seen)
		{
			seen[k].members = observed;
			seen[k].results = palloc0(sizeof(CqlValue) * Max(observed.u.list->n, 1));
		}
		for (int i = 0; i < observed.u.list->n; i++)
		{
			CqlValue	arg = observed.u.list->items[i];
			CqlValue	v;

			/* a function of no operand observes the patient: once */
			if (o->function->noperands == 0 && i > 0)
				break;
			v = elm_call_function(cx, NULL, o->function, o->function->noperands ? &arg : NULL);
			if (seen)
				seen[k].results[i] = v;
			if (v.kind != CK_NULL)
				cql_list_append(&r->observations[k], v);
		}
	}
	/* the population's count: the observations made, all of them together */
	r->count[HEDIS_POP_MOBS] = 0;
	for (int k = 0; k < g->nobs; k++)
		r->count[HEDIS_POP_MOBS] += r->observations[k].u.list->n;
}

static bool episode_list(CqlValue v);
static void episodic_stratum(MeasureGroup *g, CqlValue *members, Observed *seen, CqlValue list,
							 StratumResult *st);

/*
 * Populations of one group for the patient in cx, with the dependencies
 * FHIR Measure scoring defines (CQF Measures, population criteria): the
 * denominator within the initial population; exclusions within the
 * denominator; for proportion scoring the numerator within the denominator
 * and only for those not excluded, exceptions only for those neither
 * excluded nor in the numerator; for ratio scoring the numerator and the
 * denominator independent, each within the initial population (exceptions
 * for those not excluded); numerator exclusions within the numerator; the
 * measure population within the initial population.
 */
void
measure_eval_group(EvalCtx *cx, MeasureGroup *g, GroupResult *r)
{
	CqlValue	members[HEDIS_NPOP];
	Observed	seen[HEDIS_MAX_OBSERVATIONS];

	memset(r, 0, sizeof(GroupResult));
	if (g->patient_based)
	{
		bool		ip = !cx->outside_initial_population && truthy_def(cx, g->pop[HEDIS_POP_IP]);
		bool		den = ip && (g->pop[HEDIS_POP_DEN] == NULL || truthy_def(cx, g->pop[HEDIS_POP_DEN]));
		bool		denex = den && truthy_def(cx, g->pop[HEDIS_POP_DENEX]);
		bool		numer = (g->ratio ? ip : den && !denex) && truthy_def(cx, g->pop[HEDIS_POP_NUMER]);
		bool		numex = numer && truthy_def(cx, g->pop[HEDIS_POP_NUMEX]);
		bool		denexcep = den && !denex && (g->ratio || !numer) &&
			truthy_def(cx, g->pop[HEDIS_POP_DENEXCEP]);
		bool		mpop = ip && truthy_def(cx, g->pop[HEDIS_POP_MPOP]);
		bool		mpopex = mpop && truthy_def(cx, g->pop[HEDIS_POP_MPOPEX]);

		r->count[HEDIS_POP_IP] = ip;
		r->count[HEDIS_POP_DEN] = den;
		r->count[HEDIS_POP_DENEX] = denex;
		r->count[HEDIS_POP_NUMER] = numer;
		r->count[HEDIS_POP_NUMEX] = numex;
		r->count[HEDIS_POP_DENEXCEP] = denexcep;
		r->count[HEDIS_POP_MPOP] = mpop;
		r->count[HEDIS_POP_MPOPEX] = mpopex;
	}
	else
	{
		CqlValue	none = CQL_NULL_VALUE;
		CqlValue	ip = episodes(cx, g->pop[HEDIS_POP_IP], none);
		CqlValue	den = g->pop[HEDIS_POP_DEN] ? episodes(cx, g->pop[HEDIS_POP_DEN], ip) : ip;
		CqlValue	denex = episodes(cx, g->pop[HEDIS_POP_DENEX], den);
		CqlValue	eligible = list_minus(den, denex);
		CqlValue	numer = episodes(cx, g->pop[HEDIS_POP_NUMER], g->ratio ? ip : eligible);
		CqlValue	numex = episodes(cx, g->pop[HEDIS_POP_NUMEX], numer);
		CqlValue	denexcep = episodes(cx, g->pop[HEDIS_POP_DENEXCEP],
									   g->ratio ? eligible : list_minus(eligible, numer));
		CqlValue	mpop = episodes(cx, g->pop[HEDIS_POP_MPOP], ip);
		CqlValue	mpopex = episodes(cx, g->pop[HEDIS_POP_MPOPEX], mpop);

		r->count[HEDIS_POP_IP] = ip.u.list->n;
		r->count[HEDIS_POP_DEN] = den.u.list->n;
		r->count[HEDIS_POP_DENEX] = denex.u.list->n;
		r->count[HEDIS_POP_NUMER] = numer.u.list->n;
		r->count[HEDIS_POP_NUMEX] = numex.u.list->n;
		r->count[HEDIS_POP_DENEXCEP] = denexcep.u.list->n;
		r->count[HEDIS_POP_MPOP] = mpop.u.list->n;
		r->count[HEDIS_POP_MPOPEX] = mpopex.u.list->n;
		members[HEDIS_POP_IP] = ip;
		members[HEDIS_POP_DEN] = den;
		members[HEDIS_POP_DENEX] = denex;
		members[HEDIS_POP_NUMER] = numer;
		members[HEDIS_POP_NUMEX] = numex;
		members[HEDIS_POP_DENEXCEP] = denexcep;
		members[HEDIS_POP_MPOP] = mpop;
		members[HEDIS_POP_MPOPEX] = mpopex;
	}
	/* only an episode-based group's strata can be episodic and ask what was observed */
	if (g->nobs > 0)
		observe(cx, g, r, members, !g->patient_based && g->nstrat > 0 ? seen : NULL);
	r->strat_values = palloc0(sizeof(CqlValue) * Max(g->nstrat, 1));
	r->strata = palloc0(sizeof(StratumResult) * Max(g->nstrat, 1));
	/* a stratifier only means something for patients in the initial population */
	for (int s = 0; s < g->nstrat; s++)
	{
		r->strat_values[s] = r->count[HEDIS_POP_IP] > 0
			? elm_eval_def(cx, g->strat[s].def) : CQL_NULL_VALUE;
		if (!g->patient_based && episode_list(r->strat_values[s]))
			episodic_stratum(g, members, seen, r->strat_values[s], &r->strata[s]);
	}
}

/*
 * A list of episodes (resources), or an empty list: what makes a
 * stratifier of an episode-based group episodic.  A list of other values
 * (codes, strings) names the patient's stratum, as any other value does.
 */
static bool
episode_list(CqlValue v)
{
	return v.kind == CK_LIST &&
		(v.u.list->n == 0 || v.u.list->items[0].kind == CK_FHIR);
}

/*
 * The stratum of an episode-based group's stratifier whose value is a list
 * of episodes: each population's episodes that the list holds, and the
 * observations of those episodes (fqm-execution counts them so, episode by
 * episode).
 */
static void
episodic_stratum(MeasureGroup *g, CqlValue *members, Observed *seen, CqlValue list,
				 StratumResult *st)
{
	st->episodic = true;
	for (int p = 0; p < HEDIS_NPOP; p++)
	{
		if (p == HEDIS_POP_MOBS || !measure_group_has(g, p))
			continue;
		for (int i = 0; i < members[p].u.list->n; i++)
			st->count[p] += list_holds(list, members[p].u.list->items[i]);
	}
	for (int k = 0; k < g->nobs; k++)
	{
		CqlValue	observed = seen[k].members;

		st->observations[k] = cql_list_new(observed.u.list->n);
		for (int i = 0; i < observed.u.list->n; i++)
			if (seen[k].results[i].kind != CK_NULL && list_holds(list, observed.u.list->items[i]))
				cql_list_append(&st->observations[k], seen[k].results[i]);
		st->count[HEDIS_POP_MOBS] += st->observations[k].u.list->n;
	}
}

/* the counts and observations of stratifier s's stratum, as a group's */
GroupResult
measure_stratum_result(GroupResult *r, int s)
{
	GroupResult out = *r;
	StratumResult *st = &r->strata[s];

	if (st->episodic)
	{
		memcpy(out.count, st->count, sizeof(out.count));
		memcpy(out.observations, st->observations, sizeof(out.observations));
	}
	return out;
}

/* an observation as a number: Integer, Decimal, or a Quantity's value */
bool
measure_observation_number(CqlValue v, double *out)
{
	v = elm_system_value(v);
	switch (v.kind)
	{
		case CK_INT:
			*out = (double) v.u.i;
			return true;
		case CK_DEC:
			*out = v.u.d;
			return true;
		case CK_QTY:
			*out = v.u.q->value;
			return true;
		default:
			return false;
	}
}

static int
double_cmp(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * Observations combined by the aggregate method: count counts them all;
 * the others need numbers, and an empty list has a sum of 0 and no
 * average, median, minimum or maximum.  False when there is none.
 */
static bool
aggregate(MeasureAggregate method, CqlValue obs, double *out)
{
	int			n = obs.u.list->n;
	double	   *x;

	if (method == AGG_COUNT || (method == AGG_SUM && n == 0))
	{
		*out = method == AGG_COUNT ? n : 0;
		return true;
	}
	if (method == AGG_NONE || n == 0)
		return false;
	x = palloc(sizeof(double) * n);
	for (int i = 0; i < n; i++)
		if (!measure_observation_number(obs.u.list->items[i], &x[i]))
		{
			pfree(x);
			return false;
		}
	qsort(x, n, sizeof(double), double_cmp);
	switch (method)
	{
		case AGG_SUM:
		case AGG_AVERAGE:
			*out = 0;
			for (int i = 0; i < n; i++)
				*out += x[i];
			if (method == AGG_AVERAGE)
				*out /= n;
			return true;
		case AGG_MEDIAN:
			*out = n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
			return true;
		case AGG_MINIMUM:
			*out = x[0];
			return true;
		case AGG_MAXIMUM:
			*out = x[n - 1];
			return true;
		default:
			return false;
	}
}

/*
 * The patient's measure score from the observations: a continuous-variable
 * group's aggregate (none without observations: the patient is not in the
 * measure population); a ratio group observing its numerator and its
 * denominator, the numerator's aggregate over the denominator's (none
 * without denominator observations or when their aggregate is 0).
 * hedis.run_observation_score follows the same rules over a run.
 */
bool
measure_score(MeasureGroup *g, GroupResult *r, double *score)
{
	if (g->nobs == 1 && !g->ratio)
		return r->observations[0].u.list->n > 0 &&
			aggregate(g->obs[0].aggregate, r->observations[0], score);
	if (g->nobs == 2)
	{
		int			num = g->obs[0].observed == HEDIS_POP_NUMER ? 0 : 1;
		double		n,
					d;

		if (g->obs[num].observed != HEDIS_POP_NUMER || g->obs[1 - num].observed != HEDIS_POP_DEN ||
			r->observations[1 - num].u.list->n == 0)
			return false;
		if (!aggregate(g->obs[num].aggregate, r->observations[num], &n) ||
			!aggregate(g->obs[1 - num].aggregate, r->observations[1 - num], &d) || d == 0)
			return false;
		*score = n / d;
		return true;
	}
	return false;
}
