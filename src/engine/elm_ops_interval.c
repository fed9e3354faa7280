/*
 * elm_ops_interval.c
 *		Interval operators: boundaries, membership, the Allen relations
 *		(overlaps, during, includes, starts, ends, meets, before, after),
 *		set operations on intervals, collapse and expand.
 *
 * Every relation is computed on closed boundaries: an open boundary becomes
 * its successor/predecessor at the value's precision; a null closed boundary
 * is unbounded (the type's minimum or maximum); a null open boundary is
 * unknown.  Comparisons at a precision coarser than the values' may be
 * uncertain, and then the relation is null, as the CQL specification says.
 */
#include "postgres.h"

#include "engine/elm.h"
#include "engine/elm_ops.h"

typedef enum PtKind
{
	PT_VALUE,
	PT_NEG_INF,
	PT_POS_INF,
	PT_UNKNOWN
} PtKind;

/*
 * bias: an open boundary of a Decimal or Quantity interval lies just above
 * (low, +1) or just below (high, -1) its value: 8-decimal successors would
 * be lost in the tolerance Quantity comparison allows.
 */
typedef struct Pt
{
	PtKind		k;
	CqlValue	v;
	int			bias;
} Pt;

static bool
continuous(CqlValue v)
{
	return v.kind == CK_DEC || v.kind == CK_QTY;
}

static Pt
pt_value(CqlValue v)
{
	Pt			p = {PT_VALUE, v, 0};

	if (v.kind == CK_NULL)
		p.k = PT_UNKNOWN;
	return p;
}

static Pt
iv_low(const CqlInterval *iv)
{
	Pt			p = {PT_VALUE, iv->low, 0};

	if (iv->low.kind == CK_NULL)
		p.k = iv->low_closed ? PT_NEG_INF : PT_UNKNOWN;
	else if (!iv->low_closed && continuous(iv->low))
		p.bias = 1;
	else if (!iv->low_closed)
		p = pt_value(elm_successor(iv->low));
	return p;
}

static Pt
iv_high(const CqlInterval *iv)
{
	Pt			p = {PT_VALUE, iv->high, 0};

	if (iv->high.kind == CK_NULL)
		p.k = iv->high_closed ? PT_POS_INF : PT_UNKNOWN;
	else if (!iv->high_closed && continuous(iv->high))
		p.bias = -1;
	else if (!iv->high_closed)
		p = pt_value(elm_predecessor(iv->high));
	return p;
}

/* false when uncertain */
static bool
pt_cmp(Pt a, Pt b, int prec, int *c)
{
	if (a.k == PT_UNKNOWN || b.k == PT_UNKNOWN)
		return false;
	if (a.k != PT_VALUE || b.k != PT_VALUE)
	{
		int			ra = a.k == PT_NEG_INF ? -1 : (a.k == PT_POS_INF ? 1 : 0);
		int			rb = b.k == PT_NEG_INF ? -1 : (b.k == PT_POS_INF ? 1 : 0);

		*c = ra < rb ? -1 : (ra > rb ? 1 : 0);
		return true;
	}
	if (!cql_compare(a.v, b.v, prec, c))
		return false;
	if (*c == 0 && a.bias != b.bias)
		*c = a.bias < b.bias ? -1 : 1;
	return true;
}

static CqlTri
pt_le(Pt a, Pt b, int prec)
{
	int			c;

	if (a.k == PT_VALUE && b.k == PT_VALUE && a.bias == 0 && b.bias == 0)
		return cql_relation(a.v, b.v, prec, true, true, false);
	if (!pt_cmp(a, b, prec, &c))
		return CQL_UNKNOWN;
	return c <= 0 ? CQL_TRUE : CQL_FALSE;
}

static CqlTri
pt_lt(Pt a, Pt b, int prec)
{
	int			c;

	if (a.k == PT_VALUE && b.k == PT_VALUE && a.bias == 0 && b.bias == 0)
		return cql_relation(a.v, b.v, prec, true, false, false);
	if (!pt_cmp(a, b, prec, &c))
		return CQL_UNKNOWN;
	return c < 0 ? CQL_TRUE : CQL_FALSE;
}

