/*
 * elm_ops.c
 *		Scalar operators: arithmetic, comparison, date/time, strings, type
 *		conversions, terminology; and the registry of every node type.
 *
 * Null in, null out, unless the CQL specification says otherwise for the
 * operator.  FHIR primitives reaching an operator are first turned into
 * their System values (elm_system_value), which is what the FHIRHelpers
 * implicit conversions would have produced.
 */
#include "postgres.h"

#include <math.h>

#include "common/int.h"
#include "mb/pg_wchar.h"

#include "engine/elm.h"
#include "engine/elm_ops.h"
#include "engine/fhir_data.h"

CqlValue
elm_system_value(CqlValue v)
{
	if (v.kind == CK_FHIR)
		return fhir_to_system(v);
	return v;
}

static inline CqlValue
arg(EvalCtx *cx, const ElmNode *n, int i)
{
	return elm_system_value(elm_eval(cx, n->args[i]));
}

static CqlValue
int32_or_null(int64 r)
{
	return (r < PG_INT32_MIN || r > PG_INT32_MAX) ? CQL_NULL_VALUE : cql_int(r);
}

/* CQL decimals have 8 places */
static CqlValue
dec_round8(double d)
{
	return cql_dec(round(d * 1e8) / 1e8);
}

/* ---- arithmetic ------------------------------------------------------- */

CqlValue
elm_add_quantity(CqlValue a, const CqlQuantity *q, int sign)
{
	if (cql_is_temporal(a))
	{
		CqlPrecision unit;
		int64_t		amount;
		CqlDateTime out;

		if (!cql_qty_to_precision(q, &unit, &amount))
			return CQL_NULL_VALUE;
		if (!cql_dt_add(&a.u.dt, sign * amount, unit, &out))
			return CQL_NULL_VALUE;
		return cql_temporal(a.kind, &out);
	}
	if (a.kind == CK_QTY)
	{
		CqlQuantity out;
		bool		ok = sign > 0 ? cql_qty_add(a.u.q, q, &out) : cql_qty_subtract(a.u.q, q, &out);

		return ok ? cql_quantity(out.value, out.unit) : CQL_NULL_VALUE;
	}
	return CQL_NULL_VALUE;
}

static CqlValue
arith(const ElmNode *n, CqlValue a, CqlValue b, char op)
{
	if (a.kind == CK_NULL || b.kind == CK_NULL)
		return CQL_NULL_VALUE;
	if (a.kind == CK_UNCERTAIN || b.kind == CK_UNCERTAIN)
	{
		/* an uncertain Integer shifted by a certain one stays a range */
		CqlValue	u = a.kind == CK_UNCERTAIN ? a : b;
		CqlValue	x = a.kind == CK_UNCERTAIN ? b : a;

		if (x.kind != CK_INT || (op != '+' && !(op == '-' && a.kind == CK_UNCERTAIN)))
			return CQL_NULL_VALUE;
		return cql_uncertain(u.u.iv->low.u.i + (op == '+' ? x.u.i : -x.u.i),
							 u.u.iv->high.u.i + (op == '+' ? x.u.i : -x.u.i));
	}
	if (a.kind == CK_INT && b.kind == CK_INT && op != '/')
	{
		int64		r;

		/* CQL Integer is 32-bit: a result it cannot represent is null */
		switch (op)
		{
			case '+':
				if (pg_add_s64_overflow(a.u.i, b.u.i, &r))
					return CQL_NULL_VALUE;
				return int32_or_null(r);
			case '-':
				if (pg_sub_s64_overflow(a.u.i, b.u.i, &r))
					return CQL_NULL_VALUE;
				return int32_or_null(r);
			case '*':
				if (pg_mul_s64_overflow(a.u.i, b.u.i, &r))
					return CQL_NULL_VALUE;
				return int32_or_null(r);
		}
	}
	if (cql_is_number(a) && cql_is_number(b))
	{
		double		x = cql_number(a),
					y = cql_number(b);

		switch (op)
		{
			case '+':
				return dec_round8(x + y);
			case '-':
				return dec_round8(x - y);
			case '*':
				return dec_round8(x * y);
			case '/':
				return y == 0 ? CQL_NULL_VALUE : dec_round8(x / y);
		}
	}
	if (b.kind == CK_QTY && (op == '+' || op == '-') && (cql_is_temporal(a) || a.kind == CK_QTY))
		return elm_add_quantity(a, b.u.q, op == '+' ? 1 : -1);
	if (a.kind == CK_STR && b.kind == CK_STR && op == '+')
		return cql_str(psprintf("%s%s", a.u.s, b.u.s));
	if (a.kind == CK_QTY || b.kind == CK_QTY)
	{
		CqlQuantity x,
					y,
					out;

		if (a.kind == CK_QTY)
			x = *a.u.q;
		else if (cql_is_number(a))
			cql_qty_make(cql_number(a), "1", &x);
		else
			goto bad;
		if (b.kind == CK_QTY)
			y = *b.u.q;
		else if (cql_is_number(b))
			cql_qty_make(cql_number(b), "1", &y);
		else
			goto bad;
		if (op == '*' ? cql_qty_multiply(&x, &y, &out) :
			op == '/' ? (y.value != 0 && cql_qty_divide(&x, &y, &out)) :
			op == '+' ? cql_qty_add(&x, &y, &out) : cql_qty_subtract(&x, &y, &out))
			return cql_quantity(out.value, out.unit);
		return CQL_NULL_VALUE;
	}
bad:
	elm_error_at(n, "cannot apply %c to %s and %s", op, cql_kind_name(a), cql_kind_name(b));
}

