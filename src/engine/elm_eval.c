/*
 * elm_eval.c
 *		The evaluator core: references, functions, variables, properties,
 *		types, conditionals, selectors, queries and retrieves.
 *
 * Operators on values (arithmetic, comparison, temporal, interval, list,
 * string) live in elm_ops.c; both register their node types in the table
 * at the end of elm_ops.c.
 *
 * Variables (function operands, query aliases, lets) are slots in a frame
 * on cx->slots; compilation numbered them, so a reference is an array index.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#include "common/jsonb_access.h"
#include "engine/elm.h"
#include "engine/elm_ops.h"
#include "engine/fhir_data.h"

void
elm_error_at(const ElmNode *n, const char *fmt,...)
{
	char		buf[1024];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("%s", buf),
			 errdetail("ELM node %s at %s", n ? n->type : "?",
					   n && n->locator ? n->locator : "(no locator)")));
}

void
elm_ctx_init(EvalCtx *cx, MemoryContext mcxt)
{
	/* one slot array per backend: every slot is written before it is read */
	static CqlValue *slots = NULL;

	if (slots == NULL)
		slots = MemoryContextAlloc(TopMemoryContext, sizeof(CqlValue) * ELM_MAX_SLOTS);
	memset(cx, 0, sizeof(EvalCtx));
	cx->mcxt = mcxt;
	cx->slots = slots;
	cx->measurement_period = CQL_NULL_VALUE;
}

bool
elm_truthy(CqlValue v)
{
	return v.kind == CK_BOOL && v.u.b;
}

CqlValue
elm_eval_bool_arg(EvalCtx *cx, const ElmNode *n, int i)
{
	CqlValue	v = elm_eval(cx, n->args[i]);

	if (v.kind == CK_FHIR)
		v = fhir_primitive_value(v.u.fhir);
	return v;
}

static void
frame_push(EvalCtx *cx, const ElmNode *n, int nslots, int *saved_base)
{
	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	if (cx->frame_top + nslots >= ELM_MAX_SLOTS || ++cx->depth > 400)
		elm_error_at(n, "evaluation nests too deeply");
	*saved_base = cx->frame_base;
	cx->frame_base = cx->frame_top;
	cx->frame_top += nslots;
}

static void
frame_pop(EvalCtx *cx, int nslots, int saved_base)
{
	cx->frame_top -= nslots;
	cx->frame_base = saved_base;
	cx->depth--;
}

/* ---- definitions, parameters, functions ------------------------------ */

static bool node_is_true(EvalCtx *cx, const ElmNode *n);

/*
 * The definition's expression in a frame of its own: its value, or by
 * truth alone (elm_def_is_true) whether it is true, as a Boolean.  The
 * recursion guard is the epoch of the evaluation under way, not a flag
 * reset on the way out of an error: every evaluation has an epoch of its
 * own, so a guard an error left set is stale for the next one, and no
 * PG_TRY block is set up for every definition evaluated.
 */
static CqlValue
eval_def_expr(EvalCtx *cx, ElmDef *def, bool by_truth)
{
	int			saved;
	CqlValue	v;

	if (def->evaluating_epoch == cx->epoch)
		elm_error_at(def->expr, "expression \"%s\" refers to itself", def->name);
	def->evaluating_epoch = cx->epoch;
	frame_push(cx, def->expr, def->nslots, &saved);
	v = by_truth ? cql_bool(node_is_true(cx, def->expr)) : elm_eval(cx, def->expr);
	frame_pop(cx, def->nslots, saved);
	def->evaluating_epoch = 0;
	return v;
}

CqlValue
elm_eval_def(EvalCtx *cx, ElmDef *def)
{
	CqlValue	v;

	if (def->cache_epoch == cx->epoch)
		return def->cached;
	v = eval_def_expr(cx, def, false);
	def->cached = v;
	def->cache_epoch = cx->epoch;
	return v;
}

static CqlValue
eval_expression_ref(EvalCtx *cx, const ElmNode *n)
{
	return elm_eval_def(cx, (ElmDef *) n->ref);
}

static CqlValue
eval_parameter_ref(EvalCtx *cx, const ElmNode *n)
{
	ElmParameter *p = (ElmParameter *) n->ref;
	CqlValue	v;

	/* the measurement period given to the evaluation overrides the default */
	if (p->is_measurement_period && cx->measurement_period.kind != CK_NULL)
		return cx->measurement_period;
	if (p->cache_epoch == cx->epoch)
		return p->cached;
	v = p->default_expr ? elm_eval(cx, p->default_expr) : CQL_NULL_VALUE;
	p->cached = v;
	p->cache_epoch = cx->epoch;
	return v;
}

/* runtime type name used to choose among overloads */
static const char *
arg_type_key(CqlValue v)
{
	if (v.kind == CK_FHIR)
		return v.u.fhir->type ? v.u.fhir->type : "?";
	return cql_kind_name(v);
}

static int
overload_score(ElmFunction *f, CqlValue *args)
{
	int			score = 0;

	for (int i = 0; i < f->noperands; i++)
	{
		ElmTypeSpec *t = f->operand_types[i];
		CqlValue	a = args[i];

		if (a.kind == CK_NULL || t == NULL)
			continue;
		if (!elm_type_matches(a, t))
			return -1;
		/* exact FHIR type beats an ancestor */
		if (a.kind == CK_FHIR && t->kind == ETS_NAMED && a.u.fhir->type &&
			strcmp(a.u.fhir->type, t->name) == 0)
			score += 2;
		else
			score += 1;
	}
	return score;
}

static ElmFunction *
choose_overload(const ElmNode *n, CqlValue *args)
{
	ElmNode    *mn = (ElmNode *) n;	/* the per-node choice cache */
	const char *key;
	ElmFunction *best = NULL;
	int			best_score = -1;

	if (n->noverloads == 1)
		return n->overloads[0];
	key = n->nargs > 0 ? arg_type_key(args[0]) : "";
	if (mn->cache_fn && mn->cache_type == key && n->nargs == 1)
		return mn->cache_fn;
	for (int i = 0; i < n->noverloads; i++)
	{
		int			s = overload_score(n->overloads[i], args);

		if (s > best_score)
		{
			best = n->overloads[i];
			best_score = s;
		}
	}
	if (best == NULL)
		elm_error_at(n, "no overload of function \"%s\" accepts %s", n->str,
					 n->nargs > 0 ? cql_kind_name(args[0]) : "no arguments");
	if (n->nargs == 1 && args[0].kind != CK_NULL)
	{
		mn->cache_type = key;
		mn->cache_fn = best;
	}
	return best;
}

