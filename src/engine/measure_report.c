/*
 * measure_report.c
 *		A patient's measure results as jsonb: the compact result population
 *		runs store, and the FHIR MeasureReport (individual) with the evidence
 *		behind it.
 *
 * Both are built as JsonbValue trees (jsonb_tree.h): one is written per
 * patient, and writing JSON text for jsonb_in to parse back cost more than
 * the evaluation of a simple measure.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "engine/elm_ops.h"
#include "engine/fhir_data.h"
#include "engine/fhir_model.h"
#include "engine/jsonb_tree.h"
#include "engine/measure.h"

#define MEASURE_POPULATION_SYSTEM "http://terminology.hl7.org/CodeSystem/measure-population"
#define OBSERVATION_VALUE_URL "https://pg-hedis.dev/fhir/StructureDefinition/observation-value"

/* a string member that is never null (empty when the value is missing) */
static JsonbValue *
text_or_empty(const char *s)
{
	return jt_string(s ? s : "");
}

/* a stratifier's value: the usual kinds directly, others through their jsonb */
static JsonbValue *
value_tree(CqlValue cv)
{
	switch (cv.kind)
	{
		case CK_NULL:
			return jt_null();
		case CK_BOOL:
			return jt_bool(cv.u.b);
		case CK_INT:
			return jt_int(cv.u.i);
		case CK_STR:
			return jt_string(cv.u.s);
		default:
			return jt_from_jsonb(cql_to_jsonb(cv));
	}
}

/* an observation: its number (a Quantity's value), otherwise its value as JSON */
static JsonbValue *
observation_tree(CqlValue v)
{
	double		x;

	if (measure_observation_number(v, &x))
		return value_tree(elm_system_value(v).kind == CK_INT ? elm_system_value(v) : cql_dec(x));
	return value_tree(elm_system_value(v));
}

/* the compact result's "populations" (code: count) and "observations" (values per observation) */
static void
put_counts(JsonbValue *obj, MeasureGroup *mg, GroupResult *r)
{
	JsonbValue *pops = jt_object();

	for (int p = 0; p < HEDIS_NPOP; p++)
		if (measure_group_has(mg, p))
			jt_put(pops, measure_population_code(p), jt_int(r->count[p]));
	jt_put(obj, "populations", pops);
	if (mg->nobs > 0)
	{
		/* each measure observation's values, in the measure's order */
		JsonbValue *obs = jt_array();

		for (int k = 0; k < mg->nobs; k++)
		{
			JsonbValue *values = jt_array();
			CqlValue	list = r->observations[k];

			for (int i = 0; i < list.u.list->n; i++)
				jt_push(values, observation_tree(list.u.list->items[i]));
			jt_push(obs, values);
		}
		jt_put(obj, "observations", obs);
	}
}

/*
 * compact per-patient result (see hedis_engine.h), built member by member;
 * without the "patient" member when with_patient is false (an outcome)
 */
static Jsonb *
build_result(MeasureDef *m, const char *patient_id, bool with_patient, GroupResult *results)
{
	JsonbValue *root = jt_object();
	JsonbValue *groups = jt_array();

	if (with_patient)
		jt_put(root, "patient", text_or_empty(patient_id));
	for (int g = 0; g < m->ngroups; g++)
	{
		MeasureGroup *mg = &m->groups[g];
		JsonbValue *group = jt_object();
		JsonbValue *strats = jt_array();

		jt_put(group, "id", text_or_empty(mg->id));
		put_counts(group, mg, &results[g]);
		for (int s = 0; s < mg->nstrat; s++)
		{
			JsonbValue *strat = jt_object();

			jt_put(strat, "id", text_or_empty(mg->strat[s].id));
			if (results[g].strata[s].episodic)
			{
				/* the episodes the stratifier's list holds: a stratum "true" of their own counts */
				GroupResult sr = measure_stratum_result(&results[g], s);

				jt_put(strat, "value", jt_bool(true));
				put_counts(strat, mg, &sr);
			}
			else
				jt_put(strat, "value", value_tree(elm_system_value(results[g].strat_values[s])));
			jt_push(strats, strat);
		}
		jt_put(group, "stratifiers", strats);
		jt_push(groups, group);
	}
	jt_put(root, "groups", groups);
	return jt_finish(root);
}