static CqlTri
pt_eq(Pt a, Pt b, int prec)
{
	int			c;

	if (!pt_cmp(a, b, prec, &c))
		return CQL_UNKNOWN;
	return c == 0 ? CQL_TRUE : CQL_FALSE;
}

static CqlTri
tri_or(CqlTri a, CqlTri b)
{
	if (a == CQL_TRUE || b == CQL_TRUE)
		return CQL_TRUE;
	if (a == CQL_UNKNOWN || b == CQL_UNKNOWN)
		return CQL_UNKNOWN;
	return CQL_FALSE;
}

static inline CqlValue
arg(EvalCtx *cx, const ElmNode *n, int i)
{
	return elm_system_value(elm_eval(cx, n->args[i]));
}

/* ---- boundaries ------------------------------------------------------- */

CqlValue
elm_interval_start(const CqlInterval *iv)
{
	if (iv->low.kind == CK_NULL)
		return iv->low_closed ? elm_min_value_of(iv->high) : CQL_NULL_VALUE;
	return iv->low_closed ? iv->low : elm_successor(iv->low);
}

CqlValue
elm_interval_end(const CqlInterval *iv)
{
	if (iv->high.kind == CK_NULL)
		return iv->high_closed ? elm_max_value_of(iv->low) : CQL_NULL_VALUE;
	return iv->high_closed ? iv->high : elm_predecessor(iv->high);
}

static CqlValue
eval_start(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = arg(cx, n, 0);

	return v.kind == CK_INTERVAL ? elm_interval_start(v.u.iv) : CQL_NULL_VALUE;
}

static CqlValue
eval_end(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = arg(cx, n, 0);

	return v.kind == CK_INTERVAL ? elm_interval_end(v.u.iv) : CQL_NULL_VALUE;
}

static CqlValue
eval_point_from(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = arg(cx, n, 0);

	if (v.kind != CK_INTERVAL)
		return CQL_NULL_VALUE;
	if (cql_equal(elm_interval_start(v.u.iv), elm_interval_end(v.u.iv)) != CQL_TRUE)
		elm_error_at(n, "point from an interval that is not a single point");
	return elm_interval_start(v.u.iv);
}

static CqlValue
eval_width(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = arg(cx, n, 0);
	CqlValue	s,
				e;

	if (v.kind != CK_INTERVAL)
		return CQL_NULL_VALUE;
	s = elm_interval_start(v.u.iv);
	e = elm_interval_end(v.u.iv);
	if (s.kind == CK_INT && e.kind == CK_INT)
		return cql_int(e.u.i - s.u.i);
	if ((s.kind == CK_DEC || s.kind == CK_INT) && (e.kind == CK_DEC || e.kind == CK_INT))
		return cql_dec((e.kind == CK_INT ? e.u.i : e.u.d) - (s.kind == CK_INT ? s.u.i : s.u.d));
	if (s.kind == CK_QTY && e.kind == CK_QTY)
	{
		CqlQuantity out;

		if (cql_qty_subtract(e.u.q, s.u.q, &out))
			return cql_quantity(out.value, out.unit);
	}
	return CQL_NULL_VALUE;
}

static CqlValue
eval_size(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = arg(cx, n, 0);
	CqlValue	s,
				e;

	if (v.kind != CK_INTERVAL)
		return CQL_NULL_VALUE;
	s = elm_interval_start(v.u.iv);
	e = elm_interval_end(v.u.iv);
	if (s.kind == CK_INT && e.kind == CK_INT)
		return cql_int(e.u.i - s.u.i + 1);
	return CQL_NULL_VALUE;
}

/* ---- relations -------------------------------------------------------- */