static CqlValue
eval_add(EvalCtx *cx, const ElmNode *n)
{
	return arith(n, arg(cx, n, 0), arg(cx, n, 1), '+');
}

static CqlValue
eval_subtract(EvalCtx *cx, const ElmNode *n)
{
	return arith(n, arg(cx, n, 0), arg(cx, n, 1), '-');
}

static CqlValue
eval_multiply(EvalCtx *cx, const ElmNode *n)
{
	return arith(n, arg(cx, n, 0), arg(cx, n, 1), '*');
}

static CqlValue
eval_divide(EvalCtx *cx, const ElmNode *n)
{
	return arith(n, arg(cx, n, 0), arg(cx, n, 1), '/');
}

static CqlValue
eval_truncated_divide(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = arg(cx, n, 0),
				b = arg(cx, n, 1);

	if (!cql_is_number(a) || !cql_is_number(b) || cql_number(b) == 0)
		return CQL_NULL_VALUE;
	if (a.kind == CK_INT && b.kind == CK_INT)
		return cql_int(a.u.i / b.u.i);
	return cql_dec(trunc(cql_number(a) / cql_number(b)));
}

static CqlValue
eval_modulo(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = arg(cx, n, 0),
				b = arg(cx, n, 1);

	if (!cql_is_number(a) || !cql_is_number(b) || cql_number(b) == 0)
		return CQL_NULL_VALUE;
	if (a.kind == CK_INT && b.kind == CK_INT)
		return cql_int(a.u.i % b.u.i);
	return dec_round8(fmod(cql_number(a), cql_number(b)));
}

static CqlValue
eval_negate(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = arg(cx, n, 0);

	if (a.kind == CK_INT)
		return int32_or_null(-a.u.i);
	if (a.kind == CK_DEC)
		return cql_dec(-a.u.d);
	if (a.kind == CK_QTY)
		return cql_quantity(-a.u.q->value, a.u.q->unit);
	return CQL_NULL_VALUE;
}

static CqlValue
eval_abs(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = arg(cx, n, 0);

	if (a.kind == CK_INT)
		return int32_or_null(a.u.i < 0 ? -a.u.i : a.u.i);
	if (a.kind == CK_DEC)
		return cql_dec(fabs(a.u.d));
	if (a.kind == CK_QTY)
		return cql_quantity(fabs(a.u.q->value), a.u.q->unit);
	return CQL_NULL_VALUE;
}

static CqlValue
unary_math(CqlValue a, double (*fn) (double), bool to_int)
{
	double		r;

	if (!cql_is_number(a))
		return CQL_NULL_VALUE;
	r = fn(cql_number(a));
	if (isnan(r) || isinf(r))
		return CQL_NULL_VALUE;
	return to_int ? cql_int((int64) r) : dec_round8(r);
}

static CqlValue
eval_ceiling(EvalCtx *cx, const ElmNode *n)
{
	return unary_math(arg(cx, n, 0), ceil, true);
}

static CqlValue
eval_floor(EvalCtx *cx, const ElmNode *n)
{
	return unary_math(arg(cx, n, 0), floor, true);
}

static CqlValue
eval_truncate(EvalCtx *cx, const ElmNode *n)
{
	return unary_math(arg(cx, n, 0), trunc, true);
}

static CqlValue
eval_ln(EvalCtx *cx, const ElmNode *n)
{
	return unary_math(arg(cx, n, 0), log, false);
}

static CqlValue
eval_exp(EvalCtx *cx, const ElmNode *n)
{
	return unary_math(arg(cx, n, 0), exp, false);
}

static CqlValue
eval_power(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = arg(cx, n, 0),
				b = arg(cx, n, 1);
	double		r;

	if (!cql_is_number(a) || !cql_is_number(b))
		return CQL_NULL_VALUE;
	r = pow(cql_number(a), cql_number(b));
	if (isnan(r) || isinf(r))
		return CQL_NULL_VALUE;
	if (a.kind == CK_INT && b.kind == CK_INT && b.u.i >= 0)
		return cql_int((int64) r);
	return dec_round8(r);
}