/*
 * Most patients' results differ only in the patient id: counts of 0 or 1
 * and stratifier values that are null or boolean.  The jsonb of each such
 * combination is built once per measure with an empty id and then copied
 * with the id appended.  That works because the id is the root's last
 * member ("groups" sorts before "patient") and a string: its bytes end the
 * document, and its JEntry (the fourth: two keys, then two values) holds
 * its length.  A template that is not laid out so is not used.
 */
#define RESULT_TEMPLATES 32
#define RESULT_ID_ENTRY 3

struct ResultTemplate
{
	uint64		signature;
	Jsonb	   *jb;				/* NULL: this combination is built each time */
	Jsonb	   *outcome;		/* the same without "patient" */
};

/* the combination as bits behind a leading 1; false if it has no template */
static bool
result_signature(MeasureDef *m, GroupResult *results, uint64 *signature)
{
	uint64		sig = 1;
	int			bits = 0;

	for (int g = 0; g < m->ngroups; g++)
	{
		MeasureGroup *mg = &m->groups[g];

		/* observation values are not in the signature: only empty lists are alike */
		if (mg->nobs > 0 && results[g].count[HEDIS_POP_MOBS] > 0)
			return false;
		for (int p = 0; p < HEDIS_NPOP; p++)
			if (measure_group_has(mg, p))
			{
				if (results[g].count[p] < 0 || results[g].count[p] > 1)
					return false;
				sig = (sig << 1) | results[g].count[p];
				bits++;
			}
		for (int s = 0; s < mg->nstrat; s++)
		{
			CqlValue	v = elm_system_value(results[g].strat_values[s]);

			if (v.kind != CK_NULL && v.kind != CK_BOOL)
				return false;
			sig = (sig << 2) | (v.kind == CK_NULL ? 0 : v.u.b ? 2 : 1);
			bits += 2;
		}
		if (bits > 62)
			return false;
	}
	*signature = sig;
	return true;
}

static ResultTemplate *
template_for(MeasureDef *m, uint64 sig, GroupResult *results)
{
	MemoryContext old;
	Jsonb	   *jb;
	Jsonb	   *outcome;
	JsonbValue *id;
	JEntry		entry;

	for (int i = 0; i < m->ntemplates; i++)
		if (m->templates[i].signature == sig)
			return &m->templates[i];
	if (m->ntemplates == RESULT_TEMPLATES)
		return NULL;
	/* kept as long as the compiled measure */
	old = MemoryContextSwitchTo(GetMemoryChunkContext(m));
	if (m->templates == NULL)
		m->templates = palloc0(sizeof(ResultTemplate) * RESULT_TEMPLATES);
	jb = build_result(m, "", true, results);
	outcome = build_result(m, NULL, false, results);
	MemoryContextSwitchTo(old);
	entry = jb->root.children[RESULT_ID_ENTRY];
	id = getKeyJsonValueFromContainer(&jb->root, "patient", 7, NULL);
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_COUNT(jb) != 2 ||
		id == NULL || id->type != jbvString || id->val.string.len != 0 ||
		entry != JENTRY_ISSTRING)
		jb = NULL;
	m->templates[m->ntemplates].signature = sig;
	m->templates[m->ntemplates].jb = jb;
	m->templates[m->ntemplates].outcome = outcome;
	return &m->templates[m->ntemplates++];
}