static CqlTri
point_in(CqlValue x, const CqlInterval *iv, int prec)
{
	Pt			p = pt_value(x);

	if (x.kind == CK_NULL)
		return CQL_UNKNOWN;
	/* both ends given and closed (an age band): no boundary arithmetic, two comparisons */
	if (iv->low_closed && iv->high_closed && iv->low.kind != CK_NULL && iv->high.kind != CK_NULL)
		return cql_tri_and(cql_relation(iv->low, x, prec, true, true, false),
						   cql_relation(x, iv->high, prec, true, true, false));
	return cql_tri_and(pt_le(iv_low(iv), p, prec), pt_le(p, iv_high(iv), prec));
}

static CqlTri
included_in(const CqlInterval *a, const CqlInterval *b, int prec)
{
	return cql_tri_and(pt_le(iv_low(b), iv_low(a), prec), pt_le(iv_high(a), iv_high(b), prec));
}

static CqlTri
overlaps(const CqlInterval *a, const CqlInterval *b, int prec)
{
	return cql_tri_and(pt_le(iv_low(a), iv_high(b), prec), pt_le(iv_low(b), iv_high(a), prec));
}

static CqlTri
list_contains(CqlValue list, CqlValue x)
{
	bool		unknown = false;

	if (list.kind != CK_LIST)
		return CQL_FALSE;
	for (int i = 0; i < list.u.list->n; i++)
	{
		CqlValue	item = list.u.list->items[i];
		CqlTri		t;

		if (x.kind == CK_NULL)
		{
			if (item.kind == CK_NULL)
				return CQL_TRUE;
			continue;
		}
		t = cql_equal(item, x);
		if (t == CQL_TRUE)
			return CQL_TRUE;
		if (t == CQL_UNKNOWN)
			unknown = true;
	}
	return unknown ? CQL_UNKNOWN : CQL_FALSE;
}

/* In(x, interval-or-list) */
static CqlValue
eval_in(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	x = elm_eval(cx, n->args[0]);
	CqlValue	c = arg(cx, n, 1);

	/*
	 * A null list holds nothing (false); in a null interval a value is not
	 * (false) and null is unknown (null).  n->flag: the list overload.
	 */
	if (c.kind == CK_NULL)
		return x.kind != CK_NULL || n->flag ? cql_bool(false) : CQL_NULL_VALUE;
	if (c.kind == CK_LIST)
		return cql_tri(list_contains(c, x));
	if (c.kind == CK_INTERVAL)
		return cql_tri(point_in(elm_system_value(x), c.u.iv, n->prec));
	elm_error_at(n, "In over a %s", cql_kind_name(c));
}

/* Contains(interval-or-list, x) */
static CqlValue
eval_contains(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	c = arg(cx, n, 0);
	CqlValue	x = elm_eval(cx, n->args[1]);

	if (c.kind == CK_NULL)
		return cql_bool(false);
	if (c.kind == CK_LIST)
		return cql_tri(list_contains(c, x));
	if (c.kind == CK_INTERVAL)
		return cql_tri(point_in(elm_system_value(x), c.u.iv, n->prec));
	elm_error_at(n, "Contains over a %s", cql_kind_name(c));
}

static CqlTri
list_includes(CqlValue a, CqlValue b)
{
	CqlTri		r = CQL_TRUE;

	for (int i = 0; i < b.u.list->n; i++)
		r = cql_tri_and(r, list_contains(a, b.u.list->items[i]));
	return r;
}