/*
 * A function's results in one evaluation, by the FHIR element it was given.
 *
 * The translator copies an expression wherever the CQL names it, across
 * function bodies and queries alike: an Interval<Date> function result
 * converted to Interval<DateTime> becomes an Interval whose low, high,
 * lowClosed and highClosed each call the function again
 * (AdvancedIllnessandFrailty's medicationRequestPeriod() overlaps ...), and
 * FHIRHelpers' ToInterval, ToValue or ToConcept meet the same element from
 * several definitions.  CQL functions have no side effects and everything
 * else they may read (parameters, the patient, Now()) is fixed for the
 * evaluation, so a call on the element at the same address (and length,
 * for a string), of the same type, in the same evaluation gives the same
 * value.  An element has one
 * address for the whole evaluation: the patient's documents are read into
 * memory that lives as long as it does.  Booleans and nulls have no address
 * and are not kept; nor is a call that fails.
 */
typedef struct FunctionMemo
{
	uint64		epoch;
	const void *element;
	int			length;			/* a string's: two may start at one address */
	const char *type;
	JsonbContainer *ext;
	CqlValue	result;
} FunctionMemo;

FunctionMemo *
elm_function_memo_new(void)
{
	return palloc0(sizeof(FunctionMemo) * ELM_FUNCTION_MEMO_SLOTS);
}

/* the address of a FHIR element's data, or NULL for a boolean or null */
static const void *
element_address(const CqlFhir *e)
{
	switch (e->jv.type)
	{
		case jbvBinary:
			return e->jv.val.binary.data;
		case jbvString:
			return e->jv.val.string.val;
		case jbvNumeric:
			return e->jv.val.numeric;
		default:
			return NULL;
	}
}

static int
element_length(const CqlFhir *e)
{
	return e->jv.type == jbvString ? e->jv.val.string.len : 0;
}

static FunctionMemo *
memo_slot(EvalCtx *cx, ElmFunction *f, const CqlValue *args, bool *hit)
{
	CqlValue	arg;
	const void *element;
	FunctionMemo *m;

	*hit = false;
	/* only functions of one operand have a memo; others may get no arguments */
	if (f->memo == NULL)
		return NULL;
	arg = args[0];
	if (arg.kind != CK_FHIR || (element = element_address(arg.u.fhir)) == NULL)
		return NULL;
	m = &f->memo[((uintptr_t) element >> 3) % ELM_FUNCTION_MEMO_SLOTS];
	*hit = m->epoch == cx->epoch && m->element == element &&
		m->length == element_length(arg.u.fhir) &&
		m->type == arg.u.fhir->type && m->ext == arg.u.fhir->ext;
	return m;
}

/*
 * The slot is written only once the call has returned: a call that fails
 * leaves it as it was, and a call of the same function on another element
 * made during this one (the same slot) is overwritten whole, key and value.
 */
static void
memo_keep(EvalCtx *cx, FunctionMemo *m, CqlValue arg, CqlValue result)
{
	m->epoch = cx->epoch;
	m->element = element_address(arg.u.fhir);
	m->length = element_length(arg.u.fhir);
	m->type = arg.u.fhir->type;
	m->ext = arg.u.fhir->ext;
	m->result = result;
}

CqlValue
elm_call_function(EvalCtx *cx, const ElmNode *call, ElmFunction *f, CqlValue *args)
{
	int			saved;
	CqlValue	v;
	FunctionMemo *memo;
	bool		hit;

	if (f->body == NULL)
		elm_error_at(call, "external function \"%s\" is not available", f->name);
	/* a query over an empty list has no rows (eval_query): no frame needed */
	if (f->query_over_operand && args[0].kind == CK_LIST && args[0].u.list->n == 0)
		return cql_list_new(0);
	memo = memo_slot(cx, f, args, &hit);
	if (hit)
		return memo->result;
	frame_push(cx, call, f->nslots, &saved);
	for (int i = 0; i < f->noperands; i++)
	{
		CqlValue	a = args[i];
		ElmTypeSpec *t = f->operand_types[i];

		/* an untyped FHIR element takes the type the function declares */
		if (a.kind == CK_FHIR && a.u.fhir->type == NULL && t && t->kind == ETS_NAMED && !t->is_system)
			a = cql_fhir_value(t->fhir_type, &a.u.fhir->jv, a.u.fhir->ext);
		cx->slots[cx->frame_base + i] = a;
	}
	for (int i = 0; i < f->nshared; i++)
		cx->slots[cx->frame_base + f->shared_first + 2 * i + 1] = CQL_NULL_VALUE;
	v = elm_eval(cx, f->body);
	frame_pop(cx, f->nslots, saved);
	if (memo != NULL)
		memo_keep(cx, memo, args[0], v);
	return v;
}

static CqlValue eval_property(EvalCtx *cx, const ElmNode *n);
static CqlValue property_step(CqlValue src, const char *name);

/* what a Property node's path starts from: its source, or its scope's slot */
static inline CqlValue
property_source(EvalCtx *cx, const ElmNode *p)
{
	return p->source ? elm_eval(cx, p->source) : cx->slots[cx->frame_base + p->slot];
}

/*
 * F(X.name) where the overload F the call chose before for name's FHIR type
 * is "operand.value" (FHIRHelpers.ToString(E.status), ToDateTime(P.start)):
 * the primitive's value read in place, without the element's wrapper and
 * the call's frame.  Anything else is the call as written, X evaluated once.
 */
static CqlValue
call_on_property(EvalCtx *cx, const ElmNode *n)
{
	ElmNode    *p = n->args[0];
	CqlValue	x = property_source(cx, p);
	CqlFhir		prim;
	CqlValue	arg;

	if (fhir_child_primitive(x, p->str, &p->memo_type, &p->memo_elem, &prim))
	{
		ElmFunction *f = n->noverloads == 1 ? n->overloads[0]
			: (n->cache_fn != NULL && n->cache_type == prim.type) ? n->cache_fn : NULL;

		if (f != NULL && f->value_of_operand)
			return fhir_primitive_value(&prim);
	}
	/* what eval_property gives for a one-step path */
	arg = x.kind == CK_FHIR ? fhir_property_memo(x, p->str, &p->memo_type, &p->memo_elem)
		: property_step(x, p->str);
	return elm_call_function(cx, n, choose_overload(n, &arg), &arg);
}

static CqlValue
eval_function_ref(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	args[16];

	if (n->nargs > lengthof(args))
		elm_error_at(n, "function \"%s\" has too many arguments", n->str);
	if (n->nargs == 1 && n->args[0]->eval == eval_property &&
		!n->args[0]->flag && !n->args[0]->flag2)
		return call_on_property(cx, n);
	for (int i = 0; i < n->nargs; i++)
		args[i] = elm_eval(cx, n->args[i]);
	return elm_call_function(cx, n, choose_overload(n, args), args);
}

static CqlValue
eval_slot(EvalCtx *cx, const ElmNode *n)
{
	return cx->slots[cx->frame_base + n->slot];
}

/*
 * A let's value: computed on first read in the row (a let the return
 * does not reach, like MedicationRequestPeriod's dose arithmetic when the
 * days supply is given, is never computed).  CQL expressions have no side
 * effects, so only an error in an unread let could tell the difference.
 */