Jsonb *
measure_result_jsonb(MeasureDef *m, const char *patient_id, GroupResult *results)
{
	uint64		sig;
	ResultTemplate *tp;
	Jsonb	   *t;
	Jsonb	   *jb;
	size_t		idlen = patient_id ? strlen(patient_id) : 0;
	Size		tsize;

	if (idlen >= 65536 || !result_signature(m, results, &sig) ||
		(tp = template_for(m, sig, results)) == NULL || (t = tp->jb) == NULL)
		return build_result(m, patient_id, true, results);
	tsize = VARSIZE(t);
	jb = palloc(tsize + idlen);
	memcpy(jb, t, tsize);
	memcpy((char *) jb + tsize, patient_id, idlen);
	SET_VARSIZE(jb, tsize + idlen);
	jb->root.children[RESULT_ID_ENTRY] = JENTRY_ISSTRING | (JEntry) idlen;
	return jb;
}

/*
 * The result without its "patient" member: what population runs store once
 * per distinct value.  The measure's template when there is one (the caller
 * copies it).
 */
Jsonb *
measure_outcome_jsonb(MeasureDef *m, GroupResult *results)
{
	uint64		sig;
	ResultTemplate *tp;

	if (result_signature(m, results, &sig) && (tp = template_for(m, sig, results)) != NULL)
		return tp->outcome;
	return build_result(m, NULL, false, results);
}

/* ---- evidence ---------------------------------------------------------- */

/* "Type/id" of every whole FHIR resource in a value (two levels of lists and tuples) */
static void
collect_refs(CqlValue v, List **refs, int depth)
{
	if (depth > 2)
		return;
	if (v.kind == CK_LIST)
	{
		for (int i = 0; i < v.u.list->n; i++)
			collect_refs(v.u.list->items[i], refs, depth + 1);
		return;
	}
	if (v.kind == CK_TUPLE)
	{
		for (int i = 0; i < v.u.tuple->n; i++)
			collect_refs(v.u.tuple->vals[i], refs, depth + 1);
		return;
	}
	if (v.kind == CK_FHIR && v.u.fhir->jv.type == jbvBinary && v.u.fhir->type &&
		fhir_type_is_a(v.u.fhir->type, "Resource"))
	{
		const char *id = fhir_resource_id(v.u.fhir);

		if (id)
			*refs = lappend(*refs, psprintf("%s/%s", v.u.fhir->type, id));
	}
}

static bool
string_member(List *strings, const char *s)
{
	ListCell   *lc;

	foreach(lc, strings)
		if (strcmp(lfirst(lc), s) == 0)
			return true;
	return false;
}

static JsonbValue *
reference(const char *ref)
{
	JsonbValue *r = jt_object();

	jt_put(r, "reference", jt_string(ref));
	return r;
}

static const char *
value_summary(CqlValue v)
{
	v = elm_system_value(v);
	if (v.kind == CK_BOOL)
		return v.u.b ? "true" : "false";
	if (v.kind == CK_NULL)
		return "null";
	if (v.kind == CK_LIST)
		return psprintf("list of %d", v.u.list->n);
	return cql_kind_name(v);
}

/* {"url": url, "<value_key>": value} */
static JsonbValue *
extension(const char *url, const char *value_key, JsonbValue *value)
{
	JsonbValue *e = jt_object();

	jt_put(e, "url", jt_string(url));
	jt_put(e, value_key, value);
	return e;
}

/*
 * Parts of a report the same for every patient — a population's code, a
 * definition's name in the evidence, the usual results ("true", "list of
 * 0"), a supplemental data element's id — are made once as jsonb, in a
 * context that lives as long as what they describe, and nested as they are
 * (jt_binary): a report has hundreds of nodes, and writing them one by one
 * was most of what hedis.evaluate adds to the evaluation.
 */
static struct varlena *
kept_extension(MemoryContext cxt, const char *url, const char *value)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Jsonb	   *jb = jt_finish(extension(url, "valueString", jt_string(value)));

	MemoryContextSwitchTo(old);
	return (struct varlena *) jb;
}

