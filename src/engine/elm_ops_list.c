/*
 * elm_ops_list.c
 *		List operators and aggregates: exists, singleton from, first/last,
 *		count/sum/min/max/avg/median, distinct, flatten, union/intersect/
 *		except (of lists and of intervals), indexer, sort.
 */
#include "postgres.h"

#include <math.h>

#include "engine/elm.h"
#include "engine/elm_ops.h"
#include "engine/fhir_data.h"

static inline CqlValue
arg(EvalCtx *cx, const ElmNode *n, int i)
{
	return elm_eval(cx, n->args[i]);
}

/* a list operand; null stays null, a single item is not promoted */
static CqlValue
list_arg(EvalCtx *cx, const ElmNode *n, int i)
{
	CqlValue	v = arg(cx, n, i);

	if (v.kind != CK_LIST && v.kind != CK_NULL)
		elm_error_at(n, "%s expects a list, got %s", n->type, cql_kind_name(v));
	return v;
}

static CqlValue
eval_exists(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	l = arg(cx, n, 0);

	if (l.kind == CK_NULL)
		return cql_bool(false);
	if (l.kind != CK_LIST)
		return cql_bool(true);
	for (int i = 0; i < l.u.list->n; i++)
		if (l.u.list->items[i].kind != CK_NULL)
			return cql_bool(true);
	return cql_bool(false);
}

static CqlValue
eval_singleton_from(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	l = arg(cx, n, 0);

	if (l.kind != CK_LIST)
		return l;
	if (l.u.list->n == 0)
		return CQL_NULL_VALUE;
	if (l.u.list->n > 1)
		elm_error_at(n, "singleton from a list of %d elements", l.u.list->n);
	return l.u.list->items[0];
}

static CqlValue
eval_first(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	l = list_arg(cx, n, 0);

	if (l.kind != CK_LIST || l.u.list->n == 0)
		return CQL_NULL_VALUE;
	return l.u.list->items[0];
}

static CqlValue
eval_last(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	l = list_arg(cx, n, 0);

	if (l.kind != CK_LIST || l.u.list->n == 0)
		return CQL_NULL_VALUE;
	return l.u.list->items[l.u.list->n - 1];
}

static CqlValue
eval_count(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	l = list_arg(cx, n, 0);
	int64		c = 0;

	if (l.kind != CK_LIST)
		return cql_int(0);
	for (int i = 0; i < l.u.list->n; i++)
		if (l.u.list->items[i].kind != CK_NULL)
			c++;
	return cql_int(c);
}

/* the non-null items as System values */
static CqlValue
non_null_items(CqlValue l)
{
	CqlValue	out = cql_list_new(l.kind == CK_LIST ? l.u.list->n : 0);

	if (l.kind != CK_LIST)
		return out;
	for (int i = 0; i < l.u.list->n; i++)
	{
		CqlValue	v = elm_system_value(l.u.list->items[i]);

		if (v.kind != CK_NULL)
			cql_list_append(&out, v);
	}
	return out;
}

static CqlValue
eval_sum(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	l = non_null_items(list_arg(cx, n, 0));
	CqlValue	acc;

	if (l.u.list->n == 0)
		return CQL_NULL_VALUE;
	acc = l.u.list->items[0];
	for (int i = 1; i < l.u.list->n; i++)
	{
		CqlValue	v = l.u.list->items[i];

		if (acc.kind == CK_INT && v.kind == CK_INT)
			acc = cql_int(acc.u.i + v.u.i);
		else if ((acc.kind == CK_INT || acc.kind == CK_DEC) && (v.kind == CK_INT || v.kind == CK_DEC))
			acc = cql_dec((acc.kind == CK_INT ? acc.u.i : acc.u.d) + (v.kind == CK_INT ? v.u.i : v.u.d));
		else if (acc.kind == CK_QTY && v.kind == CK_QTY)
		{
			CqlQuantity out;

			if (!cql_qty_add(acc.u.q, v.u.q, &out))
				return CQL_NULL_VALUE;
			acc = cql_quantity(out.value, out.unit);
		}
		else
			elm_error_at(n, "Sum over %s", cql_kind_name(v));
	}
	return acc;
}

static CqlValue
extreme(EvalCtx *cx, const ElmNode *n, int want)
{
	CqlValue	l = non_null_items(list_arg(cx, n, 0));
	CqlValue	best;

	if (l.u.list->n == 0)
		return CQL_NULL_VALUE;
	best = l.u.list->items[0];
	for (int i = 1; i < l.u.list->n; i++)
	{
		int			c;

		if (!cql_compare(l.u.list->items[i], best, CQL_PREC_ALL, &c))
			return CQL_NULL_VALUE;
		if (c == want)
			best = l.u.list->items[i];
	}
	return best;
}

