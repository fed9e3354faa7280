/*
 * elm_ops_more.c
 *		The rest of ELM's operators that the CMS measures do not use but
 *		other measures may: list iteration (Filter, ForEach, Repeat, Times,
 *		Slice), statistics, regular expressions, precision and boundaries,
 *		generic conversions, Concept and Ratio selectors, FHIR tree
 *		navigation (Children, Descendents).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "engine/elm.h"
#include "engine/elm_ops.h"
#include "engine/fhir_data.h"

static inline CqlValue
arg(EvalCtx *cx, const ElmNode *n, int i)
{
	return elm_system_value(elm_eval(cx, n->args[i]));
}

/* ---- iteration with a scope (Filter, ForEach, Repeat, Current) -------- */

/* args[0] source, args[1] condition/element; n->slot the scope's variable */
static CqlValue
eval_filter(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	src = elm_eval(cx, n->args[0]);
	CqlValue	out;

	if (src.kind != CK_LIST)
		return src.kind == CK_NULL ? src : CQL_NULL_VALUE;
	out = cql_list_new(src.u.list->n);
	for (int i = 0; i < src.u.list->n; i++)
	{
		cx->slots[cx->frame_base + n->slot] = src.u.list->items[i];
		if (elm_truthy(elm_system_value(elm_eval(cx, n->args[1]))))
			cql_list_append(&out, src.u.list->items[i]);
	}
	return out;
}

static CqlValue
eval_for_each(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	src = elm_eval(cx, n->args[0]);
	CqlValue	out;

	if (src.kind != CK_LIST)
		return src.kind == CK_NULL ? src : CQL_NULL_VALUE;
	out = cql_list_new(src.u.list->n);
	for (int i = 0; i < src.u.list->n; i++)
	{
		cx->slots[cx->frame_base + n->slot] = src.u.list->items[i];
		cql_list_append(&out, elm_eval(cx, n->args[1]));
	}
	return out;
}

/* apply element repeatedly to new items until nothing new appears */
static CqlValue
eval_repeat(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	src = elm_eval(cx, n->args[0]);
	CqlValue	out,
				frontier;
	int			rounds = 0;

	if (src.kind != CK_LIST)
		return src.kind == CK_NULL ? src : CQL_NULL_VALUE;
	out = elm_list_distinct(src);
	frontier = out;
	while (frontier.u.list->n > 0 && rounds++ < 1000)
	{
		CqlValue	next = cql_list_new(frontier.u.list->n);

		for (int i = 0; i < frontier.u.list->n; i++)
		{
			CqlValue	r;

			cx->slots[cx->frame_base + n->slot] = frontier.u.list->items[i];
			r = elm_eval(cx, n->args[1]);
			for (int k = 0; k < (r.kind == CK_LIST ? r.u.list->n : (r.kind == CK_NULL ? 0 : 1)); k++)
			{
				CqlValue	item = r.kind == CK_LIST ? r.u.list->items[k] : r;
				bool		seen = false;

				for (int j = 0; j < out.u.list->n && !seen; j++)
					seen = cql_equal(out.u.list->items[j], item) == CQL_TRUE;
				if (!seen)
				{
					cql_list_append(&out, item);
					cql_list_append(&next, item);
				}
			}
		}
		frontier = next;
	}
	return out;
}

static CqlValue
eval_current(EvalCtx *cx, const ElmNode *n)
{
	return cx->slots[cx->frame_base + n->slot];
}

/* ---- lists ------------------------------------------------------------ */

static CqlValue
eval_slice(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	src = elm_eval(cx, n->args[0]);
	CqlValue	start = n->args[1] ? arg(cx, n, 1) : CQL_NULL_VALUE;
	CqlValue	end = n->args[2] ? arg(cx, n, 2) : CQL_NULL_VALUE;
	CqlValue	out;
	int64		from,
				to;

	if (src.kind != CK_LIST)
		return CQL_NULL_VALUE;
	from = start.kind == CK_INT ? Max(start.u.i, 0) : 0;
	to = end.kind == CK_INT ? Min(end.u.i, src.u.list->n) : src.u.list->n;
	out = cql_list_new((int) Max(to - from, 1));
	for (int64 i = from; i < to; i++)
		cql_list_append(&out, src.u.list->items[i]);
	return out;
}