/* includes(a, b): b during a; a point b means contains */
static CqlValue
includes_values(const ElmNode *n, CqlValue a, CqlValue b, bool proper)
{
	CqlTri		r;

	if (a.kind == CK_NULL || b.kind == CK_NULL)
		return CQL_NULL_VALUE;
	if (a.kind == CK_LIST && b.kind == CK_LIST)
	{
		r = list_includes(a, b);
		if (proper && r == CQL_TRUE)
			r = (a.u.list->n > b.u.list->n) ? CQL_TRUE : CQL_FALSE;
		return cql_tri(r);
	}
	if (a.kind == CK_LIST)
		return cql_tri(list_contains(a, b));
	if (a.kind != CK_INTERVAL)
		elm_error_at(n, "%s over a %s", n->type, cql_kind_name(a));
	if (b.kind != CK_INTERVAL)
		return cql_tri(point_in(b, a.u.iv, n->prec));
	r = included_in(b.u.iv, a.u.iv, n->prec);
	if (proper && r == CQL_TRUE)
		r = tri_or(pt_lt(iv_low(a.u.iv), iv_low(b.u.iv), n->prec),
				   pt_lt(iv_high(b.u.iv), iv_high(a.u.iv), n->prec));
	return cql_tri(r);
}

static CqlValue
eval_includes(EvalCtx *cx, const ElmNode *n)
{
	return includes_values(n, arg(cx, n, 0), arg(cx, n, 1), false);
}

static CqlValue
eval_included_in(EvalCtx *cx, const ElmNode *n)
{
	return includes_values(n, arg(cx, n, 1), arg(cx, n, 0), false);
}

static CqlValue
eval_proper_includes(EvalCtx *cx, const ElmNode *n)
{
	return includes_values(n, arg(cx, n, 0), arg(cx, n, 1), true);
}

static CqlValue
eval_proper_included_in(EvalCtx *cx, const ElmNode *n)
{
	return includes_values(n, arg(cx, n, 1), arg(cx, n, 0), true);
}

static bool
two_intervals(EvalCtx *cx, const ElmNode *n, CqlValue *a, CqlValue *b)
{
	*a = arg(cx, n, 0);
	*b = arg(cx, n, 1);
	if (a->kind == CK_NULL || b->kind == CK_NULL)
		return false;
	if (a->kind != CK_INTERVAL || b->kind != CK_INTERVAL)
		elm_error_at(n, "%s needs two intervals, got %s and %s", n->type,
					 cql_kind_name(*a), cql_kind_name(*b));
	return true;
}

static CqlValue
eval_overlaps(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a,
				b;

	if (!two_intervals(cx, n, &a, &b))
		return CQL_NULL_VALUE;
	return cql_tri(overlaps(a.u.iv, b.u.iv, n->prec));
}

static CqlValue
eval_overlaps_before(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a,
				b;

	if (!two_intervals(cx, n, &a, &b))
		return CQL_NULL_VALUE;
	return cql_tri(cql_tri_and(pt_lt(iv_low(a.u.iv), iv_low(b.u.iv), n->prec),
						   pt_le(iv_low(b.u.iv), iv_high(a.u.iv), n->prec)));
}

static CqlValue
eval_overlaps_after(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a,
				b;

	if (!two_intervals(cx, n, &a, &b))
		return CQL_NULL_VALUE;
	return cql_tri(cql_tri_and(pt_lt(iv_high(b.u.iv), iv_high(a.u.iv), n->prec),
						   pt_le(iv_low(a.u.iv), iv_high(b.u.iv), n->prec)));
}

static CqlValue
eval_starts(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a,
				b;

	if (!two_intervals(cx, n, &a, &b))
		return CQL_NULL_VALUE;
	return cql_tri(cql_tri_and(pt_eq(iv_low(a.u.iv), iv_low(b.u.iv), n->prec),
						   pt_le(iv_high(a.u.iv), iv_high(b.u.iv), n->prec)));
}

static CqlValue
eval_ends(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a,
				b;

	if (!two_intervals(cx, n, &a, &b))
		return CQL_NULL_VALUE;
	return cql_tri(cql_tri_and(pt_eq(iv_high(a.u.iv), iv_high(b.u.iv), n->prec),
						   pt_le(iv_low(b.u.iv), iv_low(a.u.iv), n->prec)));
}