static CqlValue
eval_round(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = arg(cx, n, 0);
	CqlValue	p = n->args[1] ? arg(cx, n, 1) : cql_int(0);
	double		scale;

	if (!cql_is_number(a) || p.kind != CK_INT)
		return CQL_NULL_VALUE;
	scale = pow(10, (double) p.u.i);
	/*
	 * CQL rounds half up.  Decimals are doubles here, so 1.005 * 100 is
	 * 100.4999...; snapping the scaled value to 1e-6 first restores the
	 * decimal the measure wrote (CQL decimals have 8 places at most).
	 */
	return cql_dec(floor(round(cql_number(a) * scale * 1e6) / 1e6 + 0.5) / scale);
}

static CqlValue
eval_successor(EvalCtx *cx, const ElmNode *n)
{
	return elm_successor(arg(cx, n, 0));
}

static CqlValue
eval_predecessor(EvalCtx *cx, const ElmNode *n)
{
	return elm_predecessor(arg(cx, n, 0));
}

static CqlValue
step_value(CqlValue v, int sign)
{
	switch (v.kind)
	{
		case CK_INT:
			return cql_int(v.u.i + sign);
		case CK_DEC:
			return cql_dec(v.u.d + sign * 1e-8);
		case CK_QTY:
			return cql_quantity(v.u.q->value + sign * 1e-8, v.u.q->unit);
		case CK_DATE:
		case CK_DATETIME:
		case CK_TIME:
			{
				CqlDateTime out;
				CqlPrecision p = (CqlPrecision) v.u.dt.prec;

				if (!cql_dt_add(&v.u.dt, sign, p, &out))
					return CQL_NULL_VALUE;
				return cql_temporal(v.kind, &out);
			}
		default:
			return CQL_NULL_VALUE;
	}
}

CqlValue
elm_successor(CqlValue v)
{
	return step_value(v, 1);
}

CqlValue
elm_predecessor(CqlValue v)
{
	return step_value(v, -1);
}

CqlValue
elm_min_value_of(CqlValue like)
{
	CqlDateTime dt;
	static const int lo[] = {1, 1, 1, 0, 0, 0, 0};

	switch (like.kind)
	{
		case CK_INT:
			return cql_int(PG_INT32_MIN);
		case CK_DEC:
			return cql_dec(-99999999999999999999.99999999);
		case CK_DATE:
			cql_dt_from_components('D', lo, 3, false, 0, &dt);
			return cql_temporal(CK_DATE, &dt);
		case CK_DATETIME:
			cql_dt_from_components('T', lo, 7, true, cql_default_tz_minutes, &dt);
			return cql_temporal(CK_DATETIME, &dt);
		case CK_TIME:
			cql_dt_from_components('H', lo + 3, 4, false, 0, &dt);
			return cql_temporal(CK_TIME, &dt);
		case CK_QTY:
			return cql_quantity(-99999999999999999999.99999999, like.u.q->unit);
		default:
			return CQL_NULL_VALUE;
	}
}

CqlValue
elm_max_value_of(CqlValue like)
{
	CqlDateTime dt;
	static const int hi[] = {9999, 12, 31, 23, 59, 59, 999};

	switch (like.kind)
	{
		case CK_INT:
			return cql_int(PG_INT32_MAX);
		case CK_DEC:
			return cql_dec(99999999999999999999.99999999);
		case CK_DATE:
			cql_dt_from_components('D', hi, 3, false, 0, &dt);
			return cql_temporal(CK_DATE, &dt);
		case CK_DATETIME:
			cql_dt_from_components('T', hi, 7, true, cql_default_tz_minutes, &dt);
			return cql_temporal(CK_DATETIME, &dt);
		case CK_TIME:
			cql_dt_from_components('H', hi + 3, 4, false, 0, &dt);
			return cql_temporal(CK_TIME, &dt);
		case CK_QTY:
			return cql_quantity(99999999999999999999.99999999, like.u.q->unit);
		default:
			return CQL_NULL_VALUE;
	}
}

static CqlValue
eval_min_max_value(CqlValue (*fn) (CqlValue), const ElmNode *n)
{
	const char *t = n->ts ? n->ts->name : "";
	CqlValue	like = CQL_NULL_VALUE;

	if (strcmp(t, "Integer") == 0)
		like = cql_int(0);
	else if (strcmp(t, "Decimal") == 0)
		like = cql_dec(0);
	else if (strcmp(t, "DateTime") == 0)
		like.kind = CK_DATETIME;
	else if (strcmp(t, "Date") == 0)
		like.kind = CK_DATE;
	else if (strcmp(t, "Time") == 0)
		like.kind = CK_TIME;
	else
		elm_error_at(n, "%s of type %s is not supported", n->type, t);
	return fn(like);
}

static CqlValue
eval_min_value(EvalCtx *cx, const ElmNode *n)
{
	return eval_min_max_value(elm_min_value_of, n);
}

static CqlValue
eval_max_value(EvalCtx *cx, const ElmNode *n)
{
	return eval_min_max_value(elm_max_value_of, n);
}

/* ---- comparison ------------------------------------------------------- */

static CqlValue
eval_equal(EvalCtx *cx, const ElmNode *n)
{
	return cql_tri(cql_equal(elm_eval(cx, n->args[0]), elm_eval(cx, n->args[1])));
}

