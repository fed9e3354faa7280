/*
 * cql_value.c
 *		Constructors, equality, equivalence, ordering and output of CQL
 *		values.
 *
 * FHIR primitives met here (a CK_FHIR holding a scalar) are compared through
 * their System value, so `Patient.gender = 'female'` works whether or not the
 * translator inserted a FHIRHelpers conversion.
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "engine/cql_arena.h"
#include "engine/cql_value.h"
#include "engine/elm_ops.h"
#include "engine/fhir_data.h"

int			cql_default_tz_minutes = 0;

CqlValue
cql_quantity(double value, const char *unit)
{
	CqlValue	v = {.kind = CK_QTY};

	v.u.q = cql_alloc0(sizeof(CqlQuantity));
	if (!cql_qty_make(value, unit ? unit : "1", v.u.q))
	{
		v.u.q->value = value;
		strlcpy(v.u.q->unit, unit ? unit : "1", sizeof(v.u.q->unit));
	}
	return v;
}

CqlValue
cql_code_value(const char *code, const char *system, const char *version,
			   const char *display)
{
	CqlValue	v = {.kind = CK_CODE};

	v.u.code = cql_alloc(sizeof(CqlCode));
	v.u.code->code = code;
	v.u.code->system = system;
	v.u.code->version = version;
	v.u.code->display = display;
	return v;
}

CqlValue
cql_interval(CqlValue low, CqlValue high, bool low_closed, bool high_closed)
{
	CqlValue	v = {.kind = CK_INTERVAL};

	v.u.iv = cql_alloc(sizeof(CqlInterval));
	v.u.iv->low = low;
	v.u.iv->high = high;
	v.u.iv->low_closed = low_closed;
	v.u.iv->high_closed = high_closed;
	return v;
}

CqlValue
cql_uncertain(int64 lo, int64 hi)
{
	CqlValue	v;

	if (lo == hi)
		return cql_int(lo);
	v = cql_interval(cql_int(lo), cql_int(hi), true, true);
	v.kind = CK_UNCERTAIN;
	return v;
}

void
cql_list_append(CqlValue *list, CqlValue item)
{
	CqlList    *l = list->u.list;

	if (l->n == l->cap)
	{
		if (l->items == (CqlValue *) (l + 1))
		{
			CqlValue   *grown = palloc(sizeof(CqlValue) * l->cap * 2);

			memcpy(grown, l->items, sizeof(CqlValue) * l->n);
			l->items = grown;
		}
		else
			l->items = repalloc(l->items, sizeof(CqlValue) * l->cap * 2);
		l->cap *= 2;
	}
	l->items[l->n++] = item;
}

CqlValue
cql_tuple_new(int n)
{
	CqlValue	v = {.kind = CK_TUPLE};

	/* one allocation: the tuple, its values, its names */
	v.u.tuple = cql_alloc0(sizeof(CqlTuple) + sizeof(CqlValue) * Max(n, 1) + sizeof(char *) * Max(n, 1));
	v.u.tuple->n = n;
	v.u.tuple->vals = (CqlValue *) (v.u.tuple + 1);
	v.u.tuple->names = (const char **) (v.u.tuple->vals + Max(n, 1));
	return v;
}

CqlValue
cql_fhir_value(const char *type, const JsonbValue *jv, JsonbContainer *ext)
{
	CqlValue	v = {.kind = CK_FHIR};

	v.u.fhir = cql_alloc(sizeof(CqlFhir));
	v.u.fhir->type = type;
	v.u.fhir->jv = *jv;
	v.u.fhir->ext = ext;
	v.u.fhir->underscore_keys = 0;
	return v;
}

/*
 * DateTimes with a time part compare in one offset, the evaluation's:
 * @2022-02-22T00:00-05:00 and @2022-02-22T04:59Z are the same day in UTC.
 */