/* cartesian product of two lists of tuples: each pair's elements combined */
static CqlValue
eval_times(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = elm_eval(cx, n->args[0]),
				b = elm_eval(cx, n->args[1]);
	CqlValue	out;

	if (a.kind != CK_LIST || b.kind != CK_LIST)
		return CQL_NULL_VALUE;
	out = cql_list_new(a.u.list->n * b.u.list->n + 1);
	for (int i = 0; i < a.u.list->n; i++)
		for (int k = 0; k < b.u.list->n; k++)
		{
			CqlValue	x = a.u.list->items[i],
						y = b.u.list->items[k];
			CqlValue	t;
			int			nx = x.kind == CK_TUPLE ? x.u.tuple->n : 0;
			int			ny = y.kind == CK_TUPLE ? y.u.tuple->n : 0;

			t = cql_tuple_new(nx + ny);
			for (int j = 0; j < nx; j++)
			{
				t.u.tuple->names[j] = x.u.tuple->names[j];
				t.u.tuple->vals[j] = x.u.tuple->vals[j];
			}
			for (int j = 0; j < ny; j++)
			{
				t.u.tuple->names[nx + j] = y.u.tuple->names[j];
				t.u.tuple->vals[nx + j] = y.u.tuple->vals[j];
			}
			cql_list_append(&out, t);
		}
	return out;
}

/* ---- statistics ------------------------------------------------------- */

/* the non-null numbers of the list operand; false if some item is not a number */
static bool
numbers_of(EvalCtx *cx, const ElmNode *n, double **vals, int *count)
{
	CqlValue	l = elm_eval(cx, n->args[0]);

	*count = 0;
	if (l.kind != CK_LIST)
		return l.kind == CK_NULL;
	*vals = palloc(sizeof(double) * Max(l.u.list->n, 1));
	for (int i = 0; i < l.u.list->n; i++)
	{
		CqlValue	v = elm_system_value(l.u.list->items[i]);

		if (v.kind == CK_NULL)
			continue;
		if (!cql_is_number(v))
			elm_error_at(n, "%s over %s", n->type, cql_kind_name(v));
		(*vals)[(*count)++] = cql_number(v);
	}
	return true;
}

static CqlValue
eval_product(EvalCtx *cx, const ElmNode *n)
{
	double	   *v;
	int			k;
	double		p = 1;

	if (!numbers_of(cx, n, &v, &k) || k == 0)
		return CQL_NULL_VALUE;
	for (int i = 0; i < k; i++)
		p *= v[i];
	return cql_dec(p);
}

static CqlValue
eval_geometric_mean(EvalCtx *cx, const ElmNode *n)
{
	double	   *v;
	int			k;
	double		s = 0;

	if (!numbers_of(cx, n, &v, &k) || k == 0)
		return CQL_NULL_VALUE;
	for (int i = 0; i < k; i++)
	{
		if (v[i] <= 0)
			return CQL_NULL_VALUE;
		s += log(v[i]);
	}
	return cql_dec(round(exp(s / k) * 1e8) / 1e8);
}

static CqlValue
variance(EvalCtx *cx, const ElmNode *n, bool population, bool root)
{
	double	   *v;
	int			k;
	double		mean = 0,
				ss = 0,
				r;

	if (!numbers_of(cx, n, &v, &k) || k == 0 || (!population && k < 2))
		return CQL_NULL_VALUE;
	for (int i = 0; i < k; i++)
		mean += v[i];
	mean /= k;
	for (int i = 0; i < k; i++)
		ss += (v[i] - mean) * (v[i] - mean);
	r = ss / (population ? k : k - 1);
	if (root)
		r = sqrt(r);
	return cql_dec(round(r * 1e8) / 1e8);
}