static CqlValue
eval_not_equal(EvalCtx *cx, const ElmNode *n)
{
	CqlTri		t = cql_equal(elm_eval(cx, n->args[0]), elm_eval(cx, n->args[1]));

	return t == CQL_UNKNOWN ? CQL_NULL_VALUE : cql_bool(t == CQL_FALSE);
}

static CqlValue
eval_equivalent(EvalCtx *cx, const ElmNode *n)
{
	return cql_bool(cql_equivalent(elm_eval(cx, n->args[0]), elm_eval(cx, n->args[1])));
}

static CqlValue
compare_op(EvalCtx *cx, const ElmNode *n, bool lt, bool eq, bool gt)
{
	CqlValue	a = arg(cx, n, 0),
				b = arg(cx, n, 1);

	if (a.kind == CK_NULL || b.kind == CK_NULL)
		return CQL_NULL_VALUE;
	return cql_tri(cql_relation(a, b, n->prec, lt, eq, gt));
}

static CqlValue
eval_less(EvalCtx *cx, const ElmNode *n)
{
	return compare_op(cx, n, true, false, false);
}

static CqlValue
eval_less_or_equal(EvalCtx *cx, const ElmNode *n)
{
	return compare_op(cx, n, true, true, false);
}

static CqlValue
eval_greater(EvalCtx *cx, const ElmNode *n)
{
	return compare_op(cx, n, false, false, true);
}

static CqlValue
eval_greater_or_equal(EvalCtx *cx, const ElmNode *n)
{
	return compare_op(cx, n, false, true, true);
}

/* ---- date and time ---------------------------------------------------- */

static CqlValue
eval_datetime_ctor(EvalCtx *cx, const ElmNode *n)
{
	int			comps[7];
	int			ncomps = 0;
	int			ndate = n->nargs == 3 ? 3 : 7;
	bool		has_tz = true;
	int			tz = cql_default_tz_minutes;
	CqlDateTime dt;

	for (int i = 0; i < ndate; i++)
	{
		CqlValue	v;

		if (n->args[i] == NULL)
			break;
		v = arg(cx, n, i);
		if (v.kind == CK_NULL)
		{
			if (i == 0)
				return CQL_NULL_VALUE;
			break;
		}
		comps[ncomps++] = (int) (v.kind == CK_INT ? v.u.i : (int64) cql_number(v));
	}
	if (n->nargs == 3)
	{
		if (!cql_dt_from_components('D', comps, ncomps, false, 0, &dt))
			elm_error_at(n, "invalid date");
		return cql_temporal(CK_DATE, &dt);
	}
	if (n->args[7])
	{
		CqlValue	off = arg(cx, n, 7);

		if (cql_is_number(off))
			tz = (int) round(cql_number(off) * 60);
	}
	if (!cql_dt_from_components('T', comps, ncomps, has_tz, tz, &dt))
		elm_error_at(n, "invalid datetime");
	return cql_temporal(CK_DATETIME, &dt);
}

static CqlValue
eval_time_ctor(EvalCtx *cx, const ElmNode *n)
{
	int			comps[4];
	int			ncomps = 0;
	CqlDateTime dt;

	for (int i = 0; i < 4 && n->args[i]; i++)
	{
		CqlValue	v = arg(cx, n, i);

		if (v.kind != CK_INT)
			break;
		comps[ncomps++] = (int) v.u.i;
	}
	if (ncomps == 0 || !cql_dt_from_components('H', comps, ncomps, false, 0, &dt))
		return CQL_NULL_VALUE;
	return cql_temporal(CK_TIME, &dt);
}

static CqlValue
eval_date_from(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = arg(cx, n, 0);
	CqlDateTime out;

	if (!cql_is_temporal(a) || a.kind == CK_TIME)
		return CQL_NULL_VALUE;
	cql_dt_date_from(&a.u.dt, &out);
	return cql_temporal(CK_DATE, &out);
}

static CqlValue
eval_time_from(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = arg(cx, n, 0);
	CqlDateTime out;

	if (a.kind != CK_DATETIME || !cql_dt_time_from(&a.u.dt, &out))
		return CQL_NULL_VALUE;
	return cql_temporal(CK_TIME, &out);
}

static CqlValue
eval_component_from(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = arg(cx, n, 0);
	int			out;

	if (!cql_is_temporal(a) || n->prec == CQL_PREC_ALL ||
		!cql_dt_component(&a.u.dt, (CqlPrecision) n->prec, &out))
		return CQL_NULL_VALUE;
	return cql_int(out);
}

static CqlValue
eval_timezone_offset_from(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = arg(cx, n, 0);
	int			m;

	if (a.kind != CK_DATETIME || !cql_dt_timezone(&a.u.dt, &m))
		return CQL_NULL_VALUE;
	return cql_dec(m / 60.0);
}

