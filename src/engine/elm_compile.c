/*
 * elm_compile.c
 *		ELM JSON (jsonb) -> compiled ElmLibrary, and the per-backend cache of
 *		compiled libraries.
 *
 * Compilation resolves every reference once: definitions, functions and
 * their overload candidates, included libraries, parameters, value sets,
 * codes, and every query alias / let / function operand to a numbered
 * variable slot.  An ELM node type without an evaluator is an error here,
 * naming the node, library, definition and locator, so a measure that uses
 * something unimplemented fails when it is loaded, never by quietly
 * evaluating to null.
 *
 * Compiled libraries live in ElmCacheContext until the knowledge store's
 * generation changes (a Library, Measure or ValueSet was (re)loaded).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "common/jsonb_access.h"
#include "common/search_path.h"
#include "engine/elm.h"
#include "engine/fhir_data.h"

static MemoryContext ElmCacheContext = NULL;
static uint64 elm_cached_generation = 0;

typedef struct CachedLibrary
{
	char	   *key;			/* name or url as asked, plus "|" version */
	ElmLibrary *lib;
	struct CachedLibrary *next;
} CachedLibrary;

static CachedLibrary *elm_cache = NULL;

/* bumped whenever compiled libraries are dropped; dependants compare it */
static uint64 elm_cache_version = 1;

/* ---- compile-time state ----------------------------------------------- */

typedef struct CompileVar
{
	const char *name;
	int			slot;
	/* a query's let: its expression (value slot, then a "computed?" slot) */
	ElmNode    *let_expr;
	bool		raw_use;		/* read other than by QueryLetRef */
} CompileVar;

typedef struct CompileCtx
{
	ElmLibrary *lib;
	const char *def_name;		/* for messages */
	CompileVar *vars;
	int			nvars;
	int			capvars;
	int			next_slot;
	int			libdepth;
} CompileCtx;

static ElmNode *compile_node(CompileCtx *cc, JsonbContainer *obj);
static ElmLibrary *library_load(const char *name_or_url, const char *version, int depth);

/* ---- jsonb helpers ---------------------------------------------------- */

static bool
j_get(JsonbContainer *c, const char *key, JsonbValue *out)
{
	if (c == NULL || !JsonContainerIsObject(c))
		return false;
	return getKeyJsonValueFromContainer(c, key, strlen(key), out) != NULL;
}

static JsonbContainer *
j_container(JsonbContainer *c, const char *key)
{
	return jb_member_container(c, key);
}