static CqlValue
eval_variance(EvalCtx *cx, const ElmNode *n)
{
	return variance(cx, n, false, false);
}

static CqlValue
eval_population_variance(EvalCtx *cx, const ElmNode *n)
{
	return variance(cx, n, true, false);
}

static CqlValue
eval_stddev(EvalCtx *cx, const ElmNode *n)
{
	return variance(cx, n, false, true);
}

static CqlValue
eval_population_stddev(EvalCtx *cx, const ElmNode *n)
{
	return variance(cx, n, true, true);
}

/* the most frequent non-null value (the first of equals) */
static CqlValue
eval_mode(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	l = elm_eval(cx, n->args[0]);
	CqlValue	best = CQL_NULL_VALUE;
	int			best_count = 0;

	if (l.kind != CK_LIST)
		return CQL_NULL_VALUE;
	for (int i = 0; i < l.u.list->n; i++)
	{
		CqlValue	v = elm_system_value(l.u.list->items[i]);
		int			c = 0;

		if (v.kind == CK_NULL)
			continue;
		for (int k = 0; k < l.u.list->n; k++)
			if (cql_equal(v, elm_system_value(l.u.list->items[k])) == CQL_TRUE)
				c++;
		if (c > best_count)
		{
			best = v;
			best_count = c;
		}
	}
	return best;
}

static CqlValue
eval_log(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	x = arg(cx, n, 0),
				b = arg(cx, n, 1);
	double		r;

	if (!cql_is_number(x) || !cql_is_number(b) || cql_number(x) <= 0 || cql_number(b) <= 0 || cql_number(b) == 1)
		return CQL_NULL_VALUE;
	r = log(cql_number(x)) / log(cql_number(b));
	return cql_dec(round(r * 1e8) / 1e8);
}

/* ---- regular expressions (PostgreSQL's, which are ARE like CQL's) ----- */

static bool
regex_matches(const char *s, const char *pattern)
{
	/* Matches is a whole-string match */
	char	   *anchored = psprintf("^(?:%s)$", pattern);

	return DatumGetBool(DirectFunctionCall2Coll(textregexeq, DEFAULT_COLLATION_OID,
												CStringGetTextDatum(s),
												CStringGetTextDatum(anchored)));
}

static CqlValue
eval_matches(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	s = arg(cx, n, 0),
				p = arg(cx, n, 1);

	if (s.kind != CK_STR || p.kind != CK_STR)
		return CQL_NULL_VALUE;
	return cql_bool(regex_matches(s.u.s, p.u.s));
}

static CqlValue
eval_replace_matches(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	s = arg(cx, n, 0),
				p = arg(cx, n, 1),
				r = arg(cx, n, 2);
	Datum		d;

	if (s.kind != CK_STR || p.kind != CK_STR || r.kind != CK_STR)
		return CQL_NULL_VALUE;
	d = DirectFunctionCall4Coll(textregexreplace, DEFAULT_COLLATION_OID,
								CStringGetTextDatum(s.u.s), CStringGetTextDatum(p.u.s),
								CStringGetTextDatum(r.u.s), CStringGetTextDatum("g"));
	return cql_str(TextDatumGetCString(d));
}

static CqlValue
eval_split_on_matches(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	s = arg(cx, n, 0),
				p = arg(cx, n, 1);
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			count;
	CqlValue	out;

	if (s.kind != CK_STR || p.kind != CK_STR)
		return CQL_NULL_VALUE;
	arr = DatumGetArrayTypeP(DirectFunctionCall2Coll(regexp_split_to_array, DEFAULT_COLLATION_OID,
													 CStringGetTextDatum(s.u.s),
													 CStringGetTextDatum(p.u.s)));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count);
	out = cql_list_new(count);
	for (int i = 0; i < count; i++)
		cql_list_append(&out, cql_str(TextDatumGetCString(elems[i])));
	return out;
}

