/*
 * elm_invariant.c
 *		Expressions that are the same for every patient, computed once.
 *
 * Owner: the measure engine.  Measures compare every patient's data with
 * values built from the measurement period alone: "Interval[start of
 * "Measurement Period" - 1 year, end of "Measurement Period"]" is rebuilt in
 * a query's where clause for each row of each patient, a definition such as
 * "October 1 Two Years Prior to the Measurement Period" once per patient.
 * Such an expression reads no patient data, no query alias, no function
 * operand: given the evaluation's inputs (the measurement period), its value
 * is fixed.
 *
 * After a library is compiled, every largest subtree built only of
 * literals, parameters, terminology references, definitions of that kind
 * and the operators listed below becomes a node that computes the value on
 * its first evaluation and keeps a copy, in a context of its own, for the
 * evaluations that follow with the same measurement period (and default
 * time zone, hedis.timezone_offset, which DateTime constructors use).
 * A new period empties the context (the copies of the old one are then never read: the
 * nodes remember the generation of their copy); only an outermost
 * evaluation sets the period (engine_sql.c), so none is emptied under an
 * evaluation still using it.  Values that point into patient data (FHIR
 * elements) are never kept.
 *
 * CQL expressions have no side effects; Message, the one operator that
 * reports, is not among those listed, nor are Now() and Today() (they
 * follow the transaction).
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "engine/elm.h"

/* operators whose value is fixed when their operands' are */
static const char *const pure_operators[] = {
	"Abs", "Add", "And", "As", "Case", "Coalesce", "Concatenate", "Count", "Date",
	"DateFrom", "DateTime", "DateTimeComponentFrom", "Divide", "End", "Equal",
	"Equivalent", "Exists", "First", "Greater", "GreaterOrEqual", "If", "Instance",
	"Interval", "IsNull", "Last", "Less", "LessOrEqual", "List", "Modulo", "Multiply",
	"Negate", "Not", "NotEqual", "Or", "PointFrom", "Predecessor", "Size", "Start",
	"Subtract", "Successor", "Time", "TimeFrom", "ToDate", "ToDateTime", "ToDecimal",
	"ToInteger", "ToList", "ToQuantity", "ToString", "TruncatedDivide", "Tuple", "Width"
};

/* leaves whose value is fixed (not worth keeping: they cost nothing) */
static const char *const fixed_leaves[] = {
	"Literal", "Null", "Quantity", "Code", "ParameterRef", "CodeRef", "ConceptRef",
	"ValueSetRef", "CodeSystemRef"
};

static bool
type_in(const char *type, const char *const *list, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(type, list[i]) == 0)
			return true;
	return false;
}

/* ---- the kept values --------------------------------------------------- */

static MemoryContext invariant_context = NULL;
static uint64 invariant_generation = 1;
/* the inputs the kept values were computed with */
static bool have_inputs = false;
static uint64 inputs_period;
static int	inputs_tz;

void
elm_invariant_forget(void)
{
	have_inputs = false;
	invariant_generation++;
	if (invariant_context != NULL)
		MemoryContextReset(invariant_context);
}

void
elm_invariant_inputs(uint64 period, int tz_minutes)
{
	if (have_inputs && period == inputs_period && tz_minutes == inputs_tz)
		return;
	elm_invariant_forget();
	have_inputs = true;
	inputs_period = period;
	inputs_tz = tz_minutes;
}

/* a copy of v in CurrentMemoryContext, or false if v points into patient data */
static bool
copy_value(CqlValue v, CqlValue *out)
{
	*out = v;
	switch ((CqlKind) v.kind)
	{
		case CK_NULL:
		case CK_BOOL:
		case CK_INT:
		case CK_DEC:
		case CK_DATE:
		case CK_DATETIME:
		case CK_TIME:
		case CK_VALUESET:		/* the compiled library's, which outlives the copy */
			return true;
		case CK_STR:
			out->u.s = pstrdup(v.u.s);
			return true;
		case CK_QTY:
			out->u.q = palloc(sizeof(CqlQuantity));
			*out->u.q = *v.u.q;
			return true;
		case CK_RATIO:
			out->u.ratio = palloc(sizeof(CqlRatio));
			*out->u.ratio = *v.u.ratio;
			return true;
		case CK_CODE:
			out->u.code = palloc(sizeof(CqlCode));
			out->u.code->code = v.u.code->code ? pstrdup(v.u.code->code) : NULL;
			out->u.code->system = v.u.code->system ? pstrdup(v.u.code->system) : NULL;
			out->u.code->version = v.u.code->version ? pstrdup(v.u.code->version) : NULL;
			out->u.code->display = v.u.code->display ? pstrdup(v.u.code->display) : NULL;
			return true;
		case CK_INTERVAL:
		case CK_UNCERTAIN:
			out->u.iv = palloc(sizeof(CqlInterval));
			*out->u.iv = *v.u.iv;
			return copy_value(v.u.iv->low, &out->u.iv->low) &&
				copy_value(v.u.iv->high, &out->u.iv->high);
		case CK_LIST:
			out->u.list = palloc(sizeof(CqlList));
			out->u.list->n = out->u.list->cap = v.u.list->n;
			out->u.list->items = palloc(sizeof(CqlValue) * Max(v.u.list->n, 1));
			for (int i = 0; i < v.u.list->n; i++)
				if (!copy_value(v.u.list->items[i], &out->u.list->items[i]))
					return false;
			return true;
		default:
			/* FHIR elements, concepts, tuples, code systems: not kept */
			return false;
	}
}