static char *
j_str(JsonbContainer *c, const char *key)
{
	JsonbValue	v;

	if (!j_get(c, key, &v))
		return NULL;
	if (v.type == jbvString)
		return pnstrdup(v.val.string.val, v.val.string.len);
	if (v.type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
	if (v.type == jbvBool)
		return pstrdup(v.val.boolean ? "true" : "false");
	return NULL;
}

static bool
j_bool(JsonbContainer *c, const char *key, bool dflt)
{
	JsonbValue	v;

	if (!j_get(c, key, &v))
		return dflt;
	if (v.type == jbvBool)
		return v.val.boolean;
	if (v.type == jbvString)
		return v.val.string.len == 4 && strncmp(v.val.string.val, "true", 4) == 0;
	return dflt;
}

static int
j_len(JsonbContainer *a)
{
	return jb_array_length(a);
}

static JsonbContainer *
j_at(JsonbContainer *a, int i)
{
	return jb_array_item(a, i);
}

/* "{urn:hl7-org:elm-types:r1}DateTime" -> "DateTime", system = true */
static const char *
qname_local(const char *qname, bool *is_system)
{
	const char *close;

	if (is_system)
		*is_system = false;
	if (qname == NULL)
		return NULL;
	if (qname[0] != '{')
		return qname;
	close = strchr(qname, '}');
	if (close == NULL)
		return qname;
	if (is_system)
		*is_system = strncmp(qname, "{urn:hl7-org:elm-types:r1}", close - qname + 1) == 0;
	return close + 1;
}

/* ---- messages --------------------------------------------------------- */

static void pg_attribute_noreturn()
compile_error(CompileCtx *cc, JsonbContainer *obj, const char *fmt, const char *arg)
{
	char	   *locator = obj ? j_str(obj, "locator") : NULL;

	/* a dangling reference is an undefined object; anything else is unsupported */
	ereport(ERROR,
			(errcode(strncmp(fmt, "unknown", 7) == 0 || strncmp(fmt, "unresolved", 10) == 0
					 ? ERRCODE_UNDEFINED_OBJECT : ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg(fmt, arg),
			 errdetail("library \"%s\", definition \"%s\", locator %s",
					   cc->lib->name, cc->def_name ? cc->def_name : "(none)",
					   locator ? locator : "(none)")));
}

/* ---- scopes ----------------------------------------------------------- */

static int
scope_push(CompileCtx *cc, const char *name)
{
	if (cc->nvars == cc->capvars)
	{
		cc->capvars = cc->capvars ? cc->capvars * 2 : 16;
		cc->vars = cc->vars ? repalloc(cc->vars, sizeof(CompileVar) * cc->capvars)
			: palloc(sizeof(CompileVar) * cc->capvars);
	}
	cc->vars[cc->nvars].name = name;
	cc->vars[cc->nvars].slot = cc->next_slot++;
	cc->vars[cc->nvars].let_expr = NULL;
	cc->vars[cc->nvars].raw_use = false;
	if (cc->next_slot >= ELM_MAX_SLOTS)
		compile_error(cc, NULL, "expression \"%s\" needs too many variables", cc->def_name);
	return cc->vars[cc->nvars++].slot;
}

static bool
scope_has(CompileCtx *cc, const char *name)
{
	for (int i = cc->nvars - 1; i >= 0; i--)
		if (strcmp(cc->vars[i].name, name) == 0)
			return true;
	return false;
}

static CompileVar *
scope_var(CompileCtx *cc, JsonbContainer *obj, const char *name)
{
	for (int i = cc->nvars - 1; i >= 0; i--)
		if (strcmp(cc->vars[i].name, name) == 0)
			return &cc->vars[i];
	compile_error(cc, obj, "unresolved identifier \"%s\"", name);
}

/* the slot of a variable read directly (a let read so is computed eagerly) */
static int
scope_find(CompileCtx *cc, JsonbContainer *obj, const char *name)
{
	CompileVar *v = scope_var(cc, obj, name);

	v->raw_use = true;
	return v->slot;
}

/* ---- type specifiers -------------------------------------------------- */

static ElmTypeSpec *
compile_typespec(CompileCtx *cc, JsonbContainer *ts)
{
	ElmTypeSpec *t;
	char	   *kind;

	if (ts == NULL)
		return NULL;
	t = palloc0(sizeof(ElmTypeSpec));
	kind = j_str(ts, "type");
	/* older translators write a choice as {"type": [], "choice": [...]} */
	if (kind == NULL && j_container(ts, "choice") != NULL)
		kind = "ChoiceTypeSpecifier";
	if (kind == NULL || strcmp(kind, "NamedTypeSpecifier") == 0)
	{
		t->kind = ETS_NAMED;
		t->name = qname_local(j_str(ts, "name"), &t->is_system);
		if (t->name == NULL)
			t->name = "Any";	/* an unnamed type constrains nothing */
		t->fhir_type = t->is_system ? NULL : fhir_type_intern(t->name);
	}
	else if (strcmp(kind, "ListTypeSpecifier") == 0)
	{
		t->kind = ETS_LIST;
		t->elem = compile_typespec(cc, j_container(ts, "elementType"));
	}
	else if (strcmp(kind, "IntervalTypeSpecifier") == 0)
	{
		t->kind = ETS_INTERVAL;
		t->elem = compile_typespec(cc, j_container(ts, "pointType"));
	}
	else if (strcmp(kind, "ChoiceTypeSpecifier") == 0)
	{
		JsonbContainer *ch = j_container(ts, "choice");

		if (ch == NULL)
			ch = j_container(ts, "type");
		t->kind = ETS_CHOICE;
		t->nchoices = j_len(ch);
		t->choices = palloc0(sizeof(ElmTypeSpec *) * Max(t->nchoices, 1));
		for (int i = 0; i < t->nchoices; i++)
			t->choices[i] = compile_typespec(cc, j_at(ch, i));
	}
	else if (strcmp(kind, "TupleTypeSpecifier") == 0)
		t->kind = ETS_TUPLE;
	else
		compile_error(cc, ts, "unsupported type specifier \"%s\"", kind);
	return t;
}

/* a type given either as a qualified name attribute or a specifier child */
static ElmTypeSpec *
compile_type_attr(CompileCtx *cc, JsonbContainer *obj, const char *name_key, const char *spec_key)
{
	char	   *qn = j_str(obj, name_key);

	if (qn)
	{
		ElmTypeSpec *t = palloc0(sizeof(ElmTypeSpec));

		t->kind = ETS_NAMED;
		t->name = qname_local(qn, &t->is_system);
		t->fhir_type = t->is_system ? NULL : fhir_type_intern(t->name);
		return t;
	}
	if (j_container(obj, spec_key) == NULL)
		return NULL;
	return compile_typespec(cc, j_container(obj, spec_key));
}

/* ---- reference resolution -------------------------------------------- */

static ElmLibrary *
resolve_library(CompileCtx *cc, JsonbContainer *obj)
{
	char	   *libname = j_str(obj, "libraryName");

	if (libname == NULL)
		return cc->lib;
	for (int i = 0; i < cc->lib->nincludes; i++)
		if (strcmp(cc->lib->includes[i].local_name, libname) == 0)
			return cc->lib->includes[i].lib;
	compile_error(cc, obj, "unknown included library \"%s\"", libname);
}

static void
collect_retrieved(ElmLibrary *lib, const char ***types, int *n, int *cap, int depth)
{
	if (depth > 32)
		return;
	for (int i = 0; i < lib->nretrieved; i++)
	{
		bool		seen = false;

		for (int k = 0; k < *n && !seen; k++)
			seen = strcmp((*types)[k], lib->retrieved[i]) == 0;
		if (seen)
			continue;
		if (*n == *cap)
		{
			*cap *= 2;
			*types = repalloc(*types, sizeof(char *) * *cap);
		}
		(*types)[(*n)++] = lib->retrieved[i];
	}
	for (int i = 0; i < lib->nincludes; i++)
		collect_retrieved(lib->includes[i].lib, types, n, cap, depth + 1);
}

int
elm_library_retrieved_types(ElmLibrary *lib, const char ***types)
{
	int			n = 1,
				cap = 16;

	*types = palloc(sizeof(char *) * cap);
	(*types)[0] = "Patient";
	collect_retrieved(lib, types, &n, &cap, 0);
	return n;
}

ElmDef *
elm_library_find_def(ElmLibrary *lib, const char *name)
{
	for (int i = 0; i < lib->ndefs; i++)
		if (strcmp(lib->defs[i].name, name) == 0)
			return &lib->defs[i];
	return NULL;
}

static ElmValueSet *
find_valueset(CompileCtx *cc, JsonbContainer *obj)
{
	ElmLibrary *lib = resolve_library(cc, obj);
	char	   *name = j_str(obj, "name");

	for (int i = 0; i < lib->nvaluesets; i++)
		if (strcmp(lib->valuesets[i].name, name) == 0)
			return &lib->valuesets[i];
	compile_error(cc, obj, "unknown value set \"%s\"", name);
}

static ElmCodeSystem *
find_codesystem(CompileCtx *cc, JsonbContainer *obj)
{
	ElmLibrary *lib = resolve_library(cc, obj);
	char	   *name = j_str(obj, "name");

	for (int i = 0; i < lib->ncodesystems; i++)
		if (strcmp(lib->codesystems[i].name, name) == 0)
			return &lib->codesystems[i];
	compile_error(cc, obj, "unknown code system \"%s\"", name);
}

/* ---- nodes ------------------------------------------------------------ */

/*
 * An evaluation walks thousands of nodes per patient, more than the
 * first-level data cache holds, so where they lie matters: nodes are laid
 * out densely, in the order compile_node meets them (parents before
 * children: mostly the order evaluation visits them), apart from the names,
 * locators and ELM JSON the compiler also keeps.  Each node starts a cache
 * line, whose 64 bytes hold the fields most evaluations read (elm.h); its
 * operand array and query or retrieve follow it.  Only while compiling into
 * the cache context; elsewhere (no such caller today) palloc0.
 */
#define NODE_BLOCK (64 * 1024)
#define NODE_ALIGN 64

static char *node_next = NULL;
static char *node_end = NULL;

/* size zeroed bytes at an align-byte boundary */
static void *
node_alloc(Size size, Size align)
{
	char	   *p;

	if (ElmCacheContext == NULL || CurrentMemoryContext != ElmCacheContext ||
		size > NODE_BLOCK / 4)
		return palloc0(size);
	p = node_next ? (char *) TYPEALIGN(align, node_next) : NULL;
	if (p == NULL || p + size > node_end)
	{
		node_next = MemoryContextAllocZero(ElmCacheContext, NODE_BLOCK + NODE_ALIGN);
		node_end = node_next + NODE_BLOCK + NODE_ALIGN;
		p = (char *) TYPEALIGN(align, node_next);
	}
	node_next = p + size;
	return p;
}

static ElmNode *
node_new(CompileCtx *cc, JsonbContainer *obj, const char *type)
{
	ElmNode    *n = node_alloc(sizeof(ElmNode), NODE_ALIGN);
	const ElmOpInfo *op = elm_op_lookup(type);

	if (op == NULL)
		compile_error(cc, obj, "ELM node type \"%s\" is not implemented", type);
	n->eval = op->eval;
	n->type = op->type;
	n->locator = j_str(obj, "locator");
	n->prec = CQL_PREC_ALL;
	return n;
}

static ElmNode *
compile_child(CompileCtx *cc, JsonbContainer *obj, const char *key)
{
	JsonbContainer *c = j_container(obj, key);

	return c ? compile_node(cc, c) : NULL;
}

static void
set_args(ElmNode *n, int nargs)
{
	n->nargs = nargs;
	n->args = node_alloc(sizeof(ElmNode *) * Max(nargs, 1), sizeof(ElmNode *));
}

/* "operand" as array or single object */
static void
compile_operands(CompileCtx *cc, ElmNode *n, JsonbContainer *obj, const char *key)
{
	JsonbContainer *ops = j_container(obj, key);

	if (ops == NULL)
	{
		set_args(n, 0);
		return;
	}
	if (JsonContainerIsArray(ops))
	{
		set_args(n, j_len(ops));
		for (int i = 0; i < n->nargs; i++)
			n->args[i] = compile_node(cc, j_at(ops, i));
	}
	else
	{
		set_args(n, 1);
		n->args[0] = compile_node(cc, ops);
	}
}

static int
parse_precision(const char *p)
{
	static const char *const names[] = {
		"Year", "Month", "Week", "Day", "Hour", "Minute", "Second", "Millisecond"
	};

	if (p == NULL)
		return CQL_PREC_ALL;
	for (int i = 0; i < lengthof(names); i++)
		if (pg_strcasecmp(p, names[i]) == 0)
			return i;
	return CQL_PREC_ALL;
}

static CqlValue
parse_literal(CompileCtx *cc, JsonbContainer *obj)
{
	const char *vt = qname_local(j_str(obj, "valueType"), NULL);
	char	   *val = j_str(obj, "value");
	CqlDateTime dt;

	if (val == NULL)
		return CQL_NULL_VALUE;
	if (strcmp(vt, "Boolean") == 0)
		return cql_bool(strcmp(val, "true") == 0);
	if (strcmp(vt, "Integer") == 0 || strcmp(vt, "Long") == 0)
		return cql_int(strtoll(val, NULL, 10));
	if (strcmp(vt, "Decimal") == 0)
		return cql_dec(strtod(val, NULL));
	if (strcmp(vt, "String") == 0)
		return cql_str(val);
	if (strcmp(vt, "Date") == 0 && cql_dt_parse_date(val, -1, &dt))
		return cql_temporal(CK_DATE, &dt);
	if (strcmp(vt, "DateTime") == 0 && cql_dt_parse_datetime(val, -1, &dt))
	{
		/* a literal without an offset takes the evaluation's */
		cql_dt_apply_default_tz(&dt, (int16_t) cql_default_tz_minutes);
		return cql_temporal(CK_DATETIME, &dt);
	}
	if (strcmp(vt, "Time") == 0 && cql_dt_parse_time(val, -1, &dt))
		return cql_temporal(CK_TIME, &dt);
	compile_error(cc, obj, "unsupported literal type \"%s\"", vt);
}

static void
compile_function_ref(CompileCtx *cc, ElmNode *n, JsonbContainer *obj)
{
	ElmLibrary *lib = resolve_library(cc, obj);
	char	   *name = j_str(obj, "name");
	JsonbContainer *sig = j_container(obj, "signature");
	int			nsig = j_len(sig);

	compile_operands(cc, n, obj, "operand");
	n->str = name;
	n->overloads = palloc0(sizeof(ElmFunction *) * Max(lib->nfuncs, 1));
	for (int i = 0; i < lib->nfuncs; i++)
	{
		ElmFunction *f = &lib->funcs[i];
		bool		ok = strcmp(f->name, name) == 0 && f->noperands == n->nargs;

		/* a signature, when the translator wrote one, settles overloads */
		if (ok && nsig == n->nargs)
		{
			for (int k = 0; k < nsig && ok; k++)
			{
				ElmTypeSpec *st = compile_typespec(cc, j_at(sig, k));
				ElmTypeSpec *ot = f->operand_types[k];

				if (st && ot && st->kind == ETS_NAMED && ot->kind == ETS_NAMED &&
					strcmp(st->name, ot->name) != 0)
					ok = false;
			}
		}
		if (ok)
			n->overloads[n->noverloads++] = f;
	}
	if (n->noverloads == 0)
		compile_error(cc, obj, "unknown function \"%s\"", name);
}

static void
compile_query(CompileCtx *cc, ElmNode *n, JsonbContainer *obj)
{
	ElmQuery   *q = node_alloc(sizeof(ElmQuery), MAXIMUM_ALIGNOF);
	JsonbContainer *src = j_container(obj, "source");
	JsonbContainer *lets = j_container(obj, "let");
	JsonbContainer *rels = j_container(obj, "relationship");
	JsonbContainer *ret = j_container(obj, "return");
	JsonbContainer *agg = j_container(obj, "aggregate");
	JsonbContainer *sort = j_container(obj, "sort");
	int			saved_nvars = cc->nvars;
	int		   *let_vars;

	n->query = q;
	q->nsources = j_len(src);
	if (q->nsources == 0)
		compile_error(cc, obj, "query without a source in \"%s\"", cc->def_name);
	q->sources = palloc0(sizeof(ElmNode *) * q->nsources);
	q->source_slots = palloc0(sizeof(int) * q->nsources);
	q->source_aliases = palloc0(sizeof(char *) * q->nsources);
	/* source expressions see only the enclosing scope */
	for (int i = 0; i < q->nsources; i++)
		q->sources[i] = compile_child(cc, j_at(src, i), "expression");
	for (int i = 0; i < q->nsources; i++)
	{
		q->source_aliases[i] = j_str(j_at(src, i), "alias");
		q->source_slots[i] = scope_push(cc, q->source_aliases[i]);
	}
	q->nlets = j_len(lets);
	q->lets = palloc0(sizeof(ElmNode *) * Max(q->nlets, 1));
	q->let_slots = palloc0(sizeof(int) * Max(q->nlets, 1));
	q->let_lazy = palloc0(sizeof(bool) * Max(q->nlets, 1));
	let_vars = palloc0(sizeof(int) * Max(q->nlets, 1));
	for (int i = 0; i < q->nlets; i++)
	{
		JsonbContainer *l = j_at(lets, i);

		q->lets[i] = compile_child(cc, l, "expression");
		q->let_slots[i] = scope_push(cc, j_str(l, "identifier"));
		scope_push(cc, "");		/* its "computed?" slot: no name to find */
		let_vars[i] = cc->nvars - 2;
		cc->vars[let_vars[i]].let_expr = q->lets[i];
	}
	q->nrels = j_len(rels);
	q->rel_without = palloc0(sizeof(bool) * Max(q->nrels, 1));
	q->rel_slots = palloc0(sizeof(int) * Max(q->nrels, 1));
	q->rel_sources = palloc0(sizeof(ElmNode *) * Max(q->nrels, 1));
	q->rel_such_that = palloc0(sizeof(ElmNode *) * Max(q->nrels, 1));
	for (int i = 0; i < q->nrels; i++)
	{
		JsonbContainer *r = j_at(rels, i);
		char	   *rt = j_str(r, "type");
		int			mark = cc->nvars;

		q->rel_without[i] = rt && strcmp(rt, "Without") == 0;
		q->rel_sources[i] = compile_child(cc, r, "expression");
		q->rel_slots[i] = scope_push(cc, j_str(r, "alias"));
		q->rel_such_that[i] = compile_child(cc, r, "suchThat");
		cc->nvars = mark;		/* the related alias is visible only in such that */
	}
	q->where = compile_child(cc, obj, "where");
	if (agg)
	{
		q->agg_start = compile_child(cc, agg, "starting");
		q->agg_slot = scope_push(cc, j_str(agg, "identifier"));
		q->agg_expr = compile_child(cc, agg, "expression");
		q->agg_distinct = j_bool(agg, "distinct", false);
	}
	if (ret)
	{
		q->ret = compile_child(cc, ret, "expression");
		q->ret_distinct = j_bool(ret, "distinct", true);
	}
	q->this_slot = -1;
	if (sort)
	{
		JsonbContainer *by = j_container(sort, "by");

		q->nsort = j_len(by);
		q->sort = palloc0(sizeof(ElmSortItem) * Max(q->nsort, 1));
		q->this_slot = scope_push(cc, "$this");
		for (int i = 0; i < q->nsort; i++)
		{
			JsonbContainer *b = j_at(by, i);
			char	   *dir = j_str(b, "direction");

			q->sort[i].desc = dir && (strncmp(dir, "desc", 4) == 0);
			q->sort[i].path = j_str(b, "path");
			q->sort[i].expr = compile_child(cc, b, "expression");
		}
	}
	/* a let only QueryLetRefs read is computed when first read, if at all */
	for (int i = 0; i < q->nlets; i++)
		q->let_lazy[i] = !cc->vars[let_vars[i]].raw_use;
	cc->nvars = saved_nvars;
	elm_query_filter_extensions(q);
}

/*
 * "case when x is T1 then ... when x is T2 then ..." over one operand or
 * alias (FHIRHelpers' ToValue has forty such branches): the evaluator can
 * read x once and pick the branch by x's type.
 */
static bool
case_is_type_dispatch(const ElmNode *n, int nitems)
{
	const ElmNode *first;

	if (n->args[0] != NULL || nitems < 2)
		return false;
	first = n->args[2];
	for (int i = 0; i < nitems; i++)
	{
		const ElmNode *w = n->args[2 + 2 * i];

		if (w == NULL || strcmp(w->type, "Is") != 0 || w->ts == NULL || w->nargs != 1 ||
			w->args[0] == NULL)
			return false;
		if (strcmp(w->args[0]->type, "OperandRef") != 0 && strcmp(w->args[0]->type, "AliasRef") != 0)
			return false;
		if (w->args[0]->slot != first->args[0]->slot ||
			strcmp(w->args[0]->type, first->args[0]->type) != 0)
			return false;
	}
	return true;
}

/*
 * Does the expression give the same value throughout one patient's
 * evaluation?  Terminology, literals, parameters and definitions do; an
 * operand, alias or let does not.  Node types not listed count as varying.
 */
static bool
same_for_patient(const ElmNode *n)
{
	static const char *const constant_types[] = {
		"ValueSetRef", "CodeRef", "ConceptRef", "CodeSystemRef", "Code", "Concept",
		"Literal", "Null", "List", "ToList", "ToConcept", "ToCode", "ExpressionRef",
		"ParameterRef"
	};
	bool		listed = false;

	if (n == NULL)
		return true;
	for (int i = 0; i < lengthof(constant_types) && !listed; i++)
		listed = strcmp(n->type, constant_types[i]) == 0;
	if (!listed || n->source != NULL)
		return false;
	for (int i = 0; i < n->nargs; i++)
		if (!same_for_patient(n->args[i]))
			return false;
	return true;
}

static void
compile_retrieve(CompileCtx *cc, ElmNode *n, JsonbContainer *obj)
{
	ElmRetrieve *r = node_alloc(sizeof(ElmRetrieve), MAXIMUM_ALIGNOF);

	n->retrieve = r;
	r->data_type = qname_local(j_str(obj, "dataType"), NULL);
	if (r->data_type && fhir_type_intern(r->data_type))
		r->data_type = fhir_type_intern(r->data_type);	/* compared by pointer */
	r->template_id = j_str(obj, "templateId");
	r->code_property = j_str(obj, "codeProperty");
	r->code_comparator = j_str(obj, "codeComparator");
	r->codes = compile_child(cc, obj, "codes");
	r->date_property = j_str(obj, "dateProperty");
	r->date_range = compile_child(cc, obj, "dateRange");
	r->profile = r->template_id ? fhir_profile_lookup(r->template_id) : -1;
	r->base_profile = r->template_id == NULL ||
		(r->data_type &&
		 strcmp(r->template_id, psprintf("http://hl7.org/fhir/StructureDefinition/%s", r->data_type)) == 0);
	if (r->data_type)
	{
		ElmLibrary *lib = cc->lib;
		bool		seen = false;

		for (int i = 0; i < lib->nretrieved && !seen; i++)
			seen = strcmp(lib->retrieved[i], r->data_type) == 0;
		if (!seen)
		{
			lib->retrieved = lib->retrieved
				? repalloc(lib->retrieved, sizeof(char *) * (lib->nretrieved + 1))
				: palloc(sizeof(char *));
			lib->retrieved[lib->nretrieved++] = r->data_type;
		}
	}
	if (j_len(j_container(obj, "include")) > 0 || j_len(j_container(obj, "codeFilter")) > 0 ||
		j_len(j_container(obj, "dateFilter")) > 0 || j_len(j_container(obj, "otherFilter")) > 0)
		compile_error(cc, obj, "Retrieve with %s is not implemented", "include/filter elements");
	if (r->code_property == NULL && r->codes != NULL)
		r->code_property = "code";
	r->per_patient = same_for_patient(r->codes) && same_for_patient(r->date_range);
}

/* element lists of Tuple and Instance: [{name, value}] */
static void
compile_named_elements(CompileCtx *cc, ElmNode *n, JsonbContainer *obj)
{
	JsonbContainer *els = j_container(obj, "element");

	set_args(n, j_len(els));
	n->strs = palloc0(sizeof(char *) * Max(n->nargs, 1));
	for (int i = 0; i < n->nargs; i++)
	{
		JsonbContainer *e = j_at(els, i);

		n->strs[i] = j_str(e, "name");
		n->args[i] = compile_child(cc, e, "value");
	}
}

/* several named children into args, in order; absent ones stay NULL */
static void
compile_named_children(CompileCtx *cc, ElmNode *n, JsonbContainer *obj,
					   const char *const *keys, int nkeys)
{
	set_args(n, nkeys);
	for (int i = 0; i < nkeys; i++)
		n->args[i] = compile_child(cc, obj, keys[i]);
}

/*
 * flag2 on a Property: X.name.value, read in one step (elm_eval.c
 * eval_child_value): a Property "value" over a one-step Property "name",
 * or the dotted path "name.value" (then strs[0] is "name").
 */
static void
mark_child_value(ElmNode *n)
{
	const char *dot;

	if (n->type != NULL && strcmp(n->type, "Null") == 0)
		return;
	if (n->str == NULL)
		return;
	if (!n->flag)
	{
		n->flag2 = strcmp(n->str, "value") == 0 && n->source != NULL &&
			n->source->type != NULL && strcmp(n->source->type, "Property") == 0 &&
			!n->source->flag && n->source->str != NULL;
		return;
	}
	dot = strchr(n->str, '.');
	if (strcmp(dot + 1, "value") != 0 || dot - n->str >= NAMEDATALEN)
		return;
	n->strs = palloc(sizeof(char *));
	n->strs[0] = pnstrdup(n->str, dot - n->str);
	n->flag2 = true;
}

/*
 * Bodies the evaluator takes short cuts for (elm_eval.c): "operand.value"
 * (FHIRHelpers' ToString, ToDateTime...), and a query over the one operand
 * without aggregate (Status' isEncounterPerformed...).  Any other function
 * of one operand keeps its results by element (elm_function_memo_new).
 */
static void
mark_body_shape(ElmFunction *f)
{
	const ElmNode *b = f->body;

	if (f->noperands != 1 || b == NULL)
		return;
	f->value_of_operand = f->nshared == 0 && strcmp(b->type, "Property") == 0 &&
		!b->flag && !b->flag2 && b->str != NULL && strcmp(b->str, "value") == 0 &&
		b->source != NULL && strcmp(b->source->type, "OperandRef") == 0 && b->source->slot == 0;
	f->query_over_operand = strcmp(b->type, "Query") == 0 && b->query->nsources == 1 &&
		b->query->agg_expr == NULL &&
		strcmp(b->query->sources[0]->type, "OperandRef") == 0 &&
		b->query->sources[0]->slot == 0;
	if (!f->value_of_operand && !f->query_over_operand)
		f->memo = elm_function_memo_new();
}

/*
 * Is operand k of n a list, by the signature the translator wrote or by the
 * type an As gives it?  (Some operators mean something else for a null list
 * than for a null of another type.)
 */
static bool
operand_is_list(JsonbContainer *obj, const ElmNode *n, int k)
{
	JsonbContainer *sig = j_container(obj, "signature");
	JsonbContainer *s = j_len(sig) > k ? j_at(sig, k) : NULL;
	char	   *stype = s ? j_str(s, "type") : NULL;

	return (stype && strcmp(stype, "ListTypeSpecifier") == 0) ||
		(n->nargs > k && n->args[k]->ts && n->args[k]->ts->kind == ETS_LIST);
}

/*
 * Malformed ELM: a node without an operand, a name or a path its evaluation
 * needs.  The translator never writes one, but a library written by hand
 * or by another tool may, and it is refused when compiled rather than
 * crashing the backend that evaluates it.
 */
static void
malformed(CompileCtx *cc, JsonbContainer *obj, const char *type, const char *what)
{
	char	   *locator = obj ? j_str(obj, "locator") : NULL;

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("malformed ELM: %s %s", type, what),
			 errdetail("library \"%s\", definition \"%s\", locator %s",
					   cc->lib->name, cc->def_name ? cc->def_name : "(none)",
					   locator ? locator : "(none)")));
}