CqlValue
cql_normalize_tz(CqlValue v)
{
	if (v.kind == CK_DATETIME && v.u.dt.has_tz && v.u.dt.prec >= CQL_PREC_HOUR &&
		v.u.dt.tz_minutes != cql_default_tz_minutes)
	{
		CqlDateTime out;

		cql_dt_to_offset(&v.u.dt, (int16_t) cql_default_tz_minutes, &out);
		v.u.dt = out;
	}
	return v;
}

/* A FHIR primitive stands for its System value in comparisons. */
static CqlValue
unwrap(CqlValue v)
{
	if (v.kind == CK_DATETIME)
		return cql_normalize_tz(v);
	if (v.kind == CK_FHIR && v.u.fhir->jv.type != jbvBinary)
		return cql_normalize_tz(fhir_primitive_value(v.u.fhir));
	if (v.kind == CK_FHIR && v.u.fhir->type != NULL)
	{
		/* interned once: the tests below then compare pointers (most values' types are interned) */
		static const char *coding,
				   *concept,
				   *quantity;
		const char *t = v.u.fhir->type;

		if (quantity == NULL)
		{
			coding = fhir_type_intern("Coding");
			concept = fhir_type_intern("CodeableConcept");
			quantity = fhir_type_intern("Quantity");
		}
		/* Coding / CodeableConcept compare as Code / Concept, Quantity and its kinds as Quantity */
		if (t == coding || t == concept || fhir_type_is_a(t, quantity))
			return fhir_to_system(v);
		if (fhir_type_intern(t) != t &&
			(strcmp(t, "Coding") == 0 || strcmp(t, "CodeableConcept") == 0))
			return fhir_to_system(v);
	}
	return v;
}

static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static CqlTri
code_equal(const CqlCode *a, const CqlCode *b)
{
	/* tuple equality: every element, display included (only ~ ignores it) */
	return (str_eq(a->code, b->code) && str_eq(a->system, b->system) &&
			str_eq(a->version, b->version) && str_eq(a->display, b->display))
		? CQL_TRUE : CQL_FALSE;
}

