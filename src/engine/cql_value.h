/*
 * cql_value.h
 *		Run-time values of the CQL type system, as the ELM evaluator sees them.
 *
 * A CqlValue is a small by-value struct: scalars and Date/DateTime/Time live
 * inline, everything else points into the evaluation's memory context.  FHIR
 * data is never converted eagerly: a CK_FHIR value points into the stored
 * jsonb of the resource and carries its FHIR type name, so a property access
 * costs a binary search in the jsonb, not a parse.
 *
 * All values are allocated in CurrentMemoryContext, which the evaluator keeps
 * set to the per-patient context; nothing here frees memory.
 */
#ifndef CQL_VALUE_H
#define CQL_VALUE_H

#include "postgres.h"
#include "utils/jsonb.h"

#include "engine/cql_temporal.h"
#include "engine/cql_quantity.h"
#include "engine/cql_arena.h"

typedef enum CqlKind
{
	CK_NULL = 0,
	CK_BOOL,
	CK_INT,						/* System.Integer (and Long) */
	CK_DEC,						/* System.Decimal */
	CK_STR,
	CK_DATE,
	CK_DATETIME,
	CK_TIME,
	CK_QTY,
	CK_RATIO,
	CK_CODE,
	CK_CONCEPT,
	CK_INTERVAL,
	CK_LIST,
	CK_TUPLE,
	CK_FHIR,					/* an element or resource inside stored jsonb */
	CK_VALUESET,				/* a ValueSetRef with preserve = true */
	CK_CODESYSTEM,
	CK_UNCERTAIN				/* an Integer known only to lie in [low, high] (u.iv) */
} CqlKind;

typedef struct CqlCode
{
	const char *code;
	const char *system;
	const char *version;
	const char *display;
} CqlCode;

typedef struct CqlConcept
{
	int			ncodes;
	CqlCode    *codes;
	const char *display;
} CqlConcept;

struct CqlList;
struct CqlTuple;
struct CqlInterval;
struct CqlFhir;
struct CqlRatio;
struct ElmValueSet;

typedef struct CqlValue
{
	uint8		kind;			/* CqlKind */
	union
	{
		bool		b;
		int64		i;
		double		d;
		const char *s;
		CqlDateTime dt;
		CqlQuantity *q;
		struct CqlRatio *ratio;
		CqlCode    *code;
		CqlConcept *concept;
		struct CqlInterval *iv;
		struct CqlList *list;
		struct CqlTuple *tuple;
		struct CqlFhir *fhir;
		struct ElmValueSet *vs;
	}			u;
} CqlValue;

typedef struct CqlRatio
{
	CqlQuantity num;
	CqlQuantity den;
} CqlRatio;

typedef struct CqlInterval
{
	CqlValue	low;
	CqlValue	high;
	bool		low_closed;
	bool		high_closed;
} CqlInterval;

typedef struct CqlList
{
	int			n;
	int			cap;
	CqlValue   *items;
} CqlList;

typedef struct CqlTuple
{
	int			n;
	const char **names;
	CqlValue   *vals;
} CqlTuple;

/*
 * A FHIR value in stored jsonb.  `type` is the FHIR type name as in the model
 * table ("Encounter", "Period", "dateTime", "Observation.Component"), or NULL
 * when unknown.  `jv` is the element itself: jbvBinary for an object or array,
 * a scalar for a primitive.  `ext` is the primitive's "_name" sibling object
 * (extensions and id on a primitive), if any.
 */
typedef struct CqlFhir
{
	const char *type;
	JsonbValue	jv;
	JsonbContainer *ext;
	int8		underscore_keys;	/* has "_name" keys: 1 yes, -1 no, 0 not looked */
} CqlFhir;

/* ---- constructors ------------------------------------------------------ */

#define CQL_NULL_VALUE ((CqlValue) {.kind = CK_NULL})

static inline CqlValue
cql_bool(bool b)
{
	CqlValue	v = {.kind = CK_BOOL};

	v.u.b = b;
	return v;
}

static inline CqlValue
cql_int(int64 i)
{
	CqlValue	v = {.kind = CK_INT};

	v.u.i = i;
	return v;
}

static inline CqlValue
cql_dec(double d)
{
	CqlValue	v = {.kind = CK_DEC};

	v.u.d = d;
	return v;
}

static inline CqlValue
cql_str(const char *s)
{
	CqlValue	v = {.kind = CK_STR};

	v.u.s = s;
	return v;
}

static inline CqlValue
cql_temporal(CqlKind kind, const CqlDateTime *dt)
{
	CqlValue	v = {.kind = kind};

	v.u.dt = *dt;
	return v;
}