/* the string attributes a node type cannot do without */
static void
check_required_attributes(CompileCtx *cc, JsonbContainer *obj, const char *type)
{
	static const struct
	{
		const char *type;
		const char *key;
	}			required[] = {
		{"ExpressionRef", "name"}, {"FunctionRef", "name"}, {"ParameterRef", "name"},
		{"QueryLetRef", "name"}, {"AliasRef", "name"}, {"OperandRef", "name"},
		{"IdentifierRef", "name"}, {"CodeSystemRef", "name"}, {"ValueSetRef", "name"},
		{"CodeRef", "name"}, {"ConceptRef", "name"}, {"Property", "path"},
		{"Retrieve", "dataType"}
	};

	for (int i = 0; i < lengthof(required); i++)
		if (strcmp(required[i].type, type) == 0 && j_str(obj, required[i].key) == NULL)
			malformed(cc, obj, type, psprintf("has no \"%s\"", required[i].key));
}

/*
 * The operands a node type needs (the first n of its arguments, whatever
 * the ELM calls them): unary and binary operators, the aggregates and the
 * operators with named children whose evaluators read them unchecked.
 */
static int
required_operands(const char *type)
{
	static const char *const unary[] = {
		"Abs", "As", "CalculateAge", "CanConvert", "Ceiling", "Collapse", "ConvertsToBoolean",
		"ConvertsToDate", "ConvertsToDateTime", "ConvertsToDecimal", "ConvertsToInteger",
		"ConvertsToLong", "ConvertsToQuantity", "ConvertsToRatio", "ConvertsToString",
		"ConvertsToTime", "DateFrom", "DateTimeComponentFrom", "Distinct", "End", "Exists",
		"Exp", "Expand", "ExpandValueSet", "Flatten", "Floor", "HighBoundary", "Is", "IsFalse",
		"IsNull", "IsTrue", "Length", "Ln", "LowBoundary", "Lower", "Negate", "Not",
		"PointFrom", "Precision", "Predecessor", "SingletonFrom", "Size", "Start", "Successor",
		"TimeFrom", "TimezoneOffsetFrom", "ToBoolean", "ToChars", "ToConcept", "ToDate",
		"ToDateTime", "ToDecimal", "ToInteger", "ToList", "ToLong", "ToQuantity", "ToRatio",
		"ToString", "ToTime", "Truncate", "Upper", "Width", "Round", "Children", "Descendents",
		"GeometricMean", "Mode", "PopulationStdDev", "PopulationVariance", "Product", "StdDev",
		"Variance", "Combine", "Message", "Slice", "Sort", "Split", "SplitOnMatches",
		"InValueSet", "AnyInValueSet", "Intersect", "First", "Last", "Count", "Sum", "Min",
		"Max", "Avg", "AllTrue", "AnyTrue", "Median"
	};
	static const char *const binary[] = {
		"Add", "After", "Before", "CalculateAgeAt", "CanConvertQuantity", "Contains",
		"ConvertQuantity", "DifferenceBetween", "Divide", "DurationBetween", "Ends", "EndsWith",
		"Equal", "Equivalent", "Except", "Greater", "GreaterOrEqual", "Implies", "In",
		"IncludedIn", "Includes", "Indexer", "Less", "LessOrEqual", "Log", "Matches", "Meets",
		"MeetsAfter", "MeetsBefore", "Modulo", "Multiply", "NotEqual", "Overlaps",
		"OverlapsAfter", "OverlapsBefore", "Power", "ProperContains", "ProperIn",
		"ProperIncludedIn", "ProperIncludes", "SameAs", "SameOrAfter", "SameOrBefore",
		"Starts", "StartsWith", "Subtract", "Times", "TruncatedDivide", "Union", "Xor",
		"If", "IndexOf", "PositionOf", "LastPositionOf", "Substring", "Ratio"
	};

	for (int i = 0; i < lengthof(unary); i++)
		if (strcmp(unary[i], type) == 0)
			return 1;
	for (int i = 0; i < lengthof(binary); i++)
		if (strcmp(binary[i], type) == 0)
			return 2;
	if (strcmp(type, "ReplaceMatches") == 0)
		return 3;
	return 0;
}