CqlTri
cql_equal(CqlValue a, CqlValue b)
{
	a = unwrap(a);
	b = unwrap(b);
	if (a.kind == CK_NULL || b.kind == CK_NULL)
		return CQL_UNKNOWN;
	if (a.kind == CK_UNCERTAIN || b.kind == CK_UNCERTAIN)
	{
		int			lo,
					hi;

		/* equal only if both are the same single value: never for a range */
		if (!cql_compare(a, b, CQL_PREC_ALL, &lo))
		{
			CqlValue	u = a.kind == CK_UNCERTAIN ? a : b;
			CqlValue	x = a.kind == CK_UNCERTAIN ? b : a;

			if (x.kind == CK_UNCERTAIN)
				return CQL_UNKNOWN;
			if (!cql_compare(x, u.u.iv->low, CQL_PREC_ALL, &lo) ||
				!cql_compare(x, u.u.iv->high, CQL_PREC_ALL, &hi))
				return CQL_UNKNOWN;
			return (lo < 0 || hi > 0) ? CQL_FALSE : CQL_UNKNOWN;
		}
		return lo == 0 ? CQL_UNKNOWN : CQL_FALSE;
	}
	if (cql_is_number(a) && cql_is_number(b))
		return cql_number(a) == cql_number(b) ? CQL_TRUE : CQL_FALSE;
	if (cql_is_temporal(a) && cql_is_temporal(b))
		return cql_dt_equal(&a.u.dt, &b.u.dt);
	if (a.kind != b.kind)
	{
		if (a.kind == CK_CODE && b.kind == CK_CONCEPT)
			return cql_equal(b, a);
		if (a.kind == CK_CONCEPT && b.kind == CK_CODE)
			return (a.u.concept->ncodes == 1 &&
					code_equal(&a.u.concept->codes[0], b.u.code) == CQL_TRUE)
				? CQL_TRUE : CQL_FALSE;
		return CQL_FALSE;
	}
	switch (a.kind)
	{
		case CK_BOOL:
			return a.u.b == b.u.b ? CQL_TRUE : CQL_FALSE;
		case CK_STR:
			return strcmp(a.u.s, b.u.s) == 0 ? CQL_TRUE : CQL_FALSE;
		case CK_QTY:
			return cql_qty_equal(a.u.q, b.u.q);
		case CK_RATIO:
			return cql_tri_and(cql_qty_equal(&a.u.ratio->num, &b.u.ratio->num),
						   cql_qty_equal(&a.u.ratio->den, &b.u.ratio->den));
		case CK_CODE:
			return code_equal(a.u.code, b.u.code);
		case CK_CONCEPT:
			{
				CqlTri		r = CQL_TRUE;

				if (a.u.concept->ncodes != b.u.concept->ncodes)
					return CQL_FALSE;
				for (int i = 0; i < a.u.concept->ncodes; i++)
					r = cql_tri_and(r, code_equal(&a.u.concept->codes[i], &b.u.concept->codes[i]));
				return r;
			}
		case CK_INTERVAL:
			/* equal when they start and end at the same points: [1, 5) = [1, 4] */
			return cql_tri_and(cql_equal(elm_interval_start(a.u.iv), elm_interval_start(b.u.iv)),
						   cql_equal(elm_interval_end(a.u.iv), elm_interval_end(b.u.iv)));
		case CK_LIST:
			{
				CqlTri		r = CQL_TRUE;

				if (a.u.list->n != b.u.list->n)
					return CQL_FALSE;
				for (int i = 0; i < a.u.list->n && r != CQL_FALSE; i++)
				{
					CqlValue	x = a.u.list->items[i],
								y = b.u.list->items[i];

					/* nulls inside lists compare equal to each other */
					if (x.kind == CK_NULL && y.kind == CK_NULL)
						continue;
					r = cql_tri_and(r, cql_equal(x, y));
				}
				return r;
			}
		case CK_TUPLE:
			{
				CqlTri		r = CQL_TRUE;

				if (a.u.tuple->n != b.u.tuple->n)
					return CQL_FALSE;
				for (int i = 0; i < a.u.tuple->n && r != CQL_FALSE; i++)
				{
					CqlValue	x = a.u.tuple->vals[i],
								y = b.u.tuple->vals[i];

					if (!str_eq(a.u.tuple->names[i], b.u.tuple->names[i]))
						return CQL_FALSE;
					if (x.kind == CK_NULL && y.kind == CK_NULL)
						continue;
					r = cql_tri_and(r, cql_equal(x, y));
				}
				return r;
			}
		case CK_FHIR:
			return fhir_deep_equal(a.u.fhir, b.u.fhir) ? CQL_TRUE : CQL_FALSE;
		case CK_VALUESET:
			return a.u.vs == b.u.vs ? CQL_TRUE : CQL_FALSE;
		default:
			return CQL_FALSE;
	}
}

static bool
str_equiv(const char *a, const char *b)
{
	/* case-insensitive, all whitespace runs equal */
	while (*a && *b)
	{
		if (isspace((unsigned char) *a) && isspace((unsigned char) *b))
		{
			while (isspace((unsigned char) *a))
				a++;
			while (isspace((unsigned char) *b))
				b++;
			continue;
		}
		if (pg_tolower((unsigned char) *a) != pg_tolower((unsigned char) *b))
			return false;
		a++;
		b++;
	}
	return *a == *b;
}

static bool
code_equiv(const CqlCode *a, const CqlCode *b)
{
	return str_eq(a->code, b->code) && str_eq(a->system, b->system);
}

static bool
concept_has(const CqlConcept *c, const CqlCode *code)
{
	for (int i = 0; i < c->ncodes; i++)
		if (code_equiv(&c->codes[i], code))
			return true;
	return false;
}