static inline bool
cql_is_null(CqlValue v)
{
	return v.kind == CK_NULL;
}

/*
 * The result of a duration or age computed from values less precise than
 * the unit: an Integer somewhere in [lo, hi] (CQL "uncertainty").
 * Comparisons with it are true or false when every value in the range
 * agrees, and null otherwise.
 */
extern CqlValue cql_uncertain(int64 lo, int64 hi);

/* a DateTime with a time part expressed in the evaluation's offset */
extern CqlValue cql_normalize_tz(CqlValue v);

static inline bool
cql_is_number(CqlValue v)
{
	return v.kind == CK_INT || v.kind == CK_DEC;
}

/* an Integer or Decimal as a double */
static inline double
cql_number(CqlValue v)
{
	return v.kind == CK_INT ? (double) v.u.i : v.u.d;
}

static inline bool
cql_is_temporal(CqlValue v)
{
	return v.kind == CK_DATE || v.kind == CK_DATETIME || v.kind == CK_TIME;
}

/* three-valued and */
static inline CqlTri
cql_tri_and(CqlTri a, CqlTri b)
{
	if (a == CQL_FALSE || b == CQL_FALSE)
		return CQL_FALSE;
	if (a == CQL_UNKNOWN || b == CQL_UNKNOWN)
		return CQL_UNKNOWN;
	return CQL_TRUE;
}

/* three-valued result as a CqlValue */
static inline CqlValue
cql_tri(CqlTri t)
{
	return t == CQL_UNKNOWN ? CQL_NULL_VALUE : cql_bool(t == CQL_TRUE);
}

extern CqlValue cql_quantity(double value, const char *unit);
extern CqlValue cql_code_value(const char *code, const char *system,
							   const char *version, const char *display);
extern CqlValue cql_interval(CqlValue low, CqlValue high, bool low_closed, bool high_closed);
extern void cql_list_append(CqlValue *list, CqlValue item);
extern CqlValue cql_tuple_new(int n);
extern CqlValue cql_fhir_value(const char *type, const JsonbValue *jv, JsonbContainer *ext);

/*
 * An empty list with room for cap items: the list and its first items in
 * one allocation (lists are made by the dozen per patient; inline, as the
 * allocation itself is).
 */
static inline CqlValue
cql_list_new(int cap)
{
	CqlValue	v = {.kind = CK_LIST};

	cap = Max(cap, 4);
	v.u.list = cql_alloc(sizeof(CqlList) + sizeof(CqlValue) * cap);
	v.u.list->n = 0;
	v.u.list->cap = cap;
	v.u.list->items = (CqlValue *) (v.u.list + 1);
	return v;
}

static inline int
cql_list_len(CqlValue v)
{
	return v.kind == CK_LIST ? v.u.list->n : 0;
}

/* ---- comparison -------------------------------------------------------- */

/* CQL '=': TRUE/FALSE/UNKNOWN */
extern CqlTri cql_equal(CqlValue a, CqlValue b);

/* CQL '~': never unknown */
extern bool cql_equivalent(CqlValue a, CqlValue b);

/*
 * Ordering for <, <=, >, >= and for intervals: returns false when the values
 * cannot be ordered for certain (null, uncertain precision, incomparable
 * units); otherwise *cmp = -1/0/1.  prec is a CqlPrecision or CQL_PREC_ALL
 * and only matters for temporal values.
 */
extern bool cql_compare(CqlValue a, CqlValue b, int prec, int *cmp);

/* a < b (lt), <= (lt, eq), > (gt), >= (gt, eq): three-valued, uncertainty-aware */
extern CqlTri cql_relation(CqlValue a, CqlValue b, int prec, bool lt, bool eq, bool gt);

/* total order used by sort and distinct (nulls first); never fails */
extern int	cql_sort_compare(CqlValue a, CqlValue b);

/* ---- conversion and output --------------------------------------------- */

/* human/FHIR-readable text of a scalar value (NULL for null and structures) */
extern char *cql_to_text(CqlValue v);

/* the value as jsonb (for evaluate_expression and evidence) */
extern char *cql_to_json_text(CqlValue v);
/* resources as {"reference": "Type/id"} (reports: evidence, supplemental data) */
extern char *cql_to_json_text_refs(CqlValue v);
extern Jsonb *cql_to_jsonb(CqlValue v);

/* the System/FHIR type name of a value, for error messages and overloads */
extern const char *cql_kind_name(CqlValue v);

/* the evaluation's default timezone offset, minutes (GUC-backed) */
extern int	cql_default_tz_minutes;

#endif							/* CQL_VALUE_H */