static void
check_operands(CompileCtx *cc, JsonbContainer *obj, const char *type, const ElmNode *n)
{
	int			need = required_operands(type);

	for (int i = 0; i < need; i++)
		if (i >= n->nargs || n->args[i] == NULL)
			malformed(cc, obj, type, psprintf("needs %d operand%s, has %d", need, need > 1 ? "s" : "",
											  Min(i, n->nargs)));
}

static ElmNode *
compile_node(CompileCtx *cc, JsonbContainer *obj)
{
	char	   *type = j_str(obj, "type");
	ElmNode    *n;

	if (type == NULL)
		compile_error(cc, obj, "ELM node without a type in \"%s\"", cc->def_name);
	check_required_attributes(cc, obj, type);
	n = node_new(cc, obj, type);
	n->prec = parse_precision(j_str(obj, "precision"));

	if (strcmp(type, "Literal") == 0)
		n->lit = parse_literal(cc, obj);
	else if (strcmp(type, "Null") == 0)
		n->lit = CQL_NULL_VALUE;
	else if (strcmp(type, "ExpressionRef") == 0)
	{
		ElmLibrary *lib = resolve_library(cc, obj);
		char	   *name = j_str(obj, "name");

		n->ref = elm_library_find_def(lib, name);
		if (n->ref == NULL)
			compile_error(cc, obj, "unknown expression \"%s\"", name);
	}
	else if (strcmp(type, "FunctionRef") == 0)
		compile_function_ref(cc, n, obj);
	else if (strcmp(type, "ParameterRef") == 0)
	{
		ElmLibrary *lib = resolve_library(cc, obj);
		char	   *name = j_str(obj, "name");

		for (int i = 0; i < lib->nparams; i++)
			if (strcmp(lib->params[i].name, name) == 0)
				n->ref = &lib->params[i];
		if (n->ref == NULL)
			compile_error(cc, obj, "unknown parameter \"%s\"", name);
	}
	else if (strcmp(type, "QueryLetRef") == 0)
	{
		CompileVar *v = scope_var(cc, obj, j_str(obj, "name"));

		n->slot = v->slot;
		n->ref = v->let_expr;	/* NULL: not a let after all, a plain read */
	}
	else if (strcmp(type, "OperandRef") == 0 || strcmp(type, "AliasRef") == 0)
		n->slot = scope_find(cc, obj, j_str(obj, "name"));
	else if (strcmp(type, "IdentifierRef") == 0)
	{
		/* inside sort by: a property of the element being sorted */
		n->str = j_str(obj, "name");
		n->slot = scope_find(cc, obj, "$this");
	}
	else if (strcmp(type, "Property") == 0)
	{
		char	   *scope = j_str(obj, "scope");

		n->str = j_str(obj, "path");
		n->flag = n->str && strchr(n->str, '.') != NULL;	/* dotted path */
		n->source = compile_child(cc, obj, "source");
		n->slot = -1;
		if (n->source == NULL && scope == NULL && !scope_has(cc, "$this"))
		{
			/*
			 * Older translators leave a bare property (no source, no scope)
			 * where no implicit context exists; the reference engine
			 * evaluates it to null, and so do we.
			 */
			n->eval = elm_op_lookup("Null")->eval;
			n->type = "Null";
			n->lit = CQL_NULL_VALUE;
		}
		else if (n->source == NULL)
			n->slot = scope_find(cc, obj, scope ? scope : "$this");
		mark_child_value(n);
	}
	else if (strcmp(type, "As") == 0 || strcmp(type, "Is") == 0)
	{
		compile_operands(cc, n, obj, "operand");
		n->ts = compile_type_attr(cc, obj, strcmp(type, "As") == 0 ? "asType" : "isType",
								  strcmp(type, "As") == 0 ? "asTypeSpecifier" : "isTypeSpecifier");
		n->flag = j_bool(obj, "strict", false);
	}
	else if (strcmp(type, "Interval") == 0)
	{
		static const char *const keys[] = {"low", "high", "lowClosedExpression", "highClosedExpression"};

		compile_named_children(cc, n, obj, keys, 4);
		n->flag = j_bool(obj, "lowClosed", true);
		n->flag2 = j_bool(obj, "highClosed", true);
	}
	else if (strcmp(type, "List") == 0)
		compile_operands(cc, n, obj, "element");
	else if (strcmp(type, "Tuple") == 0)
		compile_named_elements(cc, n, obj);
	else if (strcmp(type, "Instance") == 0)
	{
		compile_named_elements(cc, n, obj);
		n->ts = compile_type_attr(cc, obj, "classType", "classTypeSpecifier");
	}
	else if (strcmp(type, "Query") == 0)
		compile_query(cc, n, obj);
	else if (strcmp(type, "Retrieve") == 0)
		compile_retrieve(cc, n, obj);
	else if (strcmp(type, "ValueSetRef") == 0)
	{
		n->ref = find_valueset(cc, obj);
		n->flag = j_bool(obj, "preserve", false);
	}
	else if (strcmp(type, "CodeSystemRef") == 0)
		n->ref = find_codesystem(cc, obj);
	else if (strcmp(type, "CodeRef") == 0 || strcmp(type, "ConceptRef") == 0)
	{
		ElmLibrary *lib = resolve_library(cc, obj);
		char	   *name = j_str(obj, "name");

		if (type[1] == 'o' && type[2] == 'd')	/* CodeRef */
		{
			for (int i = 0; i < lib->ncodes; i++)
				if (strcmp(lib->codes[i].name, name) == 0)
					n->ref = &lib->codes[i];
		}
		else
		{
			for (int i = 0; i < lib->nconcepts; i++)
				if (strcmp(lib->concepts[i].name, name) == 0)
					n->ref = &lib->concepts[i];
		}
		if (n->ref == NULL)
			compile_error(cc, obj, "unknown code or concept \"%s\"", name);
	}
	else if (strcmp(type, "Code") == 0)
	{
		JsonbContainer *sys = j_container(obj, "system");
		ElmCodeSystem *cs = sys ? find_codesystem(cc, sys) : NULL;

		n->lit = cql_code_value(j_str(obj, "code"), cs ? cs->url : NULL,
								cs ? cs->version : NULL, j_str(obj, "display"));
	}
	else if (strcmp(type, "Quantity") == 0)
	{
		char	   *v = j_str(obj, "value");

		n->lit = cql_quantity(v ? strtod(v, NULL) : 0, j_str(obj, "unit"));
	}
	else if (strcmp(type, "If") == 0)
	{
		static const char *const keys[] = {"condition", "then", "else"};

		compile_named_children(cc, n, obj, keys, 3);
	}
	else if (strcmp(type, "Case") == 0)
	{
		JsonbContainer *items = j_container(obj, "caseItem");
		int			k = j_len(items);

		/* args: comparand, else, then when/then pairs */
		set_args(n, 2 + 2 * k);
		n->args[0] = compile_child(cc, obj, "comparand");
		n->args[1] = compile_child(cc, obj, "else");
		for (int i = 0; i < k; i++)
		{
			n->args[2 + 2 * i] = compile_child(cc, j_at(items, i), "when");
			n->args[3 + 2 * i] = compile_child(cc, j_at(items, i), "then");
		}
		n->flag = case_is_type_dispatch(n, k);
	}
	else if (strcmp(type, "DateTime") == 0 || strcmp(type, "Date") == 0 ||
			 strcmp(type, "Time") == 0)
	{
		static const char *const dt_keys[] = {"year", "month", "day", "hour", "minute", "second", "millisecond", "timezoneOffset"};
		static const char *const t_keys[] = {"hour", "minute", "second", "millisecond"};

		if (type[0] == 'T')
			compile_named_children(cc, n, obj, t_keys, 4);
		else
			compile_named_children(cc, n, obj, dt_keys, type[4] == 'T' ? 8 : 3);
	}
	else if (strcmp(type, "Message") == 0)
	{
		static const char *const keys[] = {"source", "condition", "code", "severity", "message"};

		compile_named_children(cc, n, obj, keys, 5);
	}
	else if (strcmp(type, "InValueSet") == 0 || strcmp(type, "AnyInValueSet") == 0)
	{
		JsonbContainer *vs = j_container(obj, "valueset");

		set_args(n, 2);
		n->args[0] = compile_child(cc, obj, strcmp(type, "InValueSet") == 0 ? "code" : "codes");
		if (vs)
			n->ref = find_valueset(cc, vs);
		else
			n->args[1] = compile_child(cc, obj, "valuesetExpression");
		if (n->ref == NULL && n->args[1] == NULL)
			malformed(cc, obj, type, "has no value set");
	}
	else if (strcmp(type, "InCodeSystem") == 0 || strcmp(type, "AnyInCodeSystem") == 0)
	{
		JsonbContainer *cs = j_container(obj, "codesystem");

		set_args(n, 1);
		n->args[0] = compile_child(cc, obj, strcmp(type, "InCodeSystem") == 0 ? "code" : "codes");
		if (cs == NULL)
			compile_error(cc, obj, "%s without a code system", type);
		n->ref = find_codesystem(cc, cs);
	}
	else if (strcmp(type, "Split") == 0)
	{
		static const char *const keys[] = {"stringToSplit", "separator"};

		compile_named_children(cc, n, obj, keys, 2);
	}
	else if (strcmp(type, "Substring") == 0)
	{
		static const char *const keys[] = {"stringToSub", "startIndex", "length"};

		compile_named_children(cc, n, obj, keys, 3);
	}
	else if (strcmp(type, "Combine") == 0)
	{
		static const char *const keys[] = {"source", "separator"};

		compile_named_children(cc, n, obj, keys, 2);
	}
	else if (strcmp(type, "PositionOf") == 0 || strcmp(type, "LastPositionOf") == 0)
	{
		static const char *const keys[] = {"pattern", "string"};

		compile_named_children(cc, n, obj, keys, 2);
	}
	else if (strcmp(type, "Round") == 0)
	{
		static const char *const keys[] = {"operand", "precision"};

		compile_named_children(cc, n, obj, keys, 2);
	}
	else if (strcmp(type, "First") == 0 || strcmp(type, "Last") == 0 ||
			 strcmp(type, "Count") == 0 || strcmp(type, "Sum") == 0 ||
			 strcmp(type, "Min") == 0 || strcmp(type, "Max") == 0 ||
			 strcmp(type, "Avg") == 0 || strcmp(type, "AllTrue") == 0 ||
			 strcmp(type, "AnyTrue") == 0 || strcmp(type, "Median") == 0)
	{
		set_args(n, 1);
		n->args[0] = compile_child(cc, obj, "source");
	}
	else if (strcmp(type, "IndexOf") == 0)
	{
		static const char *const keys[] = {"source", "element"};

		compile_named_children(cc, n, obj, keys, 2);
	}
	else if (strcmp(type, "Sort") == 0)
	{
		JsonbContainer *by = j_container(obj, "by");
		JsonbContainer *b0 = j_len(by) > 0 ? j_at(by, 0) : NULL;
		char	   *dir = b0 ? j_str(b0, "direction") : NULL;

		set_args(n, 1);
		n->args[0] = compile_child(cc, obj, "source");
		n->flag = dir && strncmp(dir, "desc", 4) == 0;
		if (j_len(by) > 1 || (b0 && j_str(b0, "path")))
			compile_error(cc, obj, "%s by column is not implemented", type);
	}
	else if (strcmp(type, "Filter") == 0 || strcmp(type, "ForEach") == 0 ||
			 strcmp(type, "Repeat") == 0)
	{
		/* the body sees each item of the source as the scope variable */
		char	   *scope = j_str(obj, "scope");
		int			mark;

		set_args(n, 2);
		n->args[0] = compile_child(cc, obj, "source");
		mark = cc->nvars;
		n->slot = scope_push(cc, scope ? scope : "$this");
		n->args[1] = compile_child(cc, obj, strcmp(type, "Filter") == 0 ? "condition" : "element");
		cc->nvars = mark;
		if (n->args[0] == NULL || n->args[1] == NULL)
			compile_error(cc, obj, "%s needs a source and a body", type);
	}
	else if (strcmp(type, "Current") == 0)
	{
		char	   *scope = j_str(obj, "scope");

		n->slot = scope_find(cc, obj, scope ? scope : "$this");
	}
	else if (strcmp(type, "Slice") == 0)
	{
		static const char *const keys[] = {"source", "startIndex", "endIndex"};

		compile_named_children(cc, n, obj, keys, 3);
	}
	else if (strcmp(type, "SplitOnMatches") == 0)
	{
		static const char *const keys[] = {"stringToSplit", "separatorPattern"};

		compile_named_children(cc, n, obj, keys, 2);
	}
	else if (strcmp(type, "Ratio") == 0)
	{
		static const char *const keys[] = {"numerator", "denominator"};

		compile_named_children(cc, n, obj, keys, 2);
	}
	else if (strcmp(type, "Concept") == 0)
	{
		compile_operands(cc, n, obj, "code");
		n->str = j_str(obj, "display");
	}
	else if (strcmp(type, "Convert") == 0 || strcmp(type, "CanConvert") == 0)
	{
		compile_operands(cc, n, obj, "operand");
		n->ts = compile_type_attr(cc, obj, "toType", "toTypeSpecifier");
	}
	else if (strcmp(type, "Product") == 0 || strcmp(type, "GeometricMean") == 0 ||
			 strcmp(type, "Mode") == 0 || strcmp(type, "Variance") == 0 ||
			 strcmp(type, "PopulationVariance") == 0 || strcmp(type, "StdDev") == 0 ||
			 strcmp(type, "PopulationStdDev") == 0 || strcmp(type, "Children") == 0 ||
			 strcmp(type, "Descendents") == 0)
	{
		set_args(n, 1);
		n->args[0] = compile_child(cc, obj, "source");
		if (n->args[0] == NULL)
			compile_operands(cc, n, obj, "operand");
	}
	else if (strcmp(type, "Length") == 0)
	{
		/* null has length 0 as a List, none as a String: which one is it? */
		compile_operands(cc, n, obj, "operand");
		n->flag = operand_is_list(obj, n, 0) ||
			(n->nargs == 1 && (strcmp(n->args[0]->type, "List") == 0 ||
							   strcmp(n->args[0]->type, "Query") == 0 ||
							   strcmp(n->args[0]->type, "Retrieve") == 0 ||
							   strcmp(n->args[0]->type, "ToList") == 0));
	}
	else if (strcmp(type, "In") == 0)
	{
		/* null in a null list is false, null in a null interval null: which overload? */
		compile_operands(cc, n, obj, "operand");
		n->flag = operand_is_list(obj, n, 1);
	}
	else if (strcmp(type, "MinValue") == 0 || strcmp(type, "MaxValue") == 0)
		n->ts = compile_type_attr(cc, obj, "valueType", "valueTypeSpecifier");
	else if (strcmp(type, "ToList") == 0 || strcmp(type, "ToDecimal") == 0)
		compile_operands(cc, n, obj, "operand");
	else if (strcmp(type, "Union") == 0)
	{
		compile_operands(cc, n, obj, "operand");
		n->ref = fhir_retrieves_fused(n);	/* NULL: not a union of value-set retrieves */
	}
	else
		compile_operands(cc, n, obj, "operand");
	check_operands(cc, obj, type, n);
	return n;
}