bool
cql_equivalent(CqlValue a, CqlValue b)
{
	a = unwrap(a);
	b = unwrap(b);
	if (a.kind == CK_NULL || b.kind == CK_NULL)
		return a.kind == b.kind;
	if (cql_is_number(a) && cql_is_number(b))
		return fabs(cql_number(a) - cql_number(b)) < 0.000000005;
	if (cql_is_temporal(a) && cql_is_temporal(b))
		return cql_dt_equivalent(&a.u.dt, &b.u.dt);
	if (a.kind == CK_CODE && b.kind == CK_CONCEPT)
		return concept_has(b.u.concept, a.u.code);
	if (a.kind == CK_CONCEPT && b.kind == CK_CODE)
		return concept_has(a.u.concept, b.u.code);
	if (a.kind != b.kind)
		return false;
	switch (a.kind)
	{
		case CK_BOOL:
			return a.u.b == b.u.b;
		case CK_STR:
			return str_equiv(a.u.s, b.u.s);
		case CK_QTY:
			return cql_qty_equivalent(a.u.q, b.u.q);
		case CK_RATIO:
			return cql_qty_equivalent(&a.u.ratio->num, &b.u.ratio->num) &&
				cql_qty_equivalent(&a.u.ratio->den, &b.u.ratio->den);
		case CK_CODE:
			return code_equiv(a.u.code, b.u.code);
		case CK_CONCEPT:
			for (int i = 0; i < a.u.concept->ncodes; i++)
				if (concept_has(b.u.concept, &a.u.concept->codes[i]))
					return true;
			return false;
		case CK_INTERVAL:
			return cql_equivalent(elm_interval_start(a.u.iv), elm_interval_start(b.u.iv)) &&
				cql_equivalent(elm_interval_end(a.u.iv), elm_interval_end(b.u.iv));
		case CK_LIST:
			if (a.u.list->n != b.u.list->n)
				return false;
			for (int i = 0; i < a.u.list->n; i++)
				if (!cql_equivalent(a.u.list->items[i], b.u.list->items[i]))
					return false;
			return true;
		case CK_TUPLE:
			if (a.u.tuple->n != b.u.tuple->n)
				return false;
			for (int i = 0; i < a.u.tuple->n; i++)
				if (!str_eq(a.u.tuple->names[i], b.u.tuple->names[i]) ||
					!cql_equivalent(a.u.tuple->vals[i], b.u.tuple->vals[i]))
					return false;
			return true;
		case CK_FHIR:
			return fhir_deep_equal(a.u.fhir, b.u.fhir);
		case CK_VALUESET:
			return a.u.vs == b.u.vs;
		default:
			return false;
	}
}

/*
 * An uncertain value orders before/after another only when its whole range
 * does: compare the facing ends.
 */
static bool
uncertain_compare(CqlValue a, CqlValue b, int *cmp)
{
	CqlValue	alo = a.kind == CK_UNCERTAIN ? a.u.iv->low : a;
	CqlValue	ahi = a.kind == CK_UNCERTAIN ? a.u.iv->high : a;
	CqlValue	blo = b.kind == CK_UNCERTAIN ? b.u.iv->low : b;
	CqlValue	bhi = b.kind == CK_UNCERTAIN ? b.u.iv->high : b;
	int			c;

	if (cql_compare(ahi, blo, CQL_PREC_ALL, &c) && c < 0)
	{
		*cmp = -1;
		return true;
	}
	if (cql_compare(alo, bhi, CQL_PREC_ALL, &c) && c > 0)
	{
		*cmp = 1;
		return true;
	}
	return false;
}

bool
cql_compare(CqlValue a, CqlValue b, int prec, int *cmp)
{
	a = unwrap(a);
	b = unwrap(b);
	if (a.kind == CK_NULL || b.kind == CK_NULL)
		return false;
	if (a.kind == CK_UNCERTAIN || b.kind == CK_UNCERTAIN)
		return uncertain_compare(a, b, cmp);
	if (cql_is_number(a) && cql_is_number(b))
	{
		double		x = cql_number(a),
					y = cql_number(b);

		*cmp = x < y ? -1 : (x > y ? 1 : 0);
		return true;
	}
	if (cql_is_temporal(a) && cql_is_temporal(b))
		return cql_dt_compare(&a.u.dt, &b.u.dt, prec, cmp) == 0;
	if (a.kind == CK_STR && b.kind == CK_STR)
	{
		int			c = strcmp(a.u.s, b.u.s);

		*cmp = c < 0 ? -1 : (c > 0 ? 1 : 0);
		return true;
	}
	if (a.kind == CK_QTY && b.kind == CK_QTY)
		return cql_qty_compare(a.u.q, b.u.q, cmp) != CQL_UNKNOWN;
	if (a.kind == CK_BOOL && b.kind == CK_BOOL)
	{
		*cmp = (int) a.u.b - (int) b.u.b;
		return true;
	}
	return false;
}