static CqlTri
meets_before(const CqlInterval *a, const CqlInterval *b, int prec)
{
	Pt			h = iv_high(a);

	if (h.k != PT_VALUE)
		return h.k == PT_UNKNOWN ? CQL_UNKNOWN : CQL_FALSE;
	return pt_eq(pt_value(elm_successor(h.v)), iv_low(b), prec);
}

static CqlValue
eval_meets(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a,
				b;

	if (!two_intervals(cx, n, &a, &b))
		return CQL_NULL_VALUE;
	return cql_tri(tri_or(meets_before(a.u.iv, b.u.iv, n->prec),
						  meets_before(b.u.iv, a.u.iv, n->prec)));
}

static CqlValue
eval_meets_before(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a,
				b;

	if (!two_intervals(cx, n, &a, &b))
		return CQL_NULL_VALUE;
	return cql_tri(meets_before(a.u.iv, b.u.iv, n->prec));
}

static CqlValue
eval_meets_after(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a,
				b;

	if (!two_intervals(cx, n, &a, &b))
		return CQL_NULL_VALUE;
	return cql_tri(meets_before(b.u.iv, a.u.iv, n->prec));
}

/*
 * Before/After/SameOrBefore/SameOrAfter/SameAs with an interval on either
 * side: compare the boundaries that face each other.
 */
CqlValue
elm_interval_before_after(CqlValue a, CqlValue b, int prec, char op)
{
	CqlValue	x,
				y;

	if (a.kind == CK_NULL || b.kind == CK_NULL)
		return CQL_NULL_VALUE;
	switch (op)
	{
		case '<':
		case '[':
			/* a ends before b starts */
			x = a.kind == CK_INTERVAL ? elm_interval_end(a.u.iv) : a;
			y = b.kind == CK_INTERVAL ? elm_interval_start(b.u.iv) : b;
			return elm_point_compare(x, y, prec, op);
		case '>':
		case ']':
			x = a.kind == CK_INTERVAL ? elm_interval_start(a.u.iv) : a;
			y = b.kind == CK_INTERVAL ? elm_interval_end(b.u.iv) : b;
			return elm_point_compare(x, y, prec, op);
		default:
			if (a.kind == CK_INTERVAL && b.kind == CK_INTERVAL)
			{
				CqlValue	s = elm_point_compare(elm_interval_start(a.u.iv), elm_interval_start(b.u.iv), prec, '=');
				CqlValue	e = elm_point_compare(elm_interval_end(a.u.iv), elm_interval_end(b.u.iv), prec, '=');

				if (s.kind == CK_BOOL && !s.u.b)
					return s;
				if (e.kind == CK_BOOL && !e.u.b)
					return e;
				if (s.kind == CK_NULL || e.kind == CK_NULL)
					return CQL_NULL_VALUE;
				return cql_bool(true);
			}
			return CQL_NULL_VALUE;
	}
}

/* ---- set operations on intervals ------------------------------------ */

static CqlValue
pt_to_value(Pt p, CqlValue like, bool low)
{
	if (p.k == PT_VALUE)
		return p.v;
	if (p.k == PT_NEG_INF)
		return CQL_NULL_VALUE;	/* a closed null low is unbounded again */
	if (p.k == PT_POS_INF)
		return CQL_NULL_VALUE;
	return CQL_NULL_VALUE;
}

CqlValue
elm_interval_union(const CqlInterval *a, const CqlInterval *b)
{
	int			c;
	Pt			lo,
				hi;
	Pt			ah = iv_high(a),
				bh = iv_high(b);

	if (overlaps(a, b, CQL_PREC_ALL) != CQL_TRUE &&
		meets_before(a, b, CQL_PREC_ALL) != CQL_TRUE &&
		meets_before(b, a, CQL_PREC_ALL) != CQL_TRUE)
		return CQL_NULL_VALUE;
	lo = iv_low(a);
	if (pt_cmp(iv_low(b), lo, CQL_PREC_ALL, &c) && c < 0)
		lo = iv_low(b);
	hi = ah;
	if (pt_cmp(bh, hi, CQL_PREC_ALL, &c) && c > 0)
		hi = bh;
	return cql_interval(pt_to_value(lo, a->low, true), pt_to_value(hi, a->high, false), true, true);
}