/*
 * Turn n, in place, into a node of eval whose one operand is (a copy of)
 * what n was: the passes after compilation (elm_share.c, elm_invariant.c)
 * put a node in front of an expression without its parents knowing.
 */
void
elm_wrap_node(ElmNode *n, ElmEvalFn eval)
{
	ElmNode    *computation = node_alloc(sizeof(ElmNode), NODE_ALIGN);

	*computation = *n;
	memset(n, 0, sizeof(ElmNode));
	n->eval = eval;
	n->type = computation->type;	/* messages name what the CQL wrote */
	n->locator = computation->locator;
	n->nargs = 1;
	n->args = node_alloc(sizeof(ElmNode *), sizeof(ElmNode *));
	n->args[0] = computation;
	n->wrapper = true;
}

/* ---- libraries -------------------------------------------------------- */

static void
compile_library_header(ElmLibrary *lib, JsonbContainer *L, int depth)
{
	JsonbContainer *c;
	int			n;

	/* includes first: our references into them are resolved while compiling */
	c = j_container(j_container(L, "includes"), "def");
	n = j_len(c);
	lib->nincludes = 0;
	lib->includes = palloc0(sizeof(ElmInclude) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		JsonbContainer *inc = j_at(c, i);
		char	   *path = j_str(inc, "path");
		char	   *ver = j_str(inc, "version");
		ElmLibrary *il = library_load(path, ver, depth + 1);

		lib->includes[lib->nincludes].local_name = j_str(inc, "localIdentifier");
		lib->includes[lib->nincludes++].lib = il;
	}

	c = j_container(j_container(L, "codeSystems"), "def");
	lib->ncodesystems = j_len(c);
	lib->codesystems = palloc0(sizeof(ElmCodeSystem) * Max(lib->ncodesystems, 1));
	for (int i = 0; i < lib->ncodesystems; i++)
	{
		JsonbContainer *d = j_at(c, i);

		lib->codesystems[i].name = j_str(d, "name");
		lib->codesystems[i].url = j_str(d, "id");
		lib->codesystems[i].version = j_str(d, "version");
	}

	c = j_container(j_container(L, "valueSets"), "def");
	lib->nvaluesets = j_len(c);
	lib->valuesets = palloc0(sizeof(ElmValueSet) * Max(lib->nvaluesets, 1));
	for (int i = 0; i < lib->nvaluesets; i++)
	{
		JsonbContainer *d = j_at(c, i);

		lib->valuesets[i].name = j_str(d, "name");
		lib->valuesets[i].url = j_str(d, "id");
		lib->valuesets[i].version = j_str(d, "version");
	}
}