/*
 * a R b for R one of <, <=, >, >= (lt/eq/gt flags), three-valued; with an
 * uncertain operand the relation is decided when it holds, or fails, for
 * every value of the range.
 */
CqlTri
cql_relation(CqlValue a, CqlValue b, int prec, bool lt, bool eq, bool gt)
{
	int			c;

	/* two Integers (ages, counts): compared as they are */
	if (a.kind == CK_INT && b.kind == CK_INT)
	{
		c = (a.u.i > b.u.i) - (a.u.i < b.u.i);
		return ((c < 0 && lt) || (c == 0 && eq) || (c > 0 && gt)) ? CQL_TRUE : CQL_FALSE;
	}
	a = unwrap(a);
	b = unwrap(b);
	if (a.kind == CK_UNCERTAIN || b.kind == CK_UNCERTAIN)
	{
		CqlValue	alo = a.kind == CK_UNCERTAIN ? a.u.iv->low : a;
		CqlValue	ahi = a.kind == CK_UNCERTAIN ? a.u.iv->high : a;
		CqlValue	blo = b.kind == CK_UNCERTAIN ? b.u.iv->low : b;
		CqlValue	bhi = b.kind == CK_UNCERTAIN ? b.u.iv->high : b;
		int			c1,
					c2;

		/* c1: the smallest a against the largest b; c2: the largest a against the smallest b */
		if (!cql_compare(alo, bhi, prec, &c1) || !cql_compare(ahi, blo, prec, &c2))
			return CQL_UNKNOWN;
		if (lt && !gt)
		{
			if ((eq ? c2 <= 0 : c2 < 0))
				return CQL_TRUE;
			if ((eq ? c1 > 0 : c1 >= 0))
				return CQL_FALSE;
			return CQL_UNKNOWN;
		}
		if (gt && !lt)
		{
			if ((eq ? c1 >= 0 : c1 > 0))
				return CQL_TRUE;
			if ((eq ? c2 < 0 : c2 <= 0))
				return CQL_FALSE;
			return CQL_UNKNOWN;
		}
		return CQL_UNKNOWN;
	}
	if (!cql_compare(a, b, prec, &c))
		return CQL_UNKNOWN;
	return ((c < 0 && lt) || (c == 0 && eq) || (c > 0 && gt)) ? CQL_TRUE : CQL_FALSE;
}

int
cql_sort_compare(CqlValue a, CqlValue b)
{
	int			cmp;

	a = unwrap(a);
	b = unwrap(b);
	if (a.kind == CK_NULL || b.kind == CK_NULL)
		return (a.kind != CK_NULL) - (b.kind != CK_NULL);
	if (cql_compare(a, b, CQL_PREC_ALL, &cmp))
		return cmp;
	if (cql_is_temporal(a) && cql_is_temporal(b))
	{
		/* uncertain: order by the earliest instant each could be */
		CqlDateTime x,
					y;

		cql_dt_low_boundary(&a.u.dt, CQL_PREC_MILLISECOND, &x);
		cql_dt_low_boundary(&b.u.dt, CQL_PREC_MILLISECOND, &y);
		if (cql_dt_compare(&x, &y, CQL_PREC_ALL, &cmp) == 0 && cmp != 0)
			return cmp;
		return (int) a.u.dt.prec - (int) b.u.dt.prec;
	}
	if (a.kind != b.kind)
		return (int) a.kind - (int) b.kind;
	switch (a.kind)
	{
		case CK_CODE:
			cmp = strcmp(a.u.code->system ? a.u.code->system : "", b.u.code->system ? b.u.code->system : "");
			return cmp ? cmp : strcmp(a.u.code->code ? a.u.code->code : "", b.u.code->code ? b.u.code->code : "");
		case CK_INTERVAL:
			cmp = cql_sort_compare(a.u.iv->low, b.u.iv->low);
			return cmp ? cmp : cql_sort_compare(a.u.iv->high, b.u.iv->high);
		case CK_FHIR:
			return fhir_sort_compare(a.u.fhir, b.u.fhir);
		default:
			return 0;
	}
}