static CqlValue
eval_last_position_of(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	p = arg(cx, n, 0),
				s = arg(cx, n, 1);
	const char *hit = NULL,
			   *at;

	if (s.kind != CK_STR || p.kind != CK_STR)
		return CQL_NULL_VALUE;
	for (at = s.u.s; (at = strstr(at, p.u.s)) != NULL; at++)
	{
		hit = at;
		if (*at == '\0')
			break;
	}
	return cql_int(hit ? pg_mbstrlen_with_len(s.u.s, hit - s.u.s) : -1);
}

/* ---- precision and boundaries ------------------------------------------ */

/* digits of a temporal precision, as CQL counts them */
static int
temporal_digits(CqlValue v)
{
	static const int dt_digits[] = {4, 6, 0, 8, 10, 12, 14, 17};
	static const int time_digits[] = {0, 0, 0, 0, 2, 4, 6, 9};

	return v.kind == CK_TIME ? time_digits[v.u.dt.prec] : dt_digits[v.u.dt.prec];
}

static int
decimal_digits(double d)
{
	char	   *s = psprintf("%.8f", d);
	char	   *e = s + strlen(s) - 1;
	char	   *dot = strchr(s, '.');

	while (e > dot && *e == '0')
		e--;
	return (int) (e - dot);
}

static CqlValue
eval_precision(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = arg(cx, n, 0);

	if (v.kind == CK_DATE || v.kind == CK_DATETIME || v.kind == CK_TIME)
		return cql_int(temporal_digits(v));
	if (v.kind == CK_DEC)
		return cql_int(decimal_digits(v.u.d));
	if (v.kind == CK_INT)
		return cql_int(0);
	return CQL_NULL_VALUE;
}

static CqlValue
boundary(EvalCtx *cx, const ElmNode *n, bool high)
{
	CqlValue	v = arg(cx, n, 0);
	CqlValue	p = n->nargs > 1 ? arg(cx, n, 1) : CQL_NULL_VALUE;

	if (v.kind == CK_DEC)
	{
		int			digits = p.kind == CK_INT ? (int) p.u.i : 8;
		int			have = decimal_digits(v.u.d);

		if (digits < have || digits > 8)
			return CQL_NULL_VALUE;
		/* the missing digits are all 0 (low) or all 9 (high) */
		return cql_dec(v.u.d + (high ? (pow(10, -have) - pow(10, -digits)) * (v.u.d < 0 ? -1 : 1) : 0));
	}
	if (v.kind == CK_DATE || v.kind == CK_DATETIME || v.kind == CK_TIME)
	{
		static const int dt_prec[18] = {-1, -1, -1, -1, CQL_PREC_YEAR, -1, CQL_PREC_MONTH, -1, CQL_PREC_DAY,
		-1, CQL_PREC_HOUR, -1, CQL_PREC_MINUTE, -1, CQL_PREC_SECOND, -1, -1, CQL_PREC_MILLISECOND};
		static const int time_prec[10] = {-1, -1, CQL_PREC_HOUR, -1, CQL_PREC_MINUTE, -1, CQL_PREC_SECOND, -1, -1, CQL_PREC_MILLISECOND};
		int			digits = p.kind == CK_INT ? (int) p.u.i : (v.kind == CK_TIME ? 9 : (v.kind == CK_DATE ? 8 : 17));
		int			prec = -1;
		CqlDateTime out;

		if (v.kind == CK_TIME && digits >= 0 && digits < 10)
			prec = time_prec[digits];
		else if (v.kind != CK_TIME && digits >= 0 && digits < 18)
			prec = dt_prec[digits];
		if (prec < 0 || (v.kind == CK_DATE && prec > CQL_PREC_DAY))
			return CQL_NULL_VALUE;
		if (high)
			cql_dt_high_boundary(&v.u.dt, (CqlPrecision) prec, &out);
		else
			cql_dt_low_boundary(&v.u.dt, (CqlPrecision) prec, &out);
		return cql_temporal(v.kind, &out);
	}
	return CQL_NULL_VALUE;
}