static void
compile_library_codes(CompileCtx *cc, JsonbContainer *L)
{
	ElmLibrary *lib = cc->lib;
	JsonbContainer *c;

	c = j_container(j_container(L, "codes"), "def");
	lib->ncodes = j_len(c);
	lib->codes = palloc0(sizeof(ElmCodeDef) * Max(lib->ncodes, 1));
	for (int i = 0; i < lib->ncodes; i++)
	{
		JsonbContainer *d = j_at(c, i);
		JsonbContainer *sys = j_container(d, "codeSystem");
		ElmCodeSystem *cs = sys ? find_codesystem(cc, sys) : NULL;

		lib->codes[i].name = j_str(d, "name");
		lib->codes[i].code.code = j_str(d, "id");
		lib->codes[i].code.system = cs ? cs->url : NULL;
		lib->codes[i].code.version = cs ? cs->version : NULL;
		lib->codes[i].code.display = j_str(d, "display");
	}

	c = j_container(j_container(L, "concepts"), "def");
	lib->nconcepts = j_len(c);
	lib->concepts = palloc0(sizeof(ElmConceptDef) * Max(lib->nconcepts, 1));
	for (int i = 0; i < lib->nconcepts; i++)
	{
		JsonbContainer *d = j_at(c, i);
		JsonbContainer *refs = j_container(d, "code");
		int			k = j_len(refs);

		lib->concepts[i].name = j_str(d, "name");
		lib->concepts[i].concept.display = j_str(d, "display");
		lib->concepts[i].concept.ncodes = 0;
		lib->concepts[i].concept.codes = palloc0(sizeof(CqlCode) * Max(k, 1));
		for (int j = 0; j < k; j++)
		{
			char	   *cname = j_str(j_at(refs, j), "name");

			for (int m = 0; m < lib->ncodes; m++)
				if (strcmp(lib->codes[m].name, cname) == 0)
					lib->concepts[i].concept.codes[lib->concepts[i].concept.ncodes++] = lib->codes[m].code;
		}
	}
}