static CqlValue
between(EvalCtx *cx, const ElmNode *n, bool difference)
{
	CqlValue	a = arg(cx, n, 0),
				b = arg(cx, n, 1);
	int64_t		lo,
				hi;
	bool		ok;

	if (!cql_is_temporal(a) || !cql_is_temporal(b) || n->prec == CQL_PREC_ALL)
		return CQL_NULL_VALUE;
	if (difference)
		ok = cql_dt_difference_between(&a.u.dt, &b.u.dt, (CqlPrecision) n->prec, &lo, &hi);
	else
		ok = cql_dt_duration_between(&a.u.dt, &b.u.dt, (CqlPrecision) n->prec, &lo, &hi);
	if (!ok)
		return CQL_NULL_VALUE;
	return cql_uncertain(lo, hi);
}

static CqlValue
eval_duration_between(EvalCtx *cx, const ElmNode *n)
{
	return between(cx, n, false);
}

static CqlValue
eval_difference_between(EvalCtx *cx, const ElmNode *n)
{
	return between(cx, n, true);
}

static CqlValue
eval_calculate_age_at(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = arg(cx, n, 0),
				b = arg(cx, n, 1);
	int64_t		lo,
				hi;

	if (!cql_is_temporal(a) || !cql_is_temporal(b))
		return CQL_NULL_VALUE;
	if (!cql_dt_age_at(&a.u.dt, &b.u.dt, (CqlPrecision) (n->prec == CQL_PREC_ALL ? CQL_PREC_YEAR : n->prec), &lo, &hi))
		return CQL_NULL_VALUE;
	return cql_uncertain(lo, hi);
}

static CqlValue
eval_calculate_age(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = arg(cx, n, 0);
	int64_t		lo,
				hi;
	CqlDateTime today;

	if (!cql_is_temporal(a))
		return CQL_NULL_VALUE;
	cql_dt_date_from(&cx->now, &today);
	if (!cql_dt_age_at(&a.u.dt, a.kind == CK_DATE ? &today : &cx->now,
					   (CqlPrecision) (n->prec == CQL_PREC_ALL ? CQL_PREC_YEAR : n->prec), &lo, &hi))
		return CQL_NULL_VALUE;
	return cql_uncertain(lo, hi);
}

static CqlValue
eval_now(EvalCtx *cx, const ElmNode *n)
{
	return cql_temporal(CK_DATETIME, &cx->now);
}

static CqlValue
eval_today(EvalCtx *cx, const ElmNode *n)
{
	CqlDateTime d;

	cql_dt_date_from(&cx->now, &d);
	return cql_temporal(CK_DATE, &d);
}

static CqlValue
eval_time_of_day(EvalCtx *cx, const ElmNode *n)
{
	CqlDateTime t;

	if (!cql_dt_time_from(&cx->now, &t))
		return CQL_NULL_VALUE;
	return cql_temporal(CK_TIME, &t);
}

/* SameAs, SameOrBefore, SameOrAfter, Before, After on points */
static CqlValue
temporal_point_compare(CqlValue a, CqlValue b, int prec, char op)
{
	int			c;

	if (a.kind == CK_NULL || b.kind == CK_NULL)
		return CQL_NULL_VALUE;
	if (cql_is_temporal(a) && cql_is_temporal(b))
	{
		a = cql_normalize_tz(a);
		b = cql_normalize_tz(b);
		switch (op)
		{
			case '=':
				return cql_tri(cql_dt_same_as(&a.u.dt, &b.u.dt, prec));
			case '[':
				return cql_tri(cql_dt_same_or_before(&a.u.dt, &b.u.dt, prec));
			case ']':
				return cql_tri(cql_dt_same_or_after(&a.u.dt, &b.u.dt, prec));
			case '<':
				return cql_tri(cql_dt_before(&a.u.dt, &b.u.dt, prec));
			case '>':
				return cql_tri(cql_dt_after(&a.u.dt, &b.u.dt, prec));
		}
	}
	if (!cql_compare(a, b, prec, &c))
		return CQL_NULL_VALUE;
	switch (op)
	{
		case '=':
			return cql_bool(c == 0);
		case '[':
			return cql_bool(c <= 0);
		case ']':
			return cql_bool(c >= 0);
		case '<':
			return cql_bool(c < 0);
		default:
			return cql_bool(c > 0);
	}
}

static CqlValue
temporal_compare_node(EvalCtx *cx, const ElmNode *n, char op)
{
	CqlValue	a = arg(cx, n, 0),
				b = arg(cx, n, 1);

	if (a.kind == CK_INTERVAL || b.kind == CK_INTERVAL)
		return elm_interval_before_after(a, b, n->prec, op);
	return temporal_point_compare(a, b, n->prec, op);
}

static CqlValue
eval_same_as(EvalCtx *cx, const ElmNode *n)
{
	return temporal_compare_node(cx, n, '=');
}

static CqlValue
eval_same_or_before(EvalCtx *cx, const ElmNode *n)
{
	return temporal_compare_node(cx, n, '[');
}

static CqlValue
eval_same_or_after(EvalCtx *cx, const ElmNode *n)
{
	return temporal_compare_node(cx, n, ']');
}