static CqlValue
eval_low_boundary(EvalCtx *cx, const ElmNode *n)
{
	return boundary(cx, n, false);
}

static CqlValue
eval_high_boundary(EvalCtx *cx, const ElmNode *n)
{
	return boundary(cx, n, true);
}

/* ---- conversions -------------------------------------------------------- */

/* v converted to the System type named; null when it does not convert */
CqlValue
elm_convert(CqlValue v, const char *type)
{
	CqlDateTime dt;

	v = elm_system_value(v);
	if (v.kind == CK_NULL)
		return v;
	if (strcmp(type, "String") == 0)
	{
		char	   *t = cql_to_text(v);

		return t ? cql_str(t) : CQL_NULL_VALUE;
	}
	if (strcmp(type, "Boolean") == 0)
	{
		if (v.kind == CK_BOOL)
			return v;
		if (v.kind == CK_STR)
		{
			static const char *const t[] = {"true", "t", "yes", "y", "1"};
			static const char *const f[] = {"false", "f", "no", "n", "0"};

			for (int i = 0; i < lengthof(t); i++)
			{
				if (pg_strcasecmp(v.u.s, t[i]) == 0)
					return cql_bool(true);
				if (pg_strcasecmp(v.u.s, f[i]) == 0)
					return cql_bool(false);
			}
		}
		if (cql_is_number(v) && (cql_number(v) == 0 || cql_number(v) == 1))
			return cql_bool(cql_number(v) == 1);
		return CQL_NULL_VALUE;
	}
	if (strcmp(type, "Integer") == 0 || strcmp(type, "Long") == 0)
	{
		char	   *end;
		long long	i;

		if (v.kind == CK_INT)
			return v;
		if (v.kind == CK_BOOL)
			return cql_int(v.u.b);
		if (v.kind != CK_STR)
			return CQL_NULL_VALUE;
		i = strtoll(v.u.s, &end, 10);
		return (*end == '\0' && end != v.u.s) ? cql_int(i) : CQL_NULL_VALUE;
	}
	if (strcmp(type, "Decimal") == 0)
	{
		char	   *end;
		double		d;

		if (cql_is_number(v))
			return cql_dec(cql_number(v));
		if (v.kind == CK_BOOL)
			return cql_dec(v.u.b);
		if (v.kind != CK_STR)
			return CQL_NULL_VALUE;
		d = strtod(v.u.s, &end);
		return (*end == '\0' && end != v.u.s) ? cql_dec(d) : CQL_NULL_VALUE;
	}
	if (strcmp(type, "Date") == 0)
	{
		if (v.kind == CK_DATE)
			return v;
		if (v.kind == CK_DATETIME)
		{
			cql_dt_date_from(&v.u.dt, &dt);
			return cql_temporal(CK_DATE, &dt);
		}
		return (v.kind == CK_STR && cql_dt_parse_date(v.u.s, -1, &dt)) ? cql_temporal(CK_DATE, &dt) : CQL_NULL_VALUE;
	}
	if (strcmp(type, "DateTime") == 0)
	{
		if (v.kind == CK_DATETIME)
			return v;
		if (v.kind == CK_DATE)
		{
			dt = v.u.dt;
			cql_dt_apply_default_tz(&dt, (int16_t) cql_default_tz_minutes);
			return cql_temporal(CK_DATETIME, &dt);
		}
		return (v.kind == CK_STR && cql_dt_parse_datetime(v.u.s, -1, &dt)) ? cql_temporal(CK_DATETIME, &dt) : CQL_NULL_VALUE;
	}
	if (strcmp(type, "Time") == 0)
	{
		if (v.kind == CK_TIME)
			return v;
		return (v.kind == CK_STR && cql_dt_parse_time(v.u.s, -1, &dt)) ? cql_temporal(CK_TIME, &dt) : CQL_NULL_VALUE;
	}
	if (strcmp(type, "Quantity") == 0)
	{
		if (v.kind == CK_QTY)
			return v;
		if (cql_is_number(v))
			return cql_quantity(cql_number(v), "1");
		if (v.kind == CK_STR)
		{
			char	   *end;
			double		d = strtod(v.u.s, &end);
			char	   *q1 = strchr(end, '\''),
					   *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;

			if (end == v.u.s)
				return CQL_NULL_VALUE;
			return cql_quantity(d, (q1 && q2) ? pnstrdup(q1 + 1, q2 - q1 - 1) : "1");
		}
		return CQL_NULL_VALUE;
	}
	if (strcmp(type, "Concept") == 0)
	{
		CqlValue	c = {.kind = CK_CONCEPT};

		if (v.kind == CK_CONCEPT)
			return v;
		if (v.kind != CK_CODE)
			return CQL_NULL_VALUE;
		c.u.concept = palloc0(sizeof(CqlConcept));
		c.u.concept->ncodes = 1;
		c.u.concept->codes = v.u.code;
		return c;
	}
	if (strcmp(type, "Ratio") == 0)
		return v.kind == CK_RATIO ? v : CQL_NULL_VALUE;
	return CQL_NULL_VALUE;
}