static CqlValue
eval_let_ref(EvalCtx *cx, const ElmNode *n)
{
	CqlValue   *slot = &cx->slots[cx->frame_base + n->slot];

	if (n->ref != NULL && slot[1].kind != CK_BOOL)
	{
		slot[0] = elm_eval(cx, (const ElmNode *) n->ref);
		slot[1] = cql_bool(true);
	}
	return slot[0];
}

/* ---- properties ------------------------------------------------------- */

static CqlValue property_step(CqlValue src, const char *name);

static CqlValue
property_of_list(CqlList *l, const char *name)
{
	CqlValue	out = cql_list_new(l->n);

	for (int i = 0; i < l->n; i++)
	{
		CqlValue	v = property_step(l->items[i], name);

		if (v.kind == CK_LIST)
			for (int k = 0; k < v.u.list->n; k++)
				cql_list_append(&out, v.u.list->items[k]);
		else if (v.kind != CK_NULL)
			cql_list_append(&out, v);
	}
	return out;
}

static CqlValue
property_step(CqlValue src, const char *name)
{
	switch (src.kind)
	{
		case CK_NULL:
			return src;
		case CK_FHIR:
			return fhir_property(src, name);
		case CK_LIST:
			return property_of_list(src.u.list, name);
		case CK_TUPLE:
			for (int i = 0; i < src.u.tuple->n; i++)
				if (strcmp(src.u.tuple->names[i], name) == 0)
					return src.u.tuple->vals[i];
			return CQL_NULL_VALUE;
		case CK_INTERVAL:
			if (strcmp(name, "low") == 0)
				return src.u.iv->low;
			if (strcmp(name, "high") == 0)
				return src.u.iv->high;
			if (strcmp(name, "lowClosed") == 0)
				return cql_bool(src.u.iv->low_closed);
			if (strcmp(name, "highClosed") == 0)
				return cql_bool(src.u.iv->high_closed);
			return CQL_NULL_VALUE;
		case CK_CODE:
			if (strcmp(name, "code") == 0)
				return src.u.code->code ? cql_str(src.u.code->code) : CQL_NULL_VALUE;
			if (strcmp(name, "system") == 0)
				return src.u.code->system ? cql_str(src.u.code->system) : CQL_NULL_VALUE;
			if (strcmp(name, "version") == 0)
				return src.u.code->version ? cql_str(src.u.code->version) : CQL_NULL_VALUE;
			if (strcmp(name, "display") == 0)
				return src.u.code->display ? cql_str(src.u.code->display) : CQL_NULL_VALUE;
			return CQL_NULL_VALUE;
		case CK_CONCEPT:
			if (strcmp(name, "codes") == 0)
			{
				CqlValue	out = cql_list_new(src.u.concept->ncodes);

				for (int i = 0; i < src.u.concept->ncodes; i++)
				{
					CqlValue	c = {.kind = CK_CODE};

					c.u.code = &src.u.concept->codes[i];
					cql_list_append(&out, c);
				}
				return out;
			}
			if (strcmp(name, "display") == 0)
				return src.u.concept->display ? cql_str(src.u.concept->display) : CQL_NULL_VALUE;
			return CQL_NULL_VALUE;
		case CK_QTY:
			if (strcmp(name, "value") == 0)
				return cql_dec(src.u.q->value);
			if (strcmp(name, "unit") == 0)
				return cql_str(pstrdup(src.u.q->unit));
			return CQL_NULL_VALUE;
		case CK_RATIO:
			if (strcmp(name, "numerator") == 0)
				return cql_quantity(src.u.ratio->num.value, src.u.ratio->num.unit);
			if (strcmp(name, "denominator") == 0)
				return cql_quantity(src.u.ratio->den.value, src.u.ratio->den.unit);
			return CQL_NULL_VALUE;
		default:
			return CQL_NULL_VALUE;
	}
}

/*
 * X.name.value (marked by the compiler, mark_child_value): a FHIR
 * primitive's value read without the wrapper the step to it would make
 * (fhir_child_primitive_value); anything else takes the two steps.  step is
 * the Property whose source (or scope) is X: the inner one of two nested
 * Properties, or the dotted one itself; it also memoises the element.
 */
static CqlValue
eval_child_value(EvalCtx *cx, const ElmNode *n)
{
	ElmNode    *step = n->strs ? (ElmNode *) n : n->source;
	const char *name = n->strs ? n->strs[0] : step->str;
	CqlValue	x = property_source(cx, step);
	CqlValue	out;

	if (fhir_child_primitive_value(x, name, &step->memo_type, &step->memo_elem, &out))
		return out;
	return property_step(property_step(x, name), "value");
}

static CqlValue
eval_property(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v;
	const char *path = n->str;
	const char *dot;
	ElmNode    *mn = (ElmNode *) n;

	/* X.name.value in one step (but not over an inner Property some pass took over) */
	if (n->flag2 && (n->strs != NULL || n->source->eval == eval_property))
		return eval_child_value(cx, n);
	v = property_source(cx, n);

	/* the common case: one step on a FHIR element, element look-up memoised */
	if (v.kind == CK_FHIR && !n->flag)
		return fhir_property_memo(v, path, &mn->memo_type, &mn->memo_elem);

	/* dotted paths ("value.value") step segment by segment */
	while ((dot = strchr(path, '.')) != NULL)
	{
		char		seg[NAMEDATALEN];

		strlcpy(seg, path, Min(sizeof(seg), (size_t) (dot - path + 1)));
		v = property_step(v, seg);
		path = dot + 1;
	}
	return property_step(v, path);
}

static CqlValue eval_literal(EvalCtx *cx, const ElmNode *n);

/*
 * A query over extensions keeps those whose url is a given string
 * (QI-Core's Patient.sex, US Core's race: "Patient.extension E where
 * E.url = '...' return E.value").  Its source then passes on only the
 * elements whose url is that string, read in place: the others, most of a
 * patient's extensions, would each take the alias, a property, a call and
 * a comparison to be turned away by the where clause, which still decides
 * for those passed on.  The source node keeps the string (lit) and the
 * call on the url, if any (ref).  An element without that url (none, another, not a
 * string) is one the where clause turns away: its url is null or another.
 */

/*
 * The string of where "alias.url = 'string'" or "F(alias.url) = 'string'"
 * (either side first), as a literal node, and in *call the F, if any;
 * NULL if where is not such a test.
 */
static const ElmNode *
url_test_literal(const ElmNode *where, int slot, const ElmNode **call)
{
	const ElmNode *lit;
	const ElmNode *x;

	if (where == NULL || strcmp(where->type, "Equal") != 0 || where->nargs != 2)
		return NULL;
	lit = where->args[0]->eval == eval_literal ? where->args[0] : where->args[1];
	x = lit == where->args[0] ? where->args[1] : where->args[0];
	if (lit->eval != eval_literal || lit->lit.kind != CK_STR)
		return NULL;
	*call = NULL;
	if (x->eval == eval_function_ref && x->nargs == 1)
	{
		*call = x;
		x = x->args[0];
	}
	if (x->eval != eval_property || x->source != NULL || x->slot != slot ||
		x->flag || x->flag2 || x->str == NULL || strcmp(x->str, "url") != 0)
		return NULL;
	return lit;
}