static CqlValue
eval_before(EvalCtx *cx, const ElmNode *n)
{
	return temporal_compare_node(cx, n, '<');
}

static CqlValue
eval_after(EvalCtx *cx, const ElmNode *n)
{
	return temporal_compare_node(cx, n, '>');
}

CqlValue
elm_point_compare(CqlValue a, CqlValue b, int prec, char op)
{
	return temporal_point_compare(a, b, prec, op);
}

/* ---- strings ---------------------------------------------------------- */

static CqlValue
eval_concatenate(EvalCtx *cx, const ElmNode *n)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int i = 0; i < n->nargs; i++)
	{
		CqlValue	v = arg(cx, n, i);

		if (v.kind != CK_STR)
			return CQL_NULL_VALUE;
		appendStringInfoString(&s, v.u.s);
	}
	return cql_str(s.data);
}

static CqlValue
eval_split(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	s = arg(cx, n, 0);
	CqlValue	sep = n->args[1] ? arg(cx, n, 1) : CQL_NULL_VALUE;
	CqlValue	out;
	const char *p;

	if (s.kind != CK_STR)
		return CQL_NULL_VALUE;
	out = cql_list_new(4);
	if (sep.kind != CK_STR || sep.u.s[0] == '\0')
	{
		cql_list_append(&out, s);
		return out;
	}
	p = s.u.s;
	for (;;)
	{
		const char *hit = strstr(p, sep.u.s);

		if (hit == NULL)
		{
			cql_list_append(&out, cql_str(pstrdup(p)));
			break;
		}
		cql_list_append(&out, cql_str(pnstrdup(p, hit - p)));
		p = hit + strlen(sep.u.s);
	}
	return out;
}

static CqlValue
eval_combine(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	l = arg(cx, n, 0);
	CqlValue	sep = n->args[1] ? arg(cx, n, 1) : cql_str("");
	StringInfoData s;
	bool		first = true;

	if (l.kind != CK_LIST)
		return CQL_NULL_VALUE;
	initStringInfo(&s);
	for (int i = 0; i < l.u.list->n; i++)
	{
		CqlValue	v = elm_system_value(l.u.list->items[i]);

		if (v.kind != CK_STR)
			continue;
		if (!first && sep.kind == CK_STR)
			appendStringInfoString(&s, sep.u.s);
		appendStringInfoString(&s, v.u.s);
		first = false;
	}
	return cql_str(s.data);
}

/* characters, not bytes: strings are in the database encoding */
static int
char_count(const char *s)
{
	return pg_mbstrlen(s);
}

/* byte offset of character number `chars` (clamped to the end) */
static int
char_offset(const char *s, int chars)
{
	int			off = 0;

	while (chars-- > 0 && s[off])
		off += pg_mblen(s + off);
	return off;
}

static CqlValue
eval_substring(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	s = arg(cx, n, 0),
				start = arg(cx, n, 1);
	CqlValue	len = n->args[2] ? arg(cx, n, 2) : CQL_NULL_VALUE;
	int			nchars,
				from;

	if (s.kind != CK_STR || start.kind != CK_INT)
		return CQL_NULL_VALUE;
	nchars = char_count(s.u.s);
	if (start.u.i < 0 || start.u.i >= nchars)
		return CQL_NULL_VALUE;
	from = char_offset(s.u.s, (int) start.u.i);
	if (len.kind == CK_INT)
	{
		int			to = from + char_offset(s.u.s + from, (int) Max(0, len.u.i));

		return cql_str(pnstrdup(s.u.s + from, to - from));
	}
	return cql_str(pstrdup(s.u.s + from));
}

/* Length of a String (characters) or a List; n->flag: the operand is a List */
static CqlValue
eval_length(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	s = arg(cx, n, 0);

	if (s.kind == CK_STR)
		return cql_int(char_count(s.u.s));
	if (s.kind == CK_LIST)
		return cql_int(s.u.list->n);
	/* a null List has length 0, a null String has none */
	return (s.kind == CK_NULL && n->flag) ? cql_int(0) : CQL_NULL_VALUE;
}

static CqlValue
case_map(EvalCtx *cx, const ElmNode *n, bool upper)
{
	CqlValue	s = arg(cx, n, 0);
	char	   *r;

	if (s.kind != CK_STR)
		return CQL_NULL_VALUE;
	r = pstrdup(s.u.s);
	for (char *p = r; *p; p++)
		*p = upper ? pg_toupper((unsigned char) *p) : pg_tolower((unsigned char) *p);
	return cql_str(r);
}

static CqlValue
eval_upper(EvalCtx *cx, const ElmNode *n)
{
	return case_map(cx, n, true);
}

static CqlValue
eval_lower(EvalCtx *cx, const ElmNode *n)
{
	return case_map(cx, n, false);
}

static CqlValue
eval_starts_with(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	s = arg(cx, n, 0),
				p = arg(cx, n, 1);

	if (s.kind != CK_STR || p.kind != CK_STR)
		return CQL_NULL_VALUE;
	return cql_bool(strncmp(s.u.s, p.u.s, strlen(p.u.s)) == 0);
}