static CqlValue
eval_convert(EvalCtx *cx, const ElmNode *n)
{
	if (n->ts == NULL || n->ts->kind != ETS_NAMED || !n->ts->is_system)
		elm_error_at(n, "Convert to a non-System type is not supported");
	return elm_convert(elm_eval(cx, n->args[0]), n->ts->name);
}

static CqlValue
eval_can_convert(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = elm_eval(cx, n->args[0]);

	if (v.kind == CK_NULL)
		return CQL_NULL_VALUE;
	if (n->ts == NULL || n->ts->kind != ETS_NAMED || !n->ts->is_system)
		return cql_bool(false);
	return cql_bool(elm_convert(v, n->ts->name).kind != CK_NULL);
}

/* ConvertsToX: the target type is the node type's suffix, kept in n->str */
static CqlValue
eval_converts_to(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	v = elm_eval(cx, n->args[0]);

	if (v.kind == CK_NULL)
		return CQL_NULL_VALUE;
	return cql_bool(elm_convert(v, n->type + strlen("ConvertsTo")).kind != CK_NULL);
}

static CqlValue
eval_to_long(EvalCtx *cx, const ElmNode *n)
{
	return elm_convert(elm_eval(cx, n->args[0]), "Long");
}

static CqlValue
eval_to_chars(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	s = arg(cx, n, 0);
	CqlValue	out;
	const char *p;

	if (s.kind != CK_STR)
		return CQL_NULL_VALUE;
	out = cql_list_new(strlen(s.u.s));
	for (p = s.u.s; *p; p += pg_mblen(p))
		cql_list_append(&out, cql_str(pnstrdup(p, pg_mblen(p))));
	return out;
}

/* ---- selectors ---------------------------------------------------------- */

static CqlValue
eval_concept(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	c = {.kind = CK_CONCEPT};

	c.u.concept = palloc0(sizeof(CqlConcept));
	c.u.concept->codes = palloc0(sizeof(CqlCode) * Max(n->nargs, 1));
	c.u.concept->display = n->str;
	for (int i = 0; i < n->nargs; i++)
	{
		CqlValue	code = arg(cx, n, i);

		if (code.kind == CK_CODE)
			c.u.concept->codes[c.u.concept->ncodes++] = *code.u.code;
	}
	return c;
}

static CqlValue
eval_ratio(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	a = arg(cx, n, 0),
				b = arg(cx, n, 1);
	CqlValue	r = {.kind = CK_RATIO};

	if (a.kind != CK_QTY || b.kind != CK_QTY)
		return CQL_NULL_VALUE;
	r.u.ratio = palloc(sizeof(CqlRatio));
	r.u.ratio->num = *a.u.q;
	r.u.ratio->den = *b.u.q;
	return r;
}