static void
compile_library_body(ElmLibrary *lib, JsonbContainer *L)
{
	CompileCtx	cc = {0};
	JsonbContainer *params = j_container(j_container(L, "parameters"), "def");
	JsonbContainer *defs = j_container(j_container(L, "statements"), "def");
	int			ndefs = j_len(defs);

	cc.lib = lib;
	compile_library_codes(&cc, L);

	lib->nparams = j_len(params);
	lib->params = palloc0(sizeof(ElmParameter) * Max(lib->nparams, 1));
	for (int i = 0; i < lib->nparams; i++)
	{
		lib->params[i].name = j_str(j_at(params, i), "name");
		lib->params[i].is_measurement_period = lib->params[i].name &&
			strcmp(lib->params[i].name, "Measurement Period") == 0;
	}

	/* declare every definition and function before compiling any body */
	lib->defs = palloc0(sizeof(ElmDef) * Max(ndefs, 1));
	lib->funcs = palloc0(sizeof(ElmFunction) * Max(ndefs, 1));
	for (int i = 0; i < ndefs; i++)
	{
		JsonbContainer *d = j_at(defs, i);
		char	   *dtype = j_str(d, "type");

		if (dtype && strcmp(dtype, "FunctionDef") == 0)
		{
			ElmFunction *f = &lib->funcs[lib->nfuncs++];
			JsonbContainer *ops = j_container(d, "operand");

			f->name = j_str(d, "name");
			f->lib = lib;
			f->noperands = j_len(ops);
			f->operand_names = palloc0(sizeof(char *) * Max(f->noperands, 1));
			f->operand_types = palloc0(sizeof(ElmTypeSpec *) * Max(f->noperands, 1));
			cc.def_name = f->name;
			for (int k = 0; k < f->noperands; k++)
			{
				JsonbContainer *o = j_at(ops, k);

				f->operand_names[k] = j_str(o, "name");
				f->operand_types[k] = compile_type_attr(&cc, o, "operandType", "operandTypeSpecifier");
			}
		}
		else
		{
			ElmDef	   *def = &lib->defs[lib->ndefs++];
			char	   *ctx = j_str(d, "context");

			def->name = j_str(d, "name");
			def->lib = lib;
			def->patient_context = ctx == NULL || strcmp(ctx, "Patient") == 0;
		}
	}

	/* bodies */
	for (int i = 0, fi = 0, di = 0; i < ndefs; i++)
	{
		JsonbContainer *d = j_at(defs, i);
		char	   *dtype = j_str(d, "type");

		cc.nvars = 0;
		cc.next_slot = 0;
		if (dtype && strcmp(dtype, "FunctionDef") == 0)
		{
			ElmFunction *f = &lib->funcs[fi++];

			cc.def_name = f->name;
			for (int k = 0; k < f->noperands; k++)
				scope_push(&cc, f->operand_names[k]);
			if (!j_bool(d, "external", false))
				f->body = compile_child(&cc, d, "expression");
			f->nslots = cc.next_slot;
			elm_share_repeated_calls(f);
			mark_body_shape(f);
		}
		else
		{
			ElmDef	   *def = &lib->defs[di++];

			cc.def_name = def->name;
			def->expr = compile_child(&cc, d, "expression");
			if (def->expr == NULL)
				compile_error(&cc, d, "definition \"%s\" has no expression", def->name);
			def->nslots = cc.next_slot;
		}
	}

	for (int i = 0; i < lib->nparams; i++)
	{
		JsonbContainer *p = j_at(params, i);

		cc.nvars = 0;
		cc.next_slot = 0;
		cc.def_name = lib->params[i].name;
		lib->params[i].default_expr = compile_child(&cc, p, "default");
	}
}