/* does the extension object have that url? */
static bool
has_url(JsonbContainer *ext, const char *url, int len)
{
	JsonbValue	u;

	return jb_object_get(ext, "url", 3, &u) && u.type == jbvString &&
		u.val.string.len == len && memcmp(u.val.string.val, url, len) == 0;
}

/* an element that is not an object is left to the where clause */
static bool
may_have_url(const JsonbValue *e, const char *url, int len)
{
	return e->type != jbvBinary || !JsonContainerIsObject(e->val.binary.data) ||
		has_url(e->val.binary.data, url, len);
}

static CqlValue
eval_extensions_by_url(EvalCtx *cx, const ElmNode *n)
{
	ElmNode    *mn = (ElmNode *) n;
	CqlValue	x = property_source(cx, n);
	const char *url = n->lit.u.s;
	int			len = strlen(url);
	CqlValue	all;
	CqlValue	out;

	/*
	 * The extensions of that url, found in the document's array itself: most
	 * elements have none (the empty list, no element wrapped), and of those
	 * that do, only they are wrapped — as the property wraps every
	 * extension, with the type it gave them the first time (cache_type:
	 * until then the property is read whole).
	 */
	if (x.kind == CK_FHIR && x.u.fhir->jv.type == jbvBinary &&
		JsonContainerIsObject(x.u.fhir->jv.val.binary.data))
	{
		JsonbValue	arr;
		JbArrayWalk w;
		JsonbValue	item;

		if (jb_object_get(x.u.fhir->jv.val.binary.data, "extension", 9, &arr) &&
			arr.type == jbvBinary && JsonContainerIsArray(arr.val.binary.data))
		{
			bool		maybe = false;

			out = cql_list_new(0);
			jb_array_walk_begin(&w, arr.val.binary.data);
			while (jb_array_walk_next(&w, &item))
			{
				if (item.type == jbvNull || !may_have_url(&item, url, len))
					continue;
				maybe = true;
				if (mn->cache_type == NULL)
					break;
				cql_list_append(&out, cql_fhir_value(mn->cache_type, &item, NULL));
			}
			if (!maybe || mn->cache_type != NULL)
				return out;
		}
		/* absent, odd, or the first time: as the property reads it */
		all = fhir_property_memo(x, n->str, &mn->memo_type, &mn->memo_elem);
		if (all.kind == CK_LIST && all.u.list->n > 0 && all.u.list->items[0].kind == CK_FHIR)
			mn->cache_type = all.u.list->items[0].u.fhir->type;
	}
	else
		all = property_step(x, n->str);
	if (all.kind != CK_LIST)
		return all;
	out = cql_list_new(1);
	for (int i = 0; i < all.u.list->n; i++)
	{
		CqlValue	e = all.u.list->items[i];

		if (e.kind != CK_FHIR || may_have_url(&e.u.fhir->jv, url, len))
			cql_list_append(&out, e);
	}
	return out;
}

/*
 * F(alias.url): only if every overload of F is "operand.value" (FHIRHelpers'
 * ToString) is the test the url's string; decided at the first evaluation,
 * when every function is compiled.  ref: the call.
 */
static CqlValue
eval_extensions_by_url_first(EvalCtx *cx, const ElmNode *n)
{
	ElmNode    *mn = (ElmNode *) n;
	const ElmNode *call = (const ElmNode *) n->ref;

	mn->eval = eval_extensions_by_url;
	for (int i = 0; i < call->noverloads; i++)
		if (call->overloads[i]->body == NULL || !call->overloads[i]->value_of_operand)
			mn->eval = eval_property;
	return n->eval(cx, n);
}

/* a query is compiled: its source reads only the extensions of one url if it can */
void
elm_query_filter_extensions(ElmQuery *q)
{
	ElmNode    *src;
	const ElmNode *call;
	const ElmNode *lit;

	if (q->nsources != 1 || q->nrels > 0 || q->agg_expr != NULL)
		return;
	src = q->sources[0];
	if (src->eval != eval_property || src->flag || src->flag2 || src->str == NULL ||
		strcmp(src->str, "extension") != 0 ||
		(lit = url_test_literal(q->where, q->source_slots[0], &call)) == NULL)
		return;
	src->lit = lit->lit;
	src->ref = (void *) call;
	src->eval = call ? eval_extensions_by_url_first : eval_extensions_by_url;
}

static CqlValue
eval_identifier_ref(EvalCtx *cx, const ElmNode *n)
{
	return property_step(cx->slots[cx->frame_base + n->slot], n->str);
}

/* ---- types ------------------------------------------------------------ */

/* the value kinds a System type name holds */
static uint32
system_type_kinds(const char *name)
{
	static const struct
	{
		const char *name;
		CqlKind		kind;
	}			kinds[] = {
		{"Boolean", CK_BOOL}, {"Integer", CK_INT}, {"Long", CK_INT}, {"Decimal", CK_DEC},
		{"String", CK_STR}, {"Date", CK_DATE}, {"DateTime", CK_DATETIME}, {"Time", CK_TIME},
		{"Quantity", CK_QTY}, {"Ratio", CK_RATIO}, {"Code", CK_CODE}, {"Concept", CK_CONCEPT},
		{"ValueSet", CK_VALUESET}, {"Vocabulary", CK_VALUESET}, {"Tuple", CK_TUPLE}
	};
	uint32		mask = 0;

	for (int i = 0; i < lengthof(kinds); i++)
		if (strcmp(name, kinds[i].name) == 0)
			mask |= (uint32) 1 << kinds[i].kind;
	return mask;
}

/* type names compared once per type specifier, not once per value */
static void
resolve_named_type(ElmTypeSpec *ts)
{
	ts->any = ts->name == NULL || strcmp(ts->name, "Any") == 0;
	ts->system_kinds = (ts->name && ts->is_system) ? system_type_kinds(ts->name) : 0;
	ts->resolved = true;
}

bool
elm_type_matches(CqlValue v, const ElmTypeSpec *ts)
{
	if (v.kind == CK_NULL)
		return false;
	switch (ts->kind)
	{
		case ETS_NAMED:
			if (!ts->resolved)
				resolve_named_type((ElmTypeSpec *) ts);
			if (ts->any)
				return true;
			if (v.kind == CK_FHIR)
			{
				if (ts->is_system)
					return false;
				if (v.u.fhir->type == NULL)
					return true;	/* untyped: accept, the function types it */
				return fhir_type_is_a(v.u.fhir->type, ts->fhir_type ? ts->fhir_type : ts->name);
			}
			return (ts->system_kinds & ((uint32) 1 << v.kind)) != 0;
		case ETS_LIST:
			return v.kind == CK_LIST;
		case ETS_INTERVAL:
			if (v.kind != CK_INTERVAL)
				return false;
			if (ts->elem == NULL)
				return true;
			if (v.u.iv->low.kind != CK_NULL)
				return elm_type_matches(v.u.iv->low, ts->elem);
			if (v.u.iv->high.kind != CK_NULL)
				return elm_type_matches(v.u.iv->high, ts->elem);
			return true;
		case ETS_CHOICE:
			for (int i = 0; i < ts->nchoices; i++)
				if (elm_type_matches(v, ts->choices[i]))
					return true;
			return false;
		case ETS_TUPLE:
			return v.kind == CK_TUPLE;
	}
	return false;
}