/* {"url": "result", "valueString": summary}: the first few summaries met are kept */
static JsonbValue *
result_part(const char *summary)
{
	static struct
	{
		const char *summary;
		struct varlena *part;
	}			kept[16];
	static int	nkept = 0;

	for (int i = 0; i < nkept; i++)
		if (strcmp(kept[i].summary, summary) == 0)
			return jt_binary((Jsonb *) kept[i].part);
	if (nkept == lengthof(kept))
		return extension("result", "valueString", jt_string(summary));
	kept[nkept].summary = MemoryContextStrdup(TopMemoryContext, summary);
	kept[nkept].part = kept_extension(TopMemoryContext, "result", summary);
	return jt_binary((Jsonb *) kept[nkept++].part);
}

/*
 * "Library.Definition" as the evidence names a definition of an included
 * library.  The name under the first alias a report uses is kept in the
 * compiled library's context (a MeasureReport names dozens of
 * definitions); a library included under another alias by another measure
 * gets its names made per report, so that alternating measures do not
 * make new copies to keep each time.
 */
static const char *
evidence_name(ElmDef *def, const char *prefix)
{
	if (prefix == NULL)
		return def->name;
	if (def->evidence_prefix == NULL)
	{
		def->evidence_prefix = MemoryContextStrdup(elm_cache_context(), prefix);
		def->evidence_name = MemoryContextStrdup(elm_cache_context(),
												 psprintf("%s.%s", prefix, def->name));
	}
	if (def->evidence_prefix == prefix || strcmp(def->evidence_prefix, prefix) == 0)
		return def->evidence_name;
	return psprintf("%s.%s", prefix, def->name);
}

/*
 * {"url": "definition", "valueString": name}: kept with the definition for
 * the first of its names (kept) a report uses, made per report for another.
 */
static JsonbValue *
definition_part(ElmDef *def, const char *prefix)
{
	const char *name = evidence_name(def, prefix);

	if (def->evidence_part == NULL && (name == def->name || name == def->evidence_name))
	{
		def->evidence_part = kept_extension(elm_cache_context(), "definition", name);
		def->evidence_part_name = name;
	}
	if (def->evidence_part != NULL && def->evidence_part_name == name)
		return jt_binary((Jsonb *) def->evidence_part);
	return extension("definition", "valueString", jt_string(name));
}

/*
 * The evidence of one library: its definitions evaluated for this patient
 * (one complex extension each: name, result, the resources in it), and the
 * references of those resources added, each once, to evaluated.
 */
static void
library_evidence(EvalCtx *cx, ElmLibrary *lib, const char *prefix,
				 JsonbValue *definitions, List **evaluated)
{
	for (int d = 0; d < lib->ndefs; d++)
	{
		ElmDef	   *def = &lib->defs[d];
		List	   *refs = NIL;
		JsonbValue *ext;
		JsonbValue *parts;
		ListCell   *lc;

		if (def->cache_epoch != cx->epoch)
			continue;
		collect_refs(def->cached, &refs, 0);
		foreach(lc, refs)
			if (!string_member(*evaluated, lfirst(lc)))
				*evaluated = lappend(*evaluated, lfirst(lc));
		if (strcmp(def->name, "Patient") == 0)
			continue;
		parts = jt_array();
		jt_push(parts, definition_part(def, prefix));
		jt_push(parts, result_part(value_summary(def->cached)));
		/* one reference per extension, as FHIR requires */
		foreach(lc, refs)
			jt_push(parts, extension("resource", "valueReference", reference(lfirst(lc))));
		ext = jt_object();
		jt_put(ext, "url", jt_string(HEDIS_EVIDENCE_URL));
		jt_put(ext, "extension", parts);
		jt_push(definitions, ext);
	}
}

/* ---- the MeasureReport ------------------------------------------------ */