const char *
cql_kind_name(CqlValue v)
{
	static const char *const names[] = {
		"Null", "Boolean", "Integer", "Decimal", "String", "Date", "DateTime",
		"Time", "Quantity", "Ratio", "Code", "Concept", "Interval", "List",
		"Tuple", "FHIR", "ValueSet", "CodeSystem", "Uncertainty"
	};

	if (v.kind == CK_FHIR && v.u.fhir->type)
		return v.u.fhir->type;
	return v.kind < lengthof(names) ? names[v.kind] : "?";
}

char *
cql_to_text(CqlValue v)
{
	char		buf[128];

	v = unwrap(v);
	switch (v.kind)
	{
		case CK_BOOL:
			return pstrdup(v.u.b ? "true" : "false");
		case CK_INT:
			return psprintf(INT64_FORMAT, v.u.i);
		case CK_DEC:
			{
				/* CQL decimals carry at most 8 places; trim trailing zeros */
				char	   *s = psprintf("%.8f", v.u.d);
				char	   *e = s + strlen(s) - 1;

				while (*e == '0' && e[-1] != '.')
					*e-- = '\0';
				return s;
			}
		case CK_STR:
			return pstrdup(v.u.s);
		case CK_DATE:
			cql_dt_format(&v.u.dt, 'D', buf, sizeof(buf));
			return pstrdup(buf);
		case CK_DATETIME:
			cql_dt_format(&v.u.dt, 'T', buf, sizeof(buf));
			return pstrdup(buf);
		case CK_TIME:
			cql_dt_format(&v.u.dt, 'H', buf, sizeof(buf));
			return pstrdup(buf);
		case CK_QTY:
			cql_qty_format(v.u.q, buf, sizeof(buf));
			return pstrdup(buf);
		case CK_CODE:
			return pstrdup(v.u.code->code ? v.u.code->code : "");
		default:
			return NULL;
	}
}

/* ---- JSON output ------------------------------------------------------ */

/* when set, whole resources print as {"reference": "Type/id"} */
static bool json_resources_as_references = false;