/* type test, memoised on the FHIR type (interned, so compared by pointer) */
static bool
type_matches_memo(const ElmNode *n, CqlValue v)
{
	ElmNode    *mn = (ElmNode *) n;

	if (v.kind != CK_FHIR || v.u.fhir->type == NULL)
		return elm_type_matches(v, n->ts);
	if (mn->memo_type != v.u.fhir->type)
	{
		mn->memo_match = elm_type_matches(v, n->ts) ? 1 : 0;
		mn->memo_type = v.u.fhir->type;
	}
	return mn->memo_match == 1;
}

static CqlValue
eval_as(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = elm_eval(cx, n->args[0]);

	if (v.kind == CK_NULL)
		return v;
	if (n->ts == NULL)
		return v;
	if (v.kind == CK_FHIR && v.u.fhir->type == NULL && n->ts->kind == ETS_NAMED && !n->ts->is_system)
		return cql_fhir_value(n->ts->fhir_type, &v.u.fhir->jv, v.u.fhir->ext);
	/*
	 * A profile-only type the FHIR model does not know (QI-Core's
	 * NotDoneRecorded, say) cannot be checked: the value passes, as in the
	 * reference engine.
	 */
	if (n->ts->kind == ETS_NAMED && !n->ts->is_system && n->ts->fhir_type == NULL &&
		strcmp(n->ts->name, "Any") != 0 && !n->flag)
		return v;
	if (type_matches_memo(n, v))
		return v;
	/* casting a FHIR primitive to its System type */
	if (v.kind == CK_FHIR && n->ts->kind == ETS_NAMED && n->ts->is_system)
	{
		CqlValue	s = fhir_to_system(v);

		if (elm_type_matches(s, n->ts))
			return s;
	}
	if (n->flag)
		elm_error_at(n, "cannot cast a %s to %s", cql_kind_name(v), n->ts->name ? n->ts->name : "that type");
	return CQL_NULL_VALUE;
}

static CqlValue
eval_is(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = elm_eval(cx, n->args[0]);

	if (v.kind == CK_FHIR && v.u.fhir->type == NULL)
		return cql_bool(false);
	return cql_bool(type_matches_memo(n, v));
}

/* ---- conditionals and logic ------------------------------------------ */

static CqlValue
eval_if(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	c = elm_eval_bool_arg(cx, n, 0);

	if (elm_truthy(c))
		return elm_eval(cx, n->args[1]);
	return n->args[2] ? elm_eval(cx, n->args[2]) : CQL_NULL_VALUE;
}

/*
 * A case that only tests the type of one operand (see case_is_type_dispatch):
 * the operand is read once, and for a FHIR value, whose type is an interned
 * name, the branch is remembered per type.
 */
static CqlValue
eval_case_by_type(EvalCtx *cx, const ElmNode *n, int nitems)
{
	ElmNode    *mn = (ElmNode *) n;
	CqlValue	v = elm_eval(cx, n->args[2]->args[0]);
	int			branch = -1;

	if (v.kind == CK_FHIR && v.u.fhir->type == NULL)
		branch = -1;			/* an untyped element is no type (eval_is) */
	else if (v.kind == CK_FHIR && mn->memo_type == v.u.fhir->type)
		branch = mn->memo_match;
	else
	{
		for (int i = 0; i < nitems && branch < 0; i++)
			if (v.kind != CK_NULL && elm_type_matches(v, n->args[2 + 2 * i]->ts))
				branch = i;
		if (v.kind == CK_FHIR)
		{
			mn->memo_type = v.u.fhir->type;
			mn->memo_match = branch;
		}
	}
	if (branch >= 0)
		return elm_eval(cx, n->args[3 + 2 * branch]);
	return n->args[1] ? elm_eval(cx, n->args[1]) : CQL_NULL_VALUE;
}

static CqlValue
eval_case(EvalCtx *cx, const ElmNode *n)
{
	int			nitems = (n->nargs - 2) / 2;

	if (n->flag)
		return eval_case_by_type(cx, n, nitems);
	if (n->args[0])
	{
		CqlValue	comparand = elm_eval(cx, n->args[0]);

		for (int i = 0; i < nitems; i++)
			if (cql_equal(comparand, elm_eval(cx, n->args[2 + 2 * i])) == CQL_TRUE)
				return elm_eval(cx, n->args[3 + 2 * i]);
	}
	else
	{
		for (int i = 0; i < nitems; i++)
			if (elm_truthy(elm_eval_bool_arg(cx, n, 2 + 2 * i)))
				return elm_eval(cx, n->args[3 + 2 * i]);
	}
	return n->args[1] ? elm_eval(cx, n->args[1]) : CQL_NULL_VALUE;
}

static CqlValue
eval_and(EvalCtx *cx, const ElmNode *n)
{
	bool		unknown = false;

	for (int i = 0; i < n->nargs; i++)
	{
		CqlValue	v = elm_eval_bool_arg(cx, n, i);

		if (v.kind == CK_BOOL && !v.u.b)
			return cql_bool(false);
		if (v.kind != CK_BOOL)
			unknown = true;
	}
	return unknown ? CQL_NULL_VALUE : cql_bool(true);
}

static CqlValue
eval_or(EvalCtx *cx, const ElmNode *n)
{
	bool		unknown = false;

	for (int i = 0; i < n->nargs; i++)
	{
		CqlValue	v = elm_eval_bool_arg(cx, n, i);

		if (v.kind == CK_BOOL && v.u.b)
			return cql_bool(true);
		if (v.kind != CK_BOOL)
			unknown = true;
	}
	return unknown ? CQL_NULL_VALUE : cql_bool(false);
}

static CqlValue
eval_xor(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = elm_eval_bool_arg(cx, n, 0);
	CqlValue	b = elm_eval_bool_arg(cx, n, 1);

	if (a.kind != CK_BOOL || b.kind != CK_BOOL)
		return CQL_NULL_VALUE;
	return cql_bool(a.u.b != b.u.b);
}

static CqlValue
eval_implies(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = elm_eval_bool_arg(cx, n, 0);
	CqlValue	b;

	if (a.kind == CK_BOOL && !a.u.b)
		return cql_bool(true);
	b = elm_eval_bool_arg(cx, n, 1);
	if (b.kind == CK_BOOL && b.u.b)
		return cql_bool(true);
	if (a.kind == CK_BOOL && b.kind == CK_BOOL)
		return cql_bool(false);
	return CQL_NULL_VALUE;
}