/* a population's code, {"coding": [{"system": ..., "code": ...}]}: made once per backend */
static JsonbValue *
population_code(int p)
{
	static Jsonb *codes[HEDIS_NPOP];

	if (codes[p] == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		JsonbValue *code = jt_object();
		JsonbValue *codings = jt_array();
		JsonbValue *coding = jt_object();

		jt_put(coding, "system", jt_string(MEASURE_POPULATION_SYSTEM));
		jt_put(coding, "code", jt_string(measure_population_code(p)));
		jt_push(codings, coding);
		jt_put(code, "coding", codings);
		codes[p] = jt_finish(code);
		MemoryContextSwitchTo(old);
	}
	return jt_binary(codes[p]);
}

static JsonbValue *
population_tree(const char *id, int p, int count)
{
	JsonbValue *pop = jt_object();

	if (id)
		jt_put(pop, "id", jt_string(id));
	jt_put(pop, "code", population_code(p));
	jt_put(pop, "count", jt_int(count));
	return pop;
}

/* a measure-observation population: count, the observations made; their values in extensions */
static JsonbValue *
observation_population_tree(MeasureObservation *o, CqlValue list)
{
	JsonbValue *pop = population_tree(o->id, HEDIS_POP_MOBS, list.u.list->n);
	JsonbValue *exts;

	if (list.u.list->n == 0)
		return pop;
	exts = jt_array();
	for (int i = 0; i < list.u.list->n; i++)
	{
		JsonbValue *ext = jt_object();
		double		x;

		jt_put(ext, "url", jt_string(OBSERVATION_VALUE_URL));
		if (measure_observation_number(list.u.list->items[i], &x))
			jt_put(ext, "valueDecimal", value_tree(cql_dec(x)));
		else
			jt_put(ext, "valueString", jt_string(cql_to_json_text_refs(elm_system_value(list.u.list->items[i]))));
		jt_push(exts, ext);
	}
	jt_put(pop, "extension", exts);
	return pop;
}

/* "population" (each population's count, the observations) and "measureScore" of a group or stratum */
static void
put_populations(JsonbValue *obj, MeasureGroup *mg, GroupResult *r)
{
	JsonbValue *pops = jt_array();
	double		score;

	for (int p = 0; p < HEDIS_NPOP; p++)
		if (p != HEDIS_POP_MOBS && measure_group_has(mg, p))
			jt_push(pops, population_tree(mg->pop_id[p], p, r->count[p]));
	for (int k = 0; k < mg->nobs; k++)
		jt_push(pops, observation_population_tree(&mg->obs[k], r->observations[k]));
	jt_put(obj, "population", pops);
	if (measure_score(mg, r, &score))
	{
		JsonbValue *q = jt_object();

		jt_put(q, "value", value_tree(cql_dec(score)));
		jt_put(obj, "measureScore", q);
	}
}

static JsonbValue *
group_tree(MeasureGroup *mg, GroupResult *r)
{
	JsonbValue *group = jt_object();

	jt_put(group, "id", text_or_empty(mg->id));
	put_populations(group, mg, r);
	if (mg->nstrat > 0)
	{
		JsonbValue *strats = jt_array();

		for (int s = 0; s < mg->nstrat; s++)
		{
			char	   *val = r->strata[s].episodic ? "true"
				: cql_to_text(elm_system_value(r->strat_values[s]));
			JsonbValue *strat = jt_object();
			JsonbValue *strata = jt_array();
			JsonbValue *stratum = jt_object();
			JsonbValue *value = jt_object();
			GroupResult sr = measure_stratum_result(r, s);

			jt_put(value, "text", jt_string(val ? val : "null"));
			jt_put(stratum, "value", value);
			/* the patient's (episodes') counts in the stratum, as a summary report has them */
			put_populations(stratum, mg, &sr);
			jt_push(strata, stratum);
			jt_put(strat, "id", text_or_empty(mg->strat[s].id));
			jt_put(strat, "stratum", strata);
			jt_push(strats, strat);
		}
		jt_put(group, "stratifier", strats);
	}
	return group;
}