static CqlValue
eval_ends_with(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	s = arg(cx, n, 0),
				p = arg(cx, n, 1);
	size_t		ls,
				lp;

	if (s.kind != CK_STR || p.kind != CK_STR)
		return CQL_NULL_VALUE;
	ls = strlen(s.u.s);
	lp = strlen(p.u.s);
	return cql_bool(lp <= ls && strcmp(s.u.s + ls - lp, p.u.s) == 0);
}

static CqlValue
eval_position_of(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	p = arg(cx, n, 0),
				s = arg(cx, n, 1);
	const char *hit;

	if (s.kind != CK_STR || p.kind != CK_STR)
		return CQL_NULL_VALUE;
	hit = strstr(s.u.s, p.u.s);
	return cql_int(hit ? hit - s.u.s : -1);
}

/* ---- conversions ------------------------------------------------------ */

static CqlValue
eval_to_string(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = arg(cx, n, 0);
	char	   *t = cql_to_text(v);

	return t ? cql_str(t) : CQL_NULL_VALUE;
}

/* the ToX operators: one conversion table, shared with Convert (elm_ops_more.c) */
static CqlValue
eval_to_decimal(EvalCtx *cx, const ElmNode *n)
{
	return elm_convert(elm_eval(cx, n->args[0]), "Decimal");
}

static CqlValue
eval_to_integer(EvalCtx *cx, const ElmNode *n)
{
	return elm_convert(elm_eval(cx, n->args[0]), "Integer");
}

static CqlValue
eval_to_boolean(EvalCtx *cx, const ElmNode *n)
{
	return elm_convert(elm_eval(cx, n->args[0]), "Boolean");
}

static CqlValue
eval_to_datetime(EvalCtx *cx, const ElmNode *n)
{
	return elm_convert(elm_eval(cx, n->args[0]), "DateTime");
}

static CqlValue
eval_to_date(EvalCtx *cx, const ElmNode *n)
{
	return elm_convert(elm_eval(cx, n->args[0]), "Date");
}

static CqlValue
eval_to_time(EvalCtx *cx, const ElmNode *n)
{
	return elm_convert(elm_eval(cx, n->args[0]), "Time");
}

static CqlValue
eval_to_quantity(EvalCtx *cx, const ElmNode *n)
{
	return elm_convert(elm_eval(cx, n->args[0]), "Quantity");
}

static CqlValue
eval_to_concept(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = arg(cx, n, 0);
	CqlValue	c = {.kind = CK_CONCEPT};

	if (v.kind == CK_CONCEPT)
		return v;
	c.u.concept = palloc0(sizeof(CqlConcept));
	if (v.kind == CK_CODE)
	{
		c.u.concept->ncodes = 1;
		c.u.concept->codes = v.u.code;
		return c;
	}
	if (v.kind == CK_LIST)
	{
		c.u.concept->codes = palloc0(sizeof(CqlCode) * Max(v.u.list->n, 1));
		for (int i = 0; i < v.u.list->n; i++)
		{
			CqlValue	x = elm_system_value(v.u.list->items[i]);

			if (x.kind == CK_CODE)
				c.u.concept->codes[c.u.concept->ncodes++] = *x.u.code;
		}
		return c;
	}
	return CQL_NULL_VALUE;
}

static CqlValue
eval_to_ratio(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = arg(cx, n, 0);

	return v.kind == CK_RATIO ? v : CQL_NULL_VALUE;
}

static CqlValue
eval_convert_quantity(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	q = arg(cx, n, 0),
				u = arg(cx, n, 1);
	CqlQuantity out;

	if (q.kind != CK_QTY || u.kind != CK_STR)
		return CQL_NULL_VALUE;
	if (!cql_qty_convert(q.u.q, u.u.s, &out))
		return CQL_NULL_VALUE;
	return cql_quantity(out.value, out.unit);
}

static CqlValue
eval_can_convert_quantity(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	q = arg(cx, n, 0),
				u = arg(cx, n, 1);

	if (q.kind != CK_QTY || u.kind != CK_STR)
		return CQL_NULL_VALUE;
	return cql_bool(cql_qty_convertible(q.u.q->unit, u.u.s));
}

/* ---- terminology ------------------------------------------------------ */

static CqlValue
eval_in_valueset(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	code = elm_eval(cx, n->args[0]);
	ElmValueSet *vs = (ElmValueSet *) n->ref;

	if (vs == NULL)
	{
		CqlValue	v = elm_eval(cx, n->args[1]);

		if (v.kind != CK_VALUESET)
			return CQL_NULL_VALUE;
		vs = v.u.vs;
	}
	if (code.kind == CK_NULL)
		return cql_bool(false);
	return cql_tri(terminology_value_in(code, vs));
}