static CqlValue
eval_not(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = elm_eval_bool_arg(cx, n, 0);

	return v.kind == CK_BOOL ? cql_bool(!v.u.b) : CQL_NULL_VALUE;
}

static CqlValue
eval_is_null(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = elm_eval(cx, n->args[0]);

	if (v.kind == CK_FHIR && v.u.fhir->jv.type == jbvNull)
		return cql_bool(true);
	return cql_bool(v.kind == CK_NULL);
}

static CqlValue
eval_is_true(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = elm_eval_bool_arg(cx, n, 0);

	return cql_bool(v.kind == CK_BOOL && v.u.b);
}

static CqlValue
eval_is_false(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = elm_eval_bool_arg(cx, n, 0);

	return cql_bool(v.kind == CK_BOOL && !v.u.b);
}

static CqlValue
eval_coalesce(EvalCtx *cx, const ElmNode *n)
{
	for (int i = 0; i < n->nargs; i++)
	{
		CqlValue	v = elm_eval(cx, n->args[i]);

		/* Coalesce over a single list operand takes its first non-null */
		if (n->nargs == 1 && v.kind == CK_LIST)
		{
			for (int k = 0; k < v.u.list->n; k++)
				if (v.u.list->items[k].kind != CK_NULL)
					return v.u.list->items[k];
			return CQL_NULL_VALUE;
		}
		if (v.kind != CK_NULL)
			return v;
	}
	return CQL_NULL_VALUE;
}

/* ---- population criteria, by truth alone ----------------------------- */

/* a Boolean value is true (a FHIR boolean by its value) */
static bool
value_is_true(CqlValue v)
{
	if (v.kind == CK_FHIR)
		v = fhir_primitive_value(v.u.fhir);
	return elm_truthy(v);
}

/*
 * Is n's value true?  An And is decided by the truth of its operands and
 * stops at the first that is not true, null as well as false: `null and X`
 * can never be true, so X is not evaluated.  An Or stops at the first true.
 */
static bool
node_is_true(EvalCtx *cx, const ElmNode *n)
{
	if (n->eval == eval_and)
	{
		for (int i = 0; i < n->nargs; i++)
			if (!node_is_true(cx, n->args[i]))
				return false;
		return true;
	}
	if (n->eval == eval_or)
	{
		for (int i = 0; i < n->nargs; i++)
			if (node_is_true(cx, n->args[i]))
				return true;
		return false;
	}
	if (n->eval == eval_expression_ref)
		return elm_def_is_true(cx, (ElmDef *) n->ref);
	return value_is_true(elm_eval(cx, n));
}

/* is the definition's expression an And or an Or (decided by truth alone)? */
bool
elm_def_is_logical(const ElmDef *def)
{
	return def->expr->eval == eval_and || def->expr->eval == eval_or;
}

/*
 * Is the definition's value true?  What a patient-based population asks of
 * its criterion; for an And or an Or, decided by truth alone and its exact
 * value not worked out when it is not true: an evaluation that reports the
 * definitions' values (evidence) must not ask.
 */
bool
elm_def_is_true(EvalCtx *cx, ElmDef *def)
{
	bool		r;

	if (def->cache_epoch == cx->epoch || !elm_def_is_logical(def))
		return value_is_true(elm_eval_def(cx, def));
	if (def->not_true_epoch == cx->epoch)
		return false;
	r = eval_def_expr(cx, def, true).u.b;

	/*
	 * Only a true value is kept as the definition's: it is exact (every
	 * operand of an And was true; true or anything is true).  Not true may
	 * be false or null, so a later use of its value evaluates it exactly;
	 * later questions of its truth are answered from the mark (a criterion
	 * several exclusions share is walked once).
	 */
	if (r)
	{
		def->cached = cql_bool(true);
		def->cache_epoch = cx->epoch;
	}
	else
		def->not_true_epoch = cx->epoch;
	return r;
}

/* ---- selectors -------------------------------------------------------- */

static CqlValue
eval_literal(EvalCtx *cx, const ElmNode *n)
{
	return n->lit;
}

static CqlValue
eval_interval(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	low = n->args[0] ? elm_eval(cx, n->args[0]) : CQL_NULL_VALUE;
	CqlValue	high = n->args[1] ? elm_eval(cx, n->args[1]) : CQL_NULL_VALUE;
	bool		lc = n->flag,
				hc = n->flag2;

	if (n->args[2])
		lc = elm_truthy(elm_eval_bool_arg(cx, n, 2));
	if (n->args[3])
		hc = elm_truthy(elm_eval_bool_arg(cx, n, 3));
	if (low.kind == CK_FHIR)
		low = fhir_to_system(low);
	if (high.kind == CK_FHIR)
		high = fhir_to_system(high);
	return cql_interval(low, high, lc, hc);
}

static CqlValue
eval_list(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	out = cql_list_new(n->nargs);

	for (int i = 0; i < n->nargs; i++)
		cql_list_append(&out, elm_eval(cx, n->args[i]));
	return out;
}

static CqlValue
eval_tuple(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	t = cql_tuple_new(n->nargs);

	for (int i = 0; i < n->nargs; i++)
	{
		t.u.tuple->names[i] = n->strs[i];
		t.u.tuple->vals[i] = n->args[i] ? elm_eval(cx, n->args[i]) : CQL_NULL_VALUE;
	}
	return t;
}

static CqlValue
tuple_get(CqlValue t, const char *name)
{
	for (int i = 0; i < t.u.tuple->n; i++)
		if (strcmp(t.u.tuple->names[i], name) == 0)
			return t.u.tuple->vals[i];
	return CQL_NULL_VALUE;
}

static const char *
opt_str(CqlValue v)
{
	if (v.kind == CK_FHIR)
		v = fhir_primitive_value(v.u.fhir);
	return v.kind == CK_STR ? v.u.s : NULL;
}

static CqlValue
eval_instance(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	t = eval_tuple(cx, n);
	const char *cls = n->ts ? n->ts->name : NULL;

	if (cls && n->ts->is_system)
	{
		if (strcmp(cls, "Code") == 0)
			return cql_code_value(opt_str(tuple_get(t, "code")), opt_str(tuple_get(t, "system")),
								  opt_str(tuple_get(t, "version")), opt_str(tuple_get(t, "display")));
		if (strcmp(cls, "Concept") == 0)
		{
			CqlValue	codes = tuple_get(t, "codes");
			CqlValue	c = {.kind = CK_CONCEPT};

			c.u.concept = palloc0(sizeof(CqlConcept));
			c.u.concept->display = opt_str(tuple_get(t, "display"));
			if (codes.kind == CK_LIST)
			{
				c.u.concept->codes = palloc0(sizeof(CqlCode) * Max(codes.u.list->n, 1));
				for (int i = 0; i < codes.u.list->n; i++)
					if (codes.u.list->items[i].kind == CK_CODE)
						c.u.concept->codes[c.u.concept->ncodes++] = *codes.u.list->items[i].u.code;
			}
			return c;
		}
		if (strcmp(cls, "Quantity") == 0)
		{
			CqlValue	val = tuple_get(t, "value");

			if (val.kind == CK_FHIR)
				val = fhir_primitive_value(val.u.fhir);
			if (val.kind == CK_NULL)
				return cql_quantity(0, opt_str(tuple_get(t, "unit")));
			return cql_quantity(val.kind == CK_INT ? (double) val.u.i : val.u.d,
								opt_str(tuple_get(t, "unit")));
		}
		if (strcmp(cls, "Ratio") == 0)
		{
			CqlValue	num = tuple_get(t, "numerator");
			CqlValue	den = tuple_get(t, "denominator");
			CqlValue	r = {.kind = CK_RATIO};

			if (num.kind != CK_QTY || den.kind != CK_QTY)
				return CQL_NULL_VALUE;
			r.u.ratio = palloc(sizeof(CqlRatio));
			r.u.ratio->num = *num.u.q;
			r.u.ratio->den = *den.u.q;
			return r;
		}
	}
	/* other classes (FHIR types, tuples of a named type): a tuple suffices */
	return t;
}