/* supplemental data: each element's value for this patient */
static JsonbValue *
supplemental_data_tree(EvalCtx *cx, MeasureDef *m)
{
	JsonbValue *exts = jt_array();

	for (int s = 0; s < m->nsde; s++)
	{
		CqlValue	v = elm_system_value(elm_eval_def(cx, m->sde[s].def));
		JsonbValue *parts = jt_array();
		JsonbValue *ext = jt_object();

		MeasureStratifier *sde = &m->sde[s];

		/* kept as long as the compiled measure */
		if (sde->report_parts[0] == NULL)
		{
			sde->report_parts[0] = kept_extension(GetMemoryChunkContext(m), "id",
												  sde->id ? sde->id : sde->def->name);
			sde->report_parts[1] = kept_extension(GetMemoryChunkContext(m), "definition",
												  sde->def->name);
		}
		jt_push(parts, jt_binary((Jsonb *) sde->report_parts[0]));
		jt_push(parts, jt_binary((Jsonb *) sde->report_parts[1]));
		jt_push(parts, extension("value", "valueString", jt_string(cql_to_json_text_refs(v))));
		jt_put(ext, "url", jt_string(HEDIS_SDE_URL));
		jt_put(ext, "extension", parts);
		jt_push(exts, ext);
	}
	return exts;
}

/* FHIR MeasureReport (individual) with the evidence behind it */
Jsonb *
measure_report_jsonb(EvalCtx *cx, MeasureDef *m, const char *patient_id,
					 DateADT period_start, DateADT period_end, GroupResult *results)
{
	ElmLibrary *lib = m->lib;
	JsonbValue *root = jt_object();
	JsonbValue *period = jt_object();
	JsonbValue *groups = jt_array();
	JsonbValue *definitions = jt_array();
	JsonbValue *evaluated_refs = jt_array();
	JsonbValue *basic = jt_object();
	JsonbValue *basic_code = jt_object();
	JsonbValue *contained = jt_array();
	List	   *evaluated = NIL;
	ListCell   *lc;

	jt_put(root, "resourceType", jt_string("MeasureReport"));
	jt_put(root, "status", jt_string("complete"));
	jt_put(root, "type", jt_string("individual"));
	jt_put(root, "measure", text_or_empty(m->version ? psprintf("%s|%s", m->url, m->version) : m->url));
	jt_put(root, "subject", reference(psprintf("Patient/%s", patient_id ? patient_id : "")));
	jt_put(period, "start", jt_string(DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(period_start)))));
	jt_put(period, "end", jt_string(DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(period_end)))));
	jt_put(root, "period", period);
	for (int g = 0; g < m->ngroups; g++)
		jt_push(groups, group_tree(&m->groups[g], &results[g]));
	jt_put(root, "group", groups);
	jt_put(root, "extension", supplemental_data_tree(cx, m));

	/*
	 * Evidence: the definitions of the measure's library and of the
	 * libraries it includes that were evaluated for this patient, and the
	 * resources in them.
	 */
	library_evidence(cx, lib, NULL, definitions, &evaluated);
	for (int i = 0; i < lib->nincludes; i++)
		library_evidence(cx, lib->includes[i].lib, lib->includes[i].local_name,
						 definitions, &evaluated);
	foreach(lc, evaluated)
		jt_push(evaluated_refs, reference(lfirst(lc)));
	jt_put(root, "evaluatedResource", evaluated_refs);
	jt_put(basic, "resourceType", jt_string("Basic"));
	jt_put(basic, "id", jt_string("evidence"));
	jt_put(basic_code, "text", jt_string("definition results"));
	jt_put(basic, "code", basic_code);
	jt_put(basic, "extension", definitions);
	jt_push(contained, basic);
	jt_put(root, "contained", contained);
	return jt_finish(root);
}
