/*
 * elm_share.c
 *		Repeated calls on a function's operands, computed once per call.
 *
 * The CQL-to-ELM translator copies an expression wherever the CQL names it:
 * QICoreCommon's abatementInterval tests and converts
 * FHIRHelpers.ToValue(condition.abatement) in 87 places (each "is" and
 * "as" of its if-chain holds its own copy), prevalenceInterval converts
 * condition.clinicalStatus three times.  Each copy reads the property again
 * (an absent choice element walks all of the resource's keys) and calls
 * ToValue again.
 *
 * A function's operands do not change while its body runs, and CQL
 * expressions have no side effects: two structurally equal calls or
 * property paths over the operands give the same value within one call.
 * After a library is compiled, each group of such copies in a function
 * body gets a pair of frame slots — the value, and whether it is computed
 * yet — and every copy becomes a node that computes the value on first use
 * in the call and reads the slot afterwards.  elm_call_function clears the
 * "computed" slots on entry.
 *
 * Only FunctionRef and Property nodes over OperandRefs qualify: anything
 * reading a query alias, a let or $this varies within the call.
 */
#include "postgres.h"

#include "engine/elm.h"

/* a tree of FunctionRef / Property-with-source / OperandRef only */
static bool
over_operands_only(const ElmNode *n)
{
	if (n == NULL)
		return false;
	if (strcmp(n->type, "OperandRef") == 0)
		return true;
	if (strcmp(n->type, "Property") == 0)
		return n->source != NULL && over_operands_only(n->source);
	if (strcmp(n->type, "FunctionRef") == 0)
	{
		for (int i = 0; i < n->nargs; i++)
			if (!over_operands_only(n->args[i]))
				return false;
		return true;
	}
	return false;
}

static CqlValue eval_shared(EvalCtx *cx, const ElmNode *n);

static bool
same_tree(const ElmNode *a, const ElmNode *b)
{
	/* a copy already shared compares as what it computes */
	if (a && a->eval == eval_shared)
		a = a->args[0];
	if (b && b->eval == eval_shared)
		b = b->args[0];
	if (a == b)
		return true;
	if (a == NULL || b == NULL || strcmp(a->type, b->type) != 0)
		return false;
	if (strcmp(a->type, "OperandRef") == 0)
		return a->slot == b->slot;
	if (strcmp(a->type, "Property") == 0)
		return strcmp(a->str, b->str) == 0 && same_tree(a->source, b->source);
	/* FunctionRef: the same candidate overloads, equal arguments */
	if (a->noverloads != b->noverloads || a->nargs != b->nargs)
		return false;
	for (int i = 0; i < a->noverloads; i++)
		if (a->overloads[i] != b->overloads[i])
			return false;
	for (int i = 0; i < a->nargs; i++)
		if (!same_tree(a->args[i], b->args[i]))
			return false;
	return true;
}

typedef struct ShareCtx
{
	ElmNode   **cand;			/* candidate roots, in pre-order */
	int			ncand;
	int			capcand;
} ShareCtx;

static void collect(ShareCtx *sc, ElmNode *n);

static void
collect_query(ShareCtx *sc, ElmQuery *q)
{
	for (int i = 0; i < q->nsources; i++)
		collect(sc, q->sources[i]);
	for (int i = 0; i < q->nlets; i++)
		collect(sc, q->lets[i]);
	for (int i = 0; i < q->nrels; i++)
	{
		collect(sc, q->rel_sources[i]);
		collect(sc, q->rel_such_that[i]);
	}
	collect(sc, q->where);
	collect(sc, q->ret);
	collect(sc, q->agg_expr);
	collect(sc, q->agg_start);
	for (int i = 0; i < q->nsort; i++)
		collect(sc, q->sort[i].expr);
}

/*
 * Is n evaluated as its node type is?  A node another compile step gave an
 * evaluation of its own (a query's source that passes on only the
 * extensions of one url) computes something else than its plain copies.
 */
static bool
plain_node(const ElmNode *n)
{
	const ElmOpInfo *op = elm_op_lookup(n->type);

	return op != NULL && op->eval == n->eval;
}

/* every plain FunctionRef/Property over operands only, outermost first */
static void
collect(ShareCtx *sc, ElmNode *n)
{
	if (n == NULL)
		return;
	if ((strcmp(n->type, "FunctionRef") == 0 || strcmp(n->type, "Property") == 0) &&
		plain_node(n) && over_operands_only(n))
	{
		if (sc->ncand == sc->capcand)
		{
			sc->capcand = sc->capcand ? sc->capcand * 2 : 16;
			sc->cand = sc->cand ? repalloc(sc->cand, sizeof(ElmNode *) * sc->capcand)
				: palloc(sizeof(ElmNode *) * sc->capcand);
		}
		sc->cand[sc->ncand++] = n;
	}
	for (int i = 0; i < n->nargs; i++)
		collect(sc, n->args[i]);
	collect(sc, n->source);
	if (n->query)
		collect_query(sc, n->query);
	if (n->retrieve)
	{
		collect(sc, n->retrieve->codes);
		collect(sc, n->retrieve->date_range);
	}
}

static CqlValue
eval_shared(EvalCtx *cx, const ElmNode *n)
{
	CqlValue   *slot = &cx->slots[cx->frame_base + n->slot];

	if (slot[1].kind != CK_BOOL)
	{
		slot[0] = elm_eval(cx, n->args[0]);
		slot[1] = cql_bool(true);
	}
	return slot[0];
}

/* turn n, in place, into a read of the shared value in slots s, s + 1 */
static void
make_shared(ElmNode *n, int s)
{
	elm_wrap_node(n, eval_shared);
	n->slot = s;
}

void
elm_share_repeated_calls(ElmFunction *f)
{
	ShareCtx	sc = {0};
	bool	   *done;

	f->shared_first = f->nslots;
	f->nshared = 0;
	if (f->body == NULL)
		return;
	collect(&sc, f->body);
	if (sc.ncand < 2)
		return;
	done = palloc0(sizeof(bool) * sc.ncand);
	for (int i = 0; i < sc.ncand; i++)
	{
		int			copies = 1;

		if (done[i])
			continue;
		for (int k = i + 1; k < sc.ncand; k++)
			if (!done[k] && same_tree(sc.cand[i], sc.cand[k]))
				copies++;
		if (copies < 2)
			continue;
		for (int k = sc.ncand - 1; k >= i; k--)
			if (!done[k] && (k == i || same_tree(sc.cand[i], sc.cand[k])))
			{
				done[k] = true;
				make_shared(sc.cand[k], f->shared_first + 2 * f->nshared);
			}
		f->nshared++;
	}
	f->nslots = f->shared_first + 2 * f->nshared;
	pfree(done);
	pfree(sc.cand);
}