static CqlValue
eval_valueset_ref(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = {.kind = CK_VALUESET};

	v.u.vs = (ElmValueSet *) n->ref;
	return v;
}

static CqlValue
eval_code_ref(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = {.kind = CK_CODE};

	v.u.code = &((ElmCodeDef *) n->ref)->code;
	return v;
}

static CqlValue
eval_concept_ref(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = {.kind = CK_CONCEPT};

	v.u.concept = &((ElmConceptDef *) n->ref)->concept;
	return v;
}

static CqlValue
eval_codesystem_ref(EvalCtx *cx, const ElmNode *n)
{
	ElmCodeSystem *cs = (ElmCodeSystem *) n->ref;

	return cql_str(cs->url);
}

static CqlValue
eval_message(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	src = elm_eval(cx, n->args[0]);
	CqlValue	cond = n->args[1] ? elm_eval_bool_arg(cx, n, 1) : cql_bool(false);

	if (elm_truthy(cond))
	{
		CqlValue	sev = n->args[3] ? elm_eval(cx, n->args[3]) : CQL_NULL_VALUE;
		CqlValue	msg = n->args[4] ? elm_eval(cx, n->args[4]) : CQL_NULL_VALUE;
		const char *s = opt_str(sev);

		if (s && pg_strcasecmp(s, "error") == 0)
			elm_error_at(n, "%s", opt_str(msg) ? opt_str(msg) : "error raised by Message");
		/* no patient data in the server log: messages go to the client only */
		ereport(DEBUG1,
				(errmsg_internal("CQL message: %s", opt_str(msg) ? opt_str(msg) : ""),
				 errhidestmt(true)));
	}
	return src;
}

/* ---- queries ---------------------------------------------------------- */

typedef struct QueryState
{
	EvalCtx    *cx;
	const ElmQuery *q;
	CqlValue   *src_values;		/* per source: a list */
	CqlValue	out;			/* results */
	CqlValue	acc;			/* aggregate accumulator */
	bool		singleton;
} QueryState;

static bool
query_relationships_hold(QueryState *qs)
{
	EvalCtx    *cx = qs->cx;
	const ElmQuery *q = qs->q;

	for (int r = 0; r < q->nrels; r++)
	{
		CqlValue	rs = elm_eval(cx, q->rel_sources[r]);
		bool		found = false;
		int			n = rs.kind == CK_LIST ? rs.u.list->n : (rs.kind == CK_NULL ? 0 : 1);

		for (int i = 0; i < n && !found; i++)
		{
			cx->slots[cx->frame_base + q->rel_slots[r]] =
				rs.kind == CK_LIST ? rs.u.list->items[i] : rs;
			if (q->rel_such_that[r] == NULL ||
				elm_truthy(elm_eval(cx, q->rel_such_that[r])))
				found = true;
		}
		if (found == q->rel_without[r])
			return false;
	}
	return true;
}

static void
query_emit(QueryState *qs)
{
	EvalCtx    *cx = qs->cx;
	const ElmQuery *q = qs->q;
	CqlValue	v;

	for (int i = 0; i < q->nlets; i++)
		if (q->let_lazy[i])
			cx->slots[cx->frame_base + q->let_slots[i] + 1] = CQL_NULL_VALUE;
	for (int i = 0; i < q->nlets; i++)
		if (!q->let_lazy[i])
		{
			cx->slots[cx->frame_base + q->let_slots[i]] = elm_eval(cx, q->lets[i]);
			cx->slots[cx->frame_base + q->let_slots[i] + 1] = cql_bool(true);
		}
	if (q->nrels > 0 && !query_relationships_hold(qs))
		return;
	if (q->where)
	{
		CqlValue	w = elm_eval(cx, q->where);

		if (w.kind == CK_FHIR)
			w = fhir_primitive_value(w.u.fhir);
		if (!elm_truthy(w))
			return;
	}
	if (q->agg_expr)
	{
		cx->slots[cx->frame_base + q->agg_slot] = qs->acc;
		qs->acc = elm_eval(cx, q->agg_expr);
		return;
	}
	if (q->ret)
		v = elm_eval(cx, q->ret);
	else if (q->nsources == 1)
		v = cx->slots[cx->frame_base + q->source_slots[0]];
	else
	{
		v = cql_tuple_new(q->nsources);
		for (int i = 0; i < q->nsources; i++)
		{
			v.u.tuple->names[i] = q->source_aliases[i];
			v.u.tuple->vals[i] = cx->slots[cx->frame_base + q->source_slots[i]];
		}
	}
	cql_list_append(&qs->out, v);
}

static void
query_iterate(QueryState *qs, int src)
{
	CqlList    *l;

	if (src == qs->q->nsources)
	{
		query_emit(qs);
		return;
	}
	l = qs->src_values[src].u.list;
	for (int i = 0; i < l->n; i++)
	{
		qs->cx->slots[qs->cx->frame_base + qs->q->source_slots[src]] = l->items[i];
		query_iterate(qs, src + 1);
	}
}

/* de-duplicate in place, keeping first occurrences */
CqlValue
elm_list_distinct(CqlValue list)
{
	CqlValue	out;

	if (list.kind != CK_LIST || list.u.list->n < 2)
		return list;
	out = cql_list_new(list.u.list->n);
	for (int i = 0; i < list.u.list->n; i++)
	{
		CqlValue	v = list.u.list->items[i];
		bool		dup = false;

		for (int k = 0; k < out.u.list->n && !dup; k++)
		{
			CqlValue	w = out.u.list->items[k];

			if (v.kind == CK_NULL && w.kind == CK_NULL)
				dup = true;
			else if (v.kind == CK_FHIR && w.kind == CK_FHIR &&
					 v.u.fhir->jv.type == jbvBinary && w.u.fhir->jv.type == jbvBinary)
				dup = v.u.fhir->jv.val.binary.data == w.u.fhir->jv.val.binary.data ||
					fhir_deep_equal(v.u.fhir, w.u.fhir);
			else
				dup = cql_equal(v, w) == CQL_TRUE;
		}
		if (!dup)
			cql_list_append(&out, v);
	}
	return out;
}