CqlValue
elm_interval_intersect(const CqlInterval *a, const CqlInterval *b)
{
	int			c;
	Pt			lo,
				hi;

	if (overlaps(a, b, CQL_PREC_ALL) != CQL_TRUE)
		return CQL_NULL_VALUE;
	lo = iv_low(a);
	if (pt_cmp(iv_low(b), lo, CQL_PREC_ALL, &c) && c > 0)
		lo = iv_low(b);
	hi = iv_high(a);
	if (pt_cmp(iv_high(b), hi, CQL_PREC_ALL, &c) && c < 0)
		hi = iv_high(b);
	return cql_interval(pt_to_value(lo, a->low, true), pt_to_value(hi, a->high, false), true, true);
}

CqlValue
elm_interval_except(const CqlInterval *a, const CqlInterval *b)
{
	int			c;

	if (overlaps(a, b, CQL_PREC_ALL) != CQL_TRUE)
		return cql_interval(a->low, a->high, a->low_closed, a->high_closed);
	if (included_in(a, b, CQL_PREC_ALL) == CQL_TRUE)
		return CQL_NULL_VALUE;
	/* b cuts the top of a */
	if (pt_cmp(iv_low(a), iv_low(b), CQL_PREC_ALL, &c) && c < 0 &&
		pt_cmp(iv_high(b), iv_high(a), CQL_PREC_ALL, &c) && c >= 0)
		return cql_interval(elm_interval_start(a), elm_predecessor(elm_interval_start(b)), true, true);
	/* b cuts the bottom of a */
	if (pt_cmp(iv_low(b), iv_low(a), CQL_PREC_ALL, &c) && c <= 0 &&
		pt_cmp(iv_high(b), iv_high(a), CQL_PREC_ALL, &c) && c < 0)
		return cql_interval(elm_successor(elm_interval_end(b)), elm_interval_end(a), true, true);
	return CQL_NULL_VALUE;		/* b inside a: the result is not one interval */
}

/* ---- collapse / expand ----------------------------------------------- */

static int
iv_low_cmp(const void *x, const void *y)
{
	const CqlValue *a = x,
			   *b = y;
	int			c;

	if (pt_cmp(iv_low(a->u.iv), iv_low(b->u.iv), CQL_PREC_ALL, &c))
		return c;
	return 0;
}

static CqlValue
eval_collapse(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	l = arg(cx, n, 0);
	CqlValue	items,
				out;

	if (l.kind != CK_LIST)
		return CQL_NULL_VALUE;
	items = cql_list_new(l.u.list->n);
	for (int i = 0; i < l.u.list->n; i++)
		if (l.u.list->items[i].kind == CK_INTERVAL)
			cql_list_append(&items, l.u.list->items[i]);
	out = cql_list_new(items.u.list->n);
	if (items.u.list->n == 0)
		return out;
	qsort(items.u.list->items, items.u.list->n, sizeof(CqlValue), iv_low_cmp);
	{
		CqlValue	cur = items.u.list->items[0];

		for (int i = 1; i < items.u.list->n; i++)
		{
			CqlValue	next = items.u.list->items[i];
			CqlValue	u = elm_interval_union(cur.u.iv, next.u.iv);

			if (u.kind == CK_INTERVAL)
				cur = u;
			else
			{
				cql_list_append(&out, cur);
				cur = next;
			}
		}
		cql_list_append(&out, cur);
	}
	return out;
}