/* ---- FHIR tree navigation ------------------------------------------------ */

static void
children_of(CqlValue v, CqlValue *out, bool recurse)
{
	JsonbIterator *it;
	JsonbValue	jv;
	JsonbIteratorToken tok;

	if (v.kind == CK_LIST)
	{
		for (int i = 0; i < v.u.list->n; i++)
			children_of(v.u.list->items[i], out, recurse);
		return;
	}
	if (v.kind != CK_FHIR || v.u.fhir->jv.type != jbvBinary)
		return;
	it = JsonbIteratorInit(v.u.fhir->jv.val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &jv, true)) != WJB_DONE)
	{
		CqlValue	child;

		if (tok != WJB_VALUE && tok != WJB_ELEM)
			continue;
		child = cql_fhir_value(NULL, &jv, NULL);
		if (jv.type == jbvBinary && JsonContainerIsArray(jv.val.binary.data))
		{
			/* an array element of the parent: its items are the children */
			JsonbIterator *ai = JsonbIteratorInit(jv.val.binary.data);
			JsonbValue	item;
			JsonbIteratorToken at;

			while ((at = JsonbIteratorNext(&ai, &item, true)) != WJB_DONE)
				if (at == WJB_ELEM)
				{
					CqlValue	c = cql_fhir_value(NULL, &item, NULL);

					cql_list_append(out, c);
					if (recurse)
						children_of(c, out, true);
				}
			continue;
		}
		cql_list_append(out, child);
		if (recurse)
			children_of(child, out, true);
	}
}

static CqlValue
eval_children(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	out = cql_list_new(8);

	children_of(elm_eval(cx, n->args[0]), &out, false);
	return out;
}

static CqlValue
eval_descendents(EvalCtx *cx, const ElmNode *n)
{
	CqlValue	out = cql_list_new(16);

	children_of(elm_eval(cx, n->args[0]), &out, true);
	return out;
}

const ElmOpInfo elm_more_ops[] = {
	{"CanConvert", eval_can_convert},
	{"Children", eval_children},
	{"Concept", eval_concept},
	{"Convert", eval_convert},
	{"ConvertsToBoolean", eval_converts_to},
	{"ConvertsToDate", eval_converts_to},
	{"ConvertsToDateTime", eval_converts_to},
	{"ConvertsToDecimal", eval_converts_to},
	{"ConvertsToInteger", eval_converts_to},
	{"ConvertsToLong", eval_converts_to},
	{"ConvertsToQuantity", eval_converts_to},
	{"ConvertsToRatio", eval_converts_to},
	{"ConvertsToString", eval_converts_to},
	{"ConvertsToTime", eval_converts_to},
	{"Current", eval_current},
	{"Descendents", eval_descendents},
	{"Filter", eval_filter},
	{"ForEach", eval_for_each},
	{"GeometricMean", eval_geometric_mean},
	{"HighBoundary", eval_high_boundary},
	{"LastPositionOf", eval_last_position_of},
	{"Log", eval_log},
	{"LowBoundary", eval_low_boundary},
	{"Matches", eval_matches},
	{"Mode", eval_mode},
	{"PopulationStdDev", eval_population_stddev},
	{"PopulationVariance", eval_population_variance},
	{"Precision", eval_precision},
	{"Product", eval_product},
	{"Ratio", eval_ratio},
	{"Repeat", eval_repeat},
	{"ReplaceMatches", eval_replace_matches},
	{"Slice", eval_slice},
	{"SplitOnMatches", eval_split_on_matches},
	{"StdDev", eval_stddev},
	{"Times", eval_times},
	{"ToChars", eval_to_chars},
	{"ToLong", eval_to_long},
	{"Variance", eval_variance},
	{NULL, NULL}
};