typedef struct SortCtx
{
	EvalCtx    *cx;
	const ElmQuery *q;
	CqlValue   *keys;			/* nitems * nsort */
	int			nsort;
} SortCtx;

static SortCtx *sort_ctx_current;

static int
sort_cmp_indexes(const void *a, const void *b)
{
	int			ia = *(const int *) a,
				ib = *(const int *) b;
	SortCtx    *sc = sort_ctx_current;

	for (int k = 0; k < sc->nsort; k++)
	{
		int			c = cql_sort_compare(sc->keys[ia * sc->nsort + k], sc->keys[ib * sc->nsort + k]);

		if (c != 0)
			return sc->q->sort[k].desc ? -c : c;
	}
	return ia - ib;				/* stable */
}

static CqlValue
query_sort(EvalCtx *cx, const ElmQuery *q, CqlValue list)
{
	int			n = list.u.list->n;
	SortCtx		sc;
	int		   *idx;
	CqlValue	out;
	SortCtx    *saved = sort_ctx_current;

	if (n < 2)
		return list;
	sc.cx = cx;
	sc.q = q;
	sc.nsort = q->nsort;
	sc.keys = palloc(sizeof(CqlValue) * n * q->nsort);
	idx = palloc(sizeof(int) * n);
	for (int i = 0; i < n; i++)
	{
		CqlValue	item = list.u.list->items[i];

		idx[i] = i;
		for (int k = 0; k < q->nsort; k++)
		{
			CqlValue	key = item;

			if (q->sort[k].path)
				key = property_step(item, q->sort[k].path);
			else if (q->sort[k].expr)
			{
				cx->slots[cx->frame_base + q->this_slot] = item;
				key = elm_eval(cx, q->sort[k].expr);
			}
			if (key.kind == CK_FHIR)
				key = fhir_to_system(key);
			sc.keys[i * q->nsort + k] = key;
		}
	}
	sort_ctx_current = &sc;
	qsort(idx, n, sizeof(int), sort_cmp_indexes);
	sort_ctx_current = saved;
	out = cql_list_new(n);
	for (int i = 0; i < n; i++)
		cql_list_append(&out, list.u.list->items[idx[i]]);
	return out;
}

static CqlValue
eval_query(EvalCtx *cx, const ElmNode *n)
{
	const ElmQuery *q = n->query;
	QueryState	qs;
	CqlValue	srcbuf[8];

	/*
	 * A source that is one item (FHIRHelpers and QICoreCommon functions:
	 * "Request R let ...") is iterated as a one-item list kept on the stack,
	 * and a query whose sources are all such gives at most one result, also
	 * gathered on the stack: neither list outlives the query, and these run
	 * several times per patient.
	 */
	CqlList		one_src[8];
	CqlValue	one_item[8];
	CqlList		one_out;
	CqlValue	one_out_item;
	bool		any_empty = false;

	if (q->nsources > lengthof(srcbuf))
		elm_error_at(n, "query has too many sources");
	qs.cx = cx;
	qs.q = q;
	qs.src_values = srcbuf;
	qs.singleton = true;
	for (int i = 0; i < q->nsources; i++)
	{
		CqlValue	v = elm_eval(cx, q->sources[i]);

		if (v.kind == CK_LIST)
		{
			qs.singleton = false;
			any_empty |= v.u.list->n == 0;
		}
		else
		{
			/* a query over one item returns one item (or null) */
			if (q->nsources == 1 && v.kind == CK_NULL)
				return CQL_NULL_VALUE;
			one_item[i] = v;
			one_src[i].n = v.kind != CK_NULL ? 1 : 0;
			one_src[i].cap = 1;
			one_src[i].items = &one_item[i];
			v.kind = CK_LIST;
			v.u.list = &one_src[i];
		}
		srcbuf[i] = v;
	}

	/*
	 * An empty source: no rows, so an empty result (lets and relationships
	 * are read per row).  Most of a patient's queries run over retrieves
	 * that found nothing.
	 */
	if (any_empty && q->agg_expr == NULL)
		return cql_list_new(0);
	if (qs.singleton && q->nsort == 0)
	{
		one_out.n = 0;
		one_out.cap = 1;
		one_out.items = &one_out_item;
		qs.out.kind = CK_LIST;
		qs.out.u.list = &one_out;
	}
	else
		qs.out = cql_list_new(srcbuf[0].u.list->n);
	qs.acc = q->agg_start ? elm_eval(cx, q->agg_start) : CQL_NULL_VALUE;
	if (q->agg_expr && q->agg_distinct)
		srcbuf[0] = elm_list_distinct(srcbuf[0]);
	query_iterate(&qs, 0);
	if (q->agg_expr)
		return qs.acc;
	if (q->ret && q->ret_distinct)
		qs.out = elm_list_distinct(qs.out);
	if (q->nsort > 0)
		qs.out = query_sort(cx, q, qs.out);
	if (qs.singleton)
		return qs.out.u.list->n > 0 ? qs.out.u.list->items[0] : CQL_NULL_VALUE;
	return qs.out;
}

static CqlValue
eval_retrieve(EvalCtx *cx, const ElmNode *n)
{
	return fhir_retrieve(cx, n->retrieve, n);
}

/* ---- registration ----------------------------------------------------- */

const ElmOpInfo elm_core_ops[] = {
	{"AliasRef", eval_slot},
	{"And", eval_and},
	{"As", eval_as},
	{"Case", eval_case},
	{"Code", eval_literal},
	{"CodeRef", eval_code_ref},
	{"CodeSystemRef", eval_codesystem_ref},
	{"Coalesce", eval_coalesce},
	{"ConceptRef", eval_concept_ref},
	{"ExpressionRef", eval_expression_ref},
	{"FunctionRef", eval_function_ref},
	{"IdentifierRef", eval_identifier_ref},
	{"If", eval_if},
	{"Implies", eval_implies},
	{"Instance", eval_instance},
	{"Interval", eval_interval},
	{"Is", eval_is},
	{"IsFalse", eval_is_false},
	{"IsNull", eval_is_null},
	{"IsTrue", eval_is_true},
	{"List", eval_list},
	{"Literal", eval_literal},
	{"Message", eval_message},
	{"Not", eval_not},
	{"Null", eval_literal},
	{"OperandRef", eval_slot},
	{"Or", eval_or},
	{"ParameterRef", eval_parameter_ref},
	{"Property", eval_property},
	{"Quantity", eval_literal},
	{"Query", eval_query},
	{"QueryLetRef", eval_let_ref},
	{"Retrieve", eval_retrieve},
	{"Tuple", eval_tuple},
	{"ValueSetRef", eval_valueset_ref},
	{"Xor", eval_xor},
	{NULL, NULL}
};