static CqlValue
eval_in_codesystem(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	code = arg(cx, n, 0);
	ElmCodeSystem *cs = (ElmCodeSystem *) n->ref;

	if (code.kind == CK_CODE)
		return cql_bool(code.u.code->system && strcmp(code.u.code->system, cs->url) == 0);
	if (code.kind == CK_CONCEPT)
	{
		for (int i = 0; i < code.u.concept->ncodes; i++)
			if (code.u.concept->codes[i].system && strcmp(code.u.concept->codes[i].system, cs->url) == 0)
				return cql_bool(true);
		return cql_bool(false);
	}
	return code.kind == CK_NULL ? cql_bool(false) : CQL_NULL_VALUE;
}

static CqlValue
eval_expand_valueset(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = elm_eval(cx, n->args[0]);
	CqlValue	out;

	if (v.kind != CK_VALUESET)
		return CQL_NULL_VALUE;
	(void) terminology_contains(v.u.vs, "", "");	/* loads the codes */
	out = cql_list_new(v.u.vs->ncodes);
	for (int i = 0; i < v.u.vs->ncodes; i++)
	{
		char	   *bar = strrchr(v.u.vs->codes[i], '|');

		cql_list_append(&out, cql_code_value(pstrdup(bar + 1),
											 pnstrdup(v.u.vs->codes[i], bar - v.u.vs->codes[i]),
											 NULL, NULL));
	}
	return out;
}

const ElmOpInfo elm_value_ops[] = {
	{"Abs", eval_abs},
	{"Add", eval_add},
	{"After", eval_after},
	{"AnyInCodeSystem", eval_in_codesystem},
	{"AnyInValueSet", eval_in_valueset},
	{"Before", eval_before},
	{"CalculateAge", eval_calculate_age},
	{"CalculateAgeAt", eval_calculate_age_at},
	{"CanConvertQuantity", eval_can_convert_quantity},
	{"Ceiling", eval_ceiling},
	{"Combine", eval_combine},
	{"Concatenate", eval_concatenate},
	{"ConvertQuantity", eval_convert_quantity},
	{"Date", eval_datetime_ctor},
	{"DateFrom", eval_date_from},
	{"DateTime", eval_datetime_ctor},
	{"DateTimeComponentFrom", eval_component_from},
	{"DifferenceBetween", eval_difference_between},
	{"Divide", eval_divide},
	{"DurationBetween", eval_duration_between},
	{"EndsWith", eval_ends_with},
	{"Equal", eval_equal},
	{"Equivalent", eval_equivalent},
	{"Exp", eval_exp},
	{"ExpandValueSet", eval_expand_valueset},
	{"Floor", eval_floor},
	{"Greater", eval_greater},
	{"GreaterOrEqual", eval_greater_or_equal},
	{"InCodeSystem", eval_in_codesystem},
	{"InValueSet", eval_in_valueset},
	{"Length", eval_length},
	{"Less", eval_less},
	{"LessOrEqual", eval_less_or_equal},
	{"Ln", eval_ln},
	{"Lower", eval_lower},
	{"MaxValue", eval_max_value},
	{"MinValue", eval_min_value},
	{"Modulo", eval_modulo},
	{"Multiply", eval_multiply},
	{"Negate", eval_negate},
	{"NotEqual", eval_not_equal},
	{"Now", eval_now},
	{"PositionOf", eval_position_of},
	{"Power", eval_power},
	{"Predecessor", eval_predecessor},
	{"Round", eval_round},
	{"SameAs", eval_same_as},
	{"SameOrAfter", eval_same_or_after},
	{"SameOrBefore", eval_same_or_before},
	{"Split", eval_split},
	{"StartsWith", eval_starts_with},
	{"Substring", eval_substring},
	{"Subtract", eval_subtract},
	{"Successor", eval_successor},
	{"Time", eval_time_ctor},
	{"TimeFrom", eval_time_from},
	{"TimeOfDay", eval_time_of_day},
	{"TimezoneOffsetFrom", eval_timezone_offset_from},
	{"ToBoolean", eval_to_boolean},
	{"ToConcept", eval_to_concept},
	{"ToDate", eval_to_date},
	{"ToDateTime", eval_to_datetime},
	{"ToDecimal", eval_to_decimal},
	{"ToInteger", eval_to_integer},
	{"ToQuantity", eval_to_quantity},
	{"ToRatio", eval_to_ratio},
	{"ToString", eval_to_string},
	{"ToTime", eval_to_time},
	{"Today", eval_today},
	{"TruncatedDivide", eval_truncated_divide},
	{"Truncate", eval_truncate},
	{"Upper", eval_upper},
	{NULL, NULL}
};

const ElmOpInfo *
elm_op_lookup(const char *type)
{
	const ElmOpInfo *tables[] = {elm_core_ops, elm_value_ops, elm_interval_ops, elm_list_ops, elm_more_ops};

	for (int t = 0; t < lengthof(tables); t++)
		for (const ElmOpInfo *op = tables[t]; op->type; op++)
			if (strcmp(op->type, type) == 0)
				return op;
	return NULL;
}