static CqlValue
expand_one(const ElmNode *n, CqlValue iv, CqlValue per, CqlValue *out)
{
	CqlValue	s = elm_interval_start(iv.u.iv),
				e = elm_interval_end(iv.u.iv);
	int			guard = 0;

	if (s.kind == CK_NULL || e.kind == CK_NULL)
		return CQL_NULL_VALUE;
	while (guard++ < 100000)
	{
		CqlValue	next;
		int			c;

		if (per.kind == CK_QTY)
			next = elm_add_quantity(s, per.u.q, 1);
		else if (s.kind == CK_INT)
			next = cql_int(s.u.i + (per.kind == CK_INT ? per.u.i : 1));
		else
			next = elm_successor(s);
		if (next.kind == CK_NULL)
			break;
		if (!cql_compare(s, e, CQL_PREC_ALL, &c) || c > 0)
			break;
		cql_list_append(out, cql_interval(s, elm_predecessor(next), true, true));
		s = next;
	}
	return *out;
}

static CqlValue
eval_expand(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	src = arg(cx, n, 0);
	CqlValue	per = n->nargs > 1 ? arg(cx, n, 1) : CQL_NULL_VALUE;
	CqlValue	out = cql_list_new(8);

	if (src.kind == CK_INTERVAL)
		return expand_one(n, src, per, &out);
	if (src.kind != CK_LIST)
		return CQL_NULL_VALUE;
	for (int i = 0; i < src.u.list->n; i++)
		if (src.u.list->items[i].kind == CK_INTERVAL)
			expand_one(n, src.u.list->items[i], per, &out);
	return out;
}

/* strictly inside: In without the boundaries */
static CqlTri
point_properly_in(CqlValue x, const CqlInterval *iv, int prec)
{
	Pt			p = pt_value(x);

	if (x.kind == CK_NULL)
		return CQL_UNKNOWN;
	return cql_tri_and(pt_lt(iv_low(iv), p, prec), pt_lt(p, iv_high(iv), prec));
}

static CqlValue
proper_membership(const ElmNode *n, CqlValue c, CqlValue x)
{
	if (c.kind == CK_NULL)
		return CQL_NULL_VALUE;
	if (c.kind == CK_INTERVAL)
		return cql_tri(point_properly_in(elm_system_value(x), c.u.iv, n->prec));
	if (c.kind == CK_LIST)
	{
		/* in the list, and the list holds something else too */
		CqlTri		in = list_contains(c, x);

		if (in != CQL_TRUE)
			return cql_tri(in);
		for (int i = 0; i < c.u.list->n; i++)
			if (cql_equal(c.u.list->items[i], x) == CQL_FALSE)
				return cql_bool(true);
		return cql_bool(false);
	}
	elm_error_at(n, "%s over a %s", n->type, cql_kind_name(c));
}

static CqlValue
eval_proper_in(EvalCtx *cx, const ElmNode *n)
{
	return proper_membership(n, arg(cx, n, 1), elm_eval(cx, n->args[0]));
}

static CqlValue
eval_proper_contains(EvalCtx *cx, const ElmNode *n)
{
	return proper_membership(n, arg(cx, n, 0), elm_eval(cx, n->args[1]));
}

const ElmOpInfo elm_interval_ops[] = {
	{"Collapse", eval_collapse},
	{"Contains", eval_contains},
	{"End", eval_end},
	{"Ends", eval_ends},
	{"Expand", eval_expand},
	{"In", eval_in},
	{"IncludedIn", eval_included_in},
	{"Includes", eval_includes},
	{"Meets", eval_meets},
	{"MeetsAfter", eval_meets_after},
	{"MeetsBefore", eval_meets_before},
	{"Overlaps", eval_overlaps},
	{"OverlapsAfter", eval_overlaps_after},
	{"OverlapsBefore", eval_overlaps_before},
	{"PointFrom", eval_point_from},
	{"ProperContains", eval_proper_contains},
	{"ProperIn", eval_proper_in},
	{"ProperIncludedIn", eval_proper_included_in},
	{"ProperIncludes", eval_proper_includes},
	{"Size", eval_size},
	{"Start", eval_start},
	{"Starts", eval_starts},
	{"Width", eval_width},
	{NULL, NULL}
};