static CqlValue
eval_max(EvalCtx *cx, const ElmNode *n)
{
	return extreme(cx, n, 1);
}

static CqlValue
eval_min(EvalCtx *cx, const ElmNode *n)
{
	return extreme(cx, n, -1);
}

static CqlValue
eval_avg(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	l = non_null_items(list_arg(cx, n, 0));
	double		s = 0;

	if (l.u.list->n == 0)
		return CQL_NULL_VALUE;
	for (int i = 0; i < l.u.list->n; i++)
	{
		CqlValue	v = l.u.list->items[i];

		if (v.kind != CK_INT && v.kind != CK_DEC)
			elm_error_at(n, "Avg over %s", cql_kind_name(v));
		s += v.kind == CK_INT ? v.u.i : v.u.d;
	}
	return cql_dec(s / l.u.list->n);
}

static int
value_cmp(const void *a, const void *b)
{
	return cql_sort_compare(*(const CqlValue *) a, *(const CqlValue *) b);
}

static CqlValue
eval_median(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	l = non_null_items(list_arg(cx, n, 0));
	int			k = l.u.list->n;
	CqlValue	a,
				b;

	if (k == 0)
		return CQL_NULL_VALUE;
	qsort(l.u.list->items, k, sizeof(CqlValue), value_cmp);
	if (k % 2 == 1)
		return l.u.list->items[k / 2];
	a = l.u.list->items[k / 2 - 1];
	b = l.u.list->items[k / 2];
	return cql_dec(((a.kind == CK_INT ? a.u.i : a.u.d) + (b.kind == CK_INT ? b.u.i : b.u.d)) / 2.0);
}

static CqlValue
eval_all_true(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	l = non_null_items(list_arg(cx, n, 0));

	for (int i = 0; i < l.u.list->n; i++)
		if (l.u.list->items[i].kind == CK_BOOL && !l.u.list->items[i].u.b)
			return cql_bool(false);
	return cql_bool(true);
}

static CqlValue
eval_any_true(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	l = non_null_items(list_arg(cx, n, 0));

	for (int i = 0; i < l.u.list->n; i++)
		if (l.u.list->items[i].kind == CK_BOOL && l.u.list->items[i].u.b)
			return cql_bool(true);
	return cql_bool(false);
}

static CqlValue
eval_distinct(EvalCtx *cx, const ElmNode *n)
{
	return elm_list_distinct(list_arg(cx, n, 0));
}

static CqlValue
eval_flatten(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	l = list_arg(cx, n, 0);
	CqlValue	out;

	if (l.kind != CK_LIST)
		return l;
	out = cql_list_new(l.u.list->n);
	for (int i = 0; i < l.u.list->n; i++)
	{
		CqlValue	v = l.u.list->items[i];

		if (v.kind == CK_LIST)
			for (int k = 0; k < v.u.list->n; k++)
				cql_list_append(&out, v.u.list->items[k]);
		else
			cql_list_append(&out, v);
	}
	return out;
}

static CqlValue
eval_to_list(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = arg(cx, n, 0);
	CqlValue	out = cql_list_new(1);

	if (v.kind != CK_NULL)
		cql_list_append(&out, v);
	return out;
}

static CqlValue
eval_index_of(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	l = list_arg(cx, n, 0);
	CqlValue	x = arg(cx, n, 1);

	if (l.kind != CK_LIST || x.kind == CK_NULL)
		return CQL_NULL_VALUE;
	for (int i = 0; i < l.u.list->n; i++)
		if (cql_equal(l.u.list->items[i], x) == CQL_TRUE)
			return cql_int(i);
	return cql_int(-1);
}

static CqlValue
eval_indexer(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	l = elm_system_value(arg(cx, n, 0));
	CqlValue	i = elm_system_value(arg(cx, n, 1));

	if (i.kind != CK_INT)
		return CQL_NULL_VALUE;
	if (l.kind == CK_LIST)
		return (i.u.i >= 0 && i.u.i < l.u.list->n) ? l.u.list->items[i.u.i] : CQL_NULL_VALUE;
	if (l.kind == CK_STR)
		return (i.u.i >= 0 && i.u.i < (int64) strlen(l.u.s)) ? cql_str(pnstrdup(l.u.s + i.u.i, 1)) : CQL_NULL_VALUE;
	return CQL_NULL_VALUE;
}