static CqlValue
eval_invariant(EvalCtx *cx, const ElmNode *n)
{
	ElmNode    *m = (ElmNode *) n;
	CqlValue	v;
	CqlValue	kept;
	MemoryContext old;

	/* n->flag: its values cannot be kept (a concept, a tuple...): not tried again */
	if (!cx->inputs_fixed || n->flag)
		return elm_eval(cx, n->args[0]);
	if (m->kept_generation == invariant_generation)
		return m->kept;
	v = elm_eval(cx, n->args[0]);
	if (invariant_context == NULL)
		invariant_context = AllocSetContextCreate(TopMemoryContext, "hedis invariant values",
												  ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(invariant_context);
	if (copy_value(v, &kept))
	{
		m->kept = kept;
		m->kept_generation = invariant_generation;
	}
	else
		m->flag = true;
	MemoryContextSwitchTo(old);
	return v;
}

/* ---- finding the subtrees ---------------------------------------------- */

static bool mark(ElmNode *n);

/* turn n, in place, into a node keeping the value of (a copy of) n */
static void
make_invariant(ElmNode *n)
{
	elm_wrap_node(n, eval_invariant);
}

/* leaves cost nothing to evaluate; a reference's definition keeps its own value */
static bool
worth_keeping(const ElmNode *n)
{
	return n->eval != eval_invariant &&
		!type_in(n->type, fixed_leaves, lengthof(fixed_leaves)) &&
		strcmp(n->type, "ExpressionRef") != 0;
}

/* mark n; if it is fixed as a whole, it keeps its value */
static void
mark_and_keep(ElmNode *n)
{
	if (n != NULL && mark(n) && worth_keeping(n))
		make_invariant(n);
}

static bool
def_fixed(ElmDef *def)
{
	/* 0: not known yet, 1: fixed, -1: not, 2: being worked out (a cycle: not fixed) */
	if (def->invariant == 0)
	{
		bool		fixed;

		def->invariant = 2;
		fixed = def->expr != NULL && mark(def->expr);
		def->invariant = fixed ? 1 : -1;
		if (fixed && worth_keeping(def->expr))
			make_invariant(def->expr);
	}
	return def->invariant == 1;
}

/*
 * Is n fixed for all patients?  Below an n that is not, the largest fixed
 * subtrees are made to keep their values.
 */
static bool
mark(ElmNode *n)
{
	int			nkids = n ? n->nargs + 1 : 0;
	ElmNode   **kids;
	bool	   *kid_fixed;
	bool		all_fixed = true;
	bool		fixed;

	if (n == NULL || n->eval == eval_invariant)
		return true;
	/* a parameter other than the period may default to Now() */
	if (strcmp(n->type, "ParameterRef") == 0)
		return ((ElmParameter *) n->ref)->is_measurement_period;
	if (type_in(n->type, fixed_leaves, lengthof(fixed_leaves)))
		return true;
	if (strcmp(n->type, "ExpressionRef") == 0)
		return def_fixed((ElmDef *) n->ref);

	/* the children: operands and a property's source (at compile time: palloc is fine) */
	kids = palloc(sizeof(ElmNode *) * nkids);
	kid_fixed = palloc(sizeof(bool) * nkids);
	memcpy(kids, n->args, sizeof(ElmNode *) * n->nargs);
	kids[n->nargs] = n->source;
	for (int i = 0; i < nkids; i++)
		if (!(kid_fixed[i] = mark(kids[i])))
			all_fixed = false;
	/* a query's and a retrieve's parts read aliases or patient data: only below them */
	if (n->query)
	{
		const ElmQuery *q = n->query;

		all_fixed = false;
		for (int i = 0; i < q->nsources; i++)
			mark_and_keep(q->sources[i]);
		for (int i = 0; i < q->nlets; i++)
			mark_and_keep(q->lets[i]);
		for (int i = 0; i < q->nrels; i++)
		{
			mark_and_keep(q->rel_sources[i]);
			mark_and_keep(q->rel_such_that[i]);
		}
		mark_and_keep(q->where);
		mark_and_keep(q->ret);
		mark_and_keep(q->agg_expr);
		mark_and_keep(q->agg_start);
		for (int i = 0; i < q->nsort; i++)
			mark_and_keep(q->sort[i].expr);
	}
	if (n->retrieve)
	{
		all_fixed = false;
		mark_and_keep(n->retrieve->codes);
		mark_and_keep(n->retrieve->date_range);
	}
	fixed = all_fixed && type_in(n->type, pure_operators, lengthof(pure_operators));
	/* n is not fixed: its fixed children are the largest fixed subtrees */
	if (!fixed)
		for (int i = 0; i < nkids; i++)
			if (kids[i] != NULL && kid_fixed[i] && worth_keeping(kids[i]))
				make_invariant(kids[i]);
	pfree(kids);
	pfree(kid_fixed);
	return fixed;
}

void
elm_keep_invariants(ElmLibrary *lib)
{
	for (int i = 0; i < lib->ndefs; i++)
		(void) def_fixed(&lib->defs[i]);
	for (int i = 0; i < lib->nfuncs; i++)
		mark_and_keep(lib->funcs[i].body);
}

bool
elm_node_is_invariant(const ElmNode *n)
{
	if (n == NULL)
		return false;
	if (n->eval == eval_invariant || type_in(n->type, fixed_leaves, lengthof(fixed_leaves)))
		return true;
	return strcmp(n->type, "ExpressionRef") == 0 && n->ref != NULL &&
		((const ElmDef *) n->ref)->invariant == 1;
}