/*
 * Find the library row: by canonical url, by url ending in "/name", or by
 * name; with the given version, or the greatest version.
 */
static Jsonb *
fetch_library_elm(const char *name_or_url, const char *version, char **url_out)
{
	int			pinned;
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	int			rc;
	Jsonb	   *result = NULL;
	const char *tail = strrchr(name_or_url, '/');

	/* SPI returns in its own procedure context: keep ours */
	MemoryContext caller = CurrentMemoryContext;

	/* includes name a library by canonical path; its last segment is its name */
	args[0] = CStringGetTextDatum(name_or_url);
	args[2] = CStringGetTextDatum(tail ? tail + 1 : name_or_url);
	if (version)
		args[1] = CStringGetTextDatum(version);
	else
		nulls[1] = 'n';

	engine_spi_ensure();
	pinned = search_path_pin();
	rc = SPI_execute_with_args(
							   "SELECT elm, url FROM hedis.library "
							   "WHERE (url = $1 OR name = $3 OR url LIKE '%/' || $3) "
							   "AND ($2 IS NULL OR version = $2) "
							   "ORDER BY (url = $1) DESC, version DESC LIMIT 1",
							   3, argtypes, args, nulls, true, 1);
	search_path_restore(pinned);
	MemoryContextSwitchTo(caller);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read hedis.library: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			MemoryContext old = MemoryContextSwitchTo(ElmCacheContext);

			result = DatumGetJsonbPCopy(d);
			*url_out = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
			*url_out = pstrdup(*url_out);
			MemoryContextSwitchTo(old);
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("library \"%s\" has no ELM JSON content", name_or_url),
					 errhint("Load a Library whose content includes application/elm+json.")));
	}
	return result;
}

static ElmLibrary *
library_load(const char *name_or_url, const char *version, int depth)
{
	char	   *key;
	CachedLibrary *cl;
	Jsonb	   *elm;
	char	   *url = NULL;
	JsonbContainer *L;
	ElmLibrary *lib;
	MemoryContext old;
	JsonbContainer *ident;

	if (depth > 32)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_RECURSION),
				 errmsg("library includes nest too deeply at \"%s\"", name_or_url)));
	key = strrchr(name_or_url, '/') ? strrchr(name_or_url, '/') + 1 : (char *) name_or_url;
	key = psprintf("%s|%s", key, version ? version : "");
	for (cl = elm_cache; cl; cl = cl->next)
		if (strcmp(cl->key, key) == 0)
		{
			if (cl->lib == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_RECURSION),
						 errmsg("library \"%s\" includes itself", name_or_url)));
			return cl->lib;
		}

	elm = fetch_library_elm(name_or_url, version, &url);
	if (elm == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("library \"%s\"%s%s is not loaded", name_or_url,
						version ? " version " : "", version ? version : ""),
				 errhint("Load the Library resource with hedis.load_bundle().")));

	old = MemoryContextSwitchTo(ElmCacheContext);
	cl = palloc0(sizeof(CachedLibrary));
	cl->key = pstrdup(key);
	cl->next = elm_cache;
	elm_cache = cl;				/* lib NULL while compiling: detects cycles */

	L = j_container(&elm->root, "library");
	if (L == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ELM of library \"%s\" has no \"library\" object", name_or_url)));
	lib = palloc0(sizeof(ElmLibrary));
	ident = j_container(L, "identifier");
	lib->name = j_str(ident, "id");
	lib->version = j_str(ident, "version");
	lib->url = url;
	compile_library_header(lib, L, depth);
	compile_library_body(lib, L);
	elm_keep_invariants(lib);
	cl->lib = lib;
	MemoryContextSwitchTo(old);
	return lib;
}

uint64
elm_knowledge_generation(void)
{
	static SPIPlanPtr plan = NULL;
	int			rc;
	bool		isnull;
	Datum		d;
	MemoryContext caller = CurrentMemoryContext;
	int			pinned;

	engine_spi_ensure();
	pinned = search_path_pin();
	if (plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("SELECT generation FROM hedis.knowledge_state LIMIT 1", 0, NULL);

		if (p == NULL)
			elog(ERROR, "could not prepare the knowledge generation query: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		plan = p;
	}
	rc = SPI_execute_plan(plan, NULL, NULL, true, 1);
	search_path_restore(pinned);
	MemoryContextSwitchTo(caller);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		return 0;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : (uint64) DatumGetInt64(d);
}

void
elm_cache_reset(void)
{
	if (ElmCacheContext)
		MemoryContextReset(ElmCacheContext);
	node_next = node_end = NULL;	/* their block went with it */
	elm_invariant_forget();	/* the nodes that kept values are gone */
	elm_cache = NULL;
	elm_cached_generation = 0;
	elm_cache_version++;
}

uint64
elm_cache_current_version(void)
{
	return elm_cache_version;
}

MemoryContext
elm_cache_context(void)
{
	return ElmCacheContext;
}

/*
 * Call inside SPI: drops compiled libraries when the knowledge store changed.
 * Knowledge cannot change within one command, so the check runs once per
 * command, not once per patient of a population query.
 */
void
elm_cache_check_generation(void)
{
	static LocalTransactionId checked_lxid = InvalidLocalTransactionId;
	static CommandId checked_cid = InvalidCommandId;
	uint64		gen;

	if (ElmCacheContext == NULL)
		ElmCacheContext = AllocSetContextCreate(CacheMemoryContext,
												"hedis compiled ELM",
												ALLOCSET_DEFAULT_SIZES);
	if (MyProc->lxid == checked_lxid && GetCurrentCommandId(false) == checked_cid &&
		elm_cached_generation != 0)
		return;
	gen = elm_knowledge_generation();
	if (gen != elm_cached_generation)
	{
		elm_cache_reset();
		elm_cached_generation = gen;
	}
	checked_lxid = MyProc->lxid;
	checked_cid = GetCurrentCommandId(false);
}

/* Call inside SPI. */
ElmLibrary *
elm_library_get(const char *name_or_url, const char *version)
{
	ElmLibrary *lib;

	elm_cache_check_generation();
	PG_TRY();
	{
		lib = library_load(name_or_url, version, 0);
	}
	PG_CATCH();
	{
		/* a half-compiled library must not stay in the cache */
		elm_cache_reset();
		PG_RE_THROW();
	}
	PG_END_TRY();
	return lib;
}