static CqlValue
eval_sort(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	l = list_arg(cx, n, 0);
	CqlValue	out;

	if (l.kind != CK_LIST)
		return l;
	out = cql_list_new(l.u.list->n);
	for (int i = 0; i < l.u.list->n; i++)
		cql_list_append(&out, l.u.list->items[i]);
	qsort(out.u.list->items, out.u.list->n, sizeof(CqlValue), value_cmp);
	if (n->flag)
		for (int i = 0, j = out.u.list->n - 1; i < j; i++, j--)
		{
			CqlValue	t = out.u.list->items[i];

			out.u.list->items[i] = out.u.list->items[j];
			out.u.list->items[j] = t;
		}
	return out;
}

static bool
list_has(CqlValue l, CqlValue x)
{
	for (int i = 0; i < l.u.list->n; i++)
	{
		CqlValue	y = l.u.list->items[i];

		if (x.kind == CK_NULL && y.kind == CK_NULL)
			return true;
		if (cql_equal(x, y) == CQL_TRUE)
			return true;
	}
	return false;
}

/* Union of n operands (the translator nests binary unions) */
static CqlValue
eval_union(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a,
				b;
	CqlValue	out;

	/* value-set retrieves of one type, in one pass (fhir_data.c) */
	if (n->ref != NULL && fhir_retrieves_union(cx, (const FusedRetrieves *) n->ref, &out))
		return out;
	a = arg(cx, n, 0);
	b = arg(cx, n, 1);

	if (a.kind == CK_INTERVAL || b.kind == CK_INTERVAL)
	{
		if (a.kind != CK_INTERVAL || b.kind != CK_INTERVAL)
			return CQL_NULL_VALUE;
		return elm_interval_union(a.u.iv, b.u.iv);
	}
	/* for lists, null is the empty list */
	out = cql_list_new(cql_list_len(a) + cql_list_len(b));
	for (int i = 0; i < cql_list_len(a); i++)
		cql_list_append(&out, a.u.list->items[i]);
	for (int i = 0; i < cql_list_len(b); i++)
		cql_list_append(&out, b.u.list->items[i]);
	return elm_list_distinct(out);
}

static CqlValue
eval_intersect(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = arg(cx, n, 0);
	CqlValue	out;

	if (a.kind == CK_NULL)
		return CQL_NULL_VALUE;
	if (a.kind == CK_INTERVAL)
	{
		CqlValue	b = arg(cx, n, 1);

		if (b.kind != CK_INTERVAL)
			return CQL_NULL_VALUE;
		return elm_interval_intersect(a.u.iv, b.u.iv);
	}
	out = a;
	for (int k = 1; k < n->nargs; k++)
	{
		CqlValue	b = arg(cx, n, k);
		CqlValue	next;

		if (b.kind != CK_LIST)
			return CQL_NULL_VALUE;
		next = cql_list_new(out.u.list->n);
		for (int i = 0; i < out.u.list->n; i++)
			if (list_has(b, out.u.list->items[i]))
				cql_list_append(&next, out.u.list->items[i]);
		out = next;
	}
	return elm_list_distinct(out);
}

static CqlValue
eval_except(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = arg(cx, n, 0),
				b = arg(cx, n, 1);
	CqlValue	out;

	if (a.kind == CK_NULL)
		return CQL_NULL_VALUE;
	if (a.kind == CK_INTERVAL)
	{
		if (b.kind != CK_INTERVAL)
			return CQL_NULL_VALUE;
		return elm_interval_except(a.u.iv, b.u.iv);
	}
	out = cql_list_new(a.u.list->n);
	for (int i = 0; i < a.u.list->n; i++)
		if (b.kind != CK_LIST || !list_has(b, a.u.list->items[i]))
			cql_list_append(&out, a.u.list->items[i]);
	return elm_list_distinct(out);
}

const ElmOpInfo elm_list_ops[] = {
	{"AllTrue", eval_all_true},
	{"AnyTrue", eval_any_true},
	{"Avg", eval_avg},
	{"Count", eval_count},
	{"Distinct", eval_distinct},
	{"Except", eval_except},
	{"Exists", eval_exists},
	{"First", eval_first},
	{"Flatten", eval_flatten},
	{"IndexOf", eval_index_of},
	{"Indexer", eval_indexer},
	{"Intersect", eval_intersect},
	{"Last", eval_last},
	{"Max", eval_max},
	{"Median", eval_median},
	{"Min", eval_min},
	{"SingletonFrom", eval_singleton_from},
	{"Sort", eval_sort},
	{"Sum", eval_sum},
	{"ToList", eval_to_list},
	{"Union", eval_union},
	{NULL, NULL}
};