static void
json_value(StringInfo out, CqlValue v)
{
	char	   *t;

	if (v.kind == CK_FHIR)
	{
		if (v.u.fhir->jv.type == jbvBinary && json_resources_as_references &&
			v.u.fhir->type && fhir_type_is_a(v.u.fhir->type, "Resource"))
		{
			const char *id = fhir_resource_id(v.u.fhir);

			if (id)
			{
				appendStringInfoString(out, "{\"reference\": ");
				escape_json(out, psprintf("%s/%s", v.u.fhir->type, id));
				appendStringInfoChar(out, '}');
				return;
			}
		}
		if (v.u.fhir->jv.type == jbvBinary)
		{
			(void) JsonbToCString(out, v.u.fhir->jv.val.binary.data,
								  v.u.fhir->jv.val.binary.len);
			return;
		}
		v = unwrap(v);
	}
	switch (v.kind)
	{
		case CK_NULL:
			appendStringInfoString(out, "null");
			return;
		case CK_BOOL:
		case CK_INT:
		case CK_DEC:
			t = cql_to_text(v);
			appendStringInfoString(out, t);
			return;
		case CK_STR:
		case CK_DATE:
		case CK_DATETIME:
		case CK_TIME:
			t = cql_to_text(v);
			escape_json(out, t);
			return;
		case CK_QTY:
			appendStringInfo(out, "{\"value\": %s, \"unit\": ", cql_to_text(cql_dec(v.u.q->value)));
			escape_json(out, v.u.q->unit);
			appendStringInfoChar(out, '}');
			return;
		case CK_RATIO:
			appendStringInfoString(out, "{\"numerator\": ");
			json_value(out, cql_quantity(v.u.ratio->num.value, v.u.ratio->num.unit));
			appendStringInfoString(out, ", \"denominator\": ");
			json_value(out, cql_quantity(v.u.ratio->den.value, v.u.ratio->den.unit));
			appendStringInfoChar(out, '}');
			return;
		case CK_CODE:
			appendStringInfoString(out, "{\"code\": ");
			escape_json(out, v.u.code->code ? v.u.code->code : "");
			if (v.u.code->system)
			{
				appendStringInfoString(out, ", \"system\": ");
				escape_json(out, v.u.code->system);
			}
			if (v.u.code->display)
			{
				appendStringInfoString(out, ", \"display\": ");
				escape_json(out, v.u.code->display);
			}
			appendStringInfoChar(out, '}');
			return;
		case CK_CONCEPT:
			appendStringInfoString(out, "{\"codes\": [");
			for (int i = 0; i < v.u.concept->ncodes; i++)
			{
				CqlValue	c = {.kind = CK_CODE};

				c.u.code = &v.u.concept->codes[i];
				if (i)
					appendStringInfoString(out, ", ");
				json_value(out, c);
			}
			appendStringInfoChar(out, ']');
			if (v.u.concept->display)
			{
				appendStringInfoString(out, ", \"display\": ");
				escape_json(out, v.u.concept->display);
			}
			appendStringInfoChar(out, '}');
			return;
		case CK_UNCERTAIN:
		case CK_INTERVAL:
			appendStringInfoString(out, "{\"low\": ");
			json_value(out, v.u.iv->low);
			appendStringInfo(out, ", \"lowClosed\": %s, \"high\": ",
							 v.u.iv->low_closed ? "true" : "false");
			json_value(out, v.u.iv->high);
			appendStringInfo(out, ", \"highClosed\": %s}",
							 v.u.iv->high_closed ? "true" : "false");
			return;
		case CK_LIST:
			appendStringInfoChar(out, '[');
			for (int i = 0; i < v.u.list->n; i++)
			{
				if (i)
					appendStringInfoString(out, ", ");
				json_value(out, v.u.list->items[i]);
			}
			appendStringInfoChar(out, ']');
			return;
		case CK_TUPLE:
			appendStringInfoChar(out, '{');
			for (int i = 0; i < v.u.tuple->n; i++)
			{
				if (i)
					appendStringInfoString(out, ", ");
				escape_json(out, v.u.tuple->names[i]);
				appendStringInfoString(out, ": ");
				json_value(out, v.u.tuple->vals[i]);
			}
			appendStringInfoChar(out, '}');
			return;
		case CK_VALUESET:
			appendStringInfoString(out, "{\"valueset\": ");
			escape_json(out, v.u.vs->url);
			appendStringInfoChar(out, '}');
			return;
		default:
			appendStringInfoString(out, "null");
			return;
	}
}

char *
cql_to_json_text(CqlValue v)
{
	StringInfoData out;

	initStringInfo(&out);
	json_value(&out, v);
	return out.data;
}

/* the same, with resources named by reference instead of copied whole */
char *
cql_to_json_text_refs(CqlValue v)
{
	StringInfoData out;

	initStringInfo(&out);
	json_resources_as_references = true;
	PG_TRY();
	{
		json_value(&out, v);
	}
	PG_FINALLY();
	{
		json_resources_as_references = false;
	}
	PG_END_TRY();
	return out.data;
}

Jsonb *
cql_to_jsonb(CqlValue v)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
											  CStringGetDatum(cql_to_json_text(v))));
}
