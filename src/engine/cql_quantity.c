/*
 * cql_quantity.c
 *		CQL Quantity semantics over a small UCUM unit parser.
 *
 * A unit string is parsed (UCUM grammar, evaluated left to right) into a
 * scale factor and exponents over the base dimensions below; two units
 * convert when their exponents match.  The atom table covers what quality
 * measures use; an unknown atom makes the unit unknown (never guessed).
 * Pure C99, no PostgreSQL headers, no allocation, no global state.
 */
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cql_quantity.h"

/* base dimensions: gram, metre, second, mole, international unit, kelvin */
#define N_DIMS 6

typedef struct UnitValue
{
	double		factor;
	int			dim[N_DIMS];
} UnitValue;

typedef struct UnitAtom
{
	const char *symbol;
	double		factor;
	int			dim[N_DIMS];
	bool		metric;			/* accepts SI prefixes */
} UnitAtom;

static const UnitAtom unit_atoms[] = {
	{"g", 1.0, {1, 0, 0, 0, 0, 0}, true},
	{"m", 1.0, {0, 1, 0, 0, 0, 0}, true},
	{"s", 1.0, {0, 0, 1, 0, 0, 0}, true},
	{"mol", 1.0, {0, 0, 0, 1, 0, 0}, true},
	{"eq", 1.0, {0, 0, 0, 1, 0, 0}, true},
	{"osm", 1.0, {0, 0, 0, 1, 0, 0}, true},
	{"K", 1.0, {0, 0, 0, 0, 0, 1}, true},
	{"L", 1e-3, {0, 3, 0, 0, 0, 0}, true},
	{"l", 1e-3, {0, 3, 0, 0, 0, 0}, true},
	{"[iU]", 1.0, {0, 0, 0, 0, 1, 0}, true},
	{"[IU]", 1.0, {0, 0, 0, 0, 1, 0}, true},
	{"U", 1e-6 / 60.0, {0, 0, -1, 1, 0, 0}, true},
	{"kat", 1.0, {0, 0, -1, 1, 0, 0}, true},
	{"Pa", 1e3, {1, -1, -2, 0, 0, 0}, true},
	{"bar", 1e8, {1, -1, -2, 0, 0, 0}, true},
	{"m[Hg]", 133.322e6, {1, -1, -2, 0, 0, 0}, true},
	{"m[H2O]", 9.80665e6, {1, -1, -2, 0, 0, 0}, true},
	{"J", 1e3, {1, 2, -2, 0, 0, 0}, true},
	{"cal", 4184.0, {1, 2, -2, 0, 0, 0}, true},
	{"min", 60.0, {0, 0, 1, 0, 0, 0}, false},
	{"h", 3600.0, {0, 0, 1, 0, 0, 0}, false},
	{"d", 86400.0, {0, 0, 1, 0, 0, 0}, false},
	{"wk", 604800.0, {0, 0, 1, 0, 0, 0}, false},
	{"mo", 2629800.0, {0, 0, 1, 0, 0, 0}, false},
	{"mo_j", 2629800.0, {0, 0, 1, 0, 0, 0}, false},
	{"mo_g", 2629746.0, {0, 0, 1, 0, 0, 0}, false},
	{"a", 31557600.0, {0, 0, 1, 0, 0, 0}, false},
	{"a_j", 31557600.0, {0, 0, 1, 0, 0, 0}, false},
	{"a_g", 31556952.0, {0, 0, 1, 0, 0, 0}, false},
	{"%", 0.01, {0, 0, 0, 0, 0, 0}, false},
	{"[ppth]", 1e-3, {0, 0, 0, 0, 0, 0}, false},
	{"[ppm]", 1e-6, {0, 0, 0, 0, 0, 0}, false},
	{"[in_i]", 0.0254, {0, 1, 0, 0, 0, 0}, false},
	{"[ft_i]", 0.3048, {0, 1, 0, 0, 0, 0}, false},
	{"[mi_i]", 1609.344, {0, 1, 0, 0, 0, 0}, false},
	{"[lb_av]", 453.59237, {1, 0, 0, 0, 0, 0}, false},
	{"[oz_av]", 28.349523125, {1, 0, 0, 0, 0, 0}, false},
};

typedef struct UnitPrefix
{
	const char *symbol;
	double		factor;
} UnitPrefix;

/* two-letter "da" first so that it wins over "d" */
static const UnitPrefix unit_prefixes[] = {
	{"da", 1e1}, {"Y", 1e24}, {"Z", 1e21}, {"E", 1e18}, {"P", 1e15},
	{"T", 1e12}, {"G", 1e9}, {"M", 1e6}, {"k", 1e3}, {"h", 1e2},
	{"d", 1e-1}, {"c", 1e-2}, {"m", 1e-3}, {"u", 1e-6}, {"n", 1e-9},
	{"p", 1e-12}, {"f", 1e-15}, {"a", 1e-18},
};

/* CQL calendar word units and the UCUM unit each stands for */
typedef struct WordUnit
{
	const char *singular;
	const char *plural;
	const char *ucum;
	CqlPrecision prec;
} WordUnit;

static const WordUnit word_units[] = {
	{"year", "years", "a_g", CQL_PREC_YEAR},
	{"month", "months", "mo_g", CQL_PREC_MONTH},
	{"week", "weeks", "wk", CQL_PREC_WEEK},
	{"day", "days", "d", CQL_PREC_DAY},
	{"hour", "hours", "h", CQL_PREC_HOUR},
	{"minute", "minutes", "min", CQL_PREC_MINUTE},
	{"second", "seconds", "s", CQL_PREC_SECOND},
	{"millisecond", "milliseconds", "ms", CQL_PREC_MILLISECOND},
};

#define N_ELEMS(a) ((int) (sizeof(a) / sizeof((a)[0])))

/* ---- unit parsing ---------------------------------------------------------- */

typedef struct UnitScan
{
	const char *s;
	int			pos;
	int			len;
} UnitScan;

static void
unit_one(UnitValue *v)
{
	memset(v, 0, sizeof(*v));
	v->factor = 1.0;
}

static void
unit_combine(UnitValue *acc, const UnitValue *x, int sign)
{
	int			i;

	if (sign > 0)
		acc->factor *= x->factor;
	else
		acc->factor /= x->factor;
	for (i = 0; i < N_DIMS; i++)
		acc->dim[i] += sign * x->dim[i];
}

static void
unit_power(UnitValue *v, int exponent)
{
	int			i;

	v->factor = pow(v->factor, exponent);
	for (i = 0; i < N_DIMS; i++)
		v->dim[i] *= exponent;
}

static const UnitAtom *
find_atom(const char *sym, int len)
{
	int			i;

	for (i = 0; i < N_ELEMS(unit_atoms); i++)
	{
		if ((int) strlen(unit_atoms[i].symbol) == len &&
			memcmp(unit_atoms[i].symbol, sym, len) == 0)
			return &unit_atoms[i];
	}
	return NULL;
}

/* an atom, or a prefix followed by a metric atom */
static bool
lookup_symbol(const char *sym, int len, UnitValue *out)
{
	const UnitAtom *atom = find_atom(sym, len);
	int			i;

	if (atom != NULL)
	{
		out->factor = atom->factor;
		memcpy(out->dim, atom->dim, sizeof(out->dim));
		return true;
	}
	for (i = 0; i < N_ELEMS(unit_prefixes); i++)
	{
		int			pl = (int) strlen(unit_prefixes[i].symbol);

		if (pl < len && memcmp(unit_prefixes[i].symbol, sym, pl) == 0)
		{
			atom = find_atom(sym + pl, len - pl);
			if (atom != NULL && atom->metric)
			{
				out->factor = unit_prefixes[i].factor * atom->factor;
				memcpy(out->dim, atom->dim, sizeof(out->dim));
				return true;
			}
		}
	}
	return false;
}

static bool
scan_peek(const UnitScan *sc, char c)
{
	return sc->pos < sc->len && sc->s[sc->pos] == c;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* optional signed integer exponent; *present false when none */
static bool
scan_exponent(UnitScan *sc, int *exponent, bool *present)
{
	int			sign = 1;
	int			start = sc->pos;
	int			v = 0;

	*present = false;
	if (scan_peek(sc, '+') || scan_peek(sc, '-'))
	{
		sign = sc->s[sc->pos] == '-' ? -1 : 1;
		sc->pos++;
	}
	if (sc->pos >= sc->len || !is_digit(sc->s[sc->pos]))
	{
		sc->pos = start;		/* a sign alone is not an exponent */
		return true;
	}
	while (sc->pos < sc->len && is_digit(sc->s[sc->pos]))
	{
		v = v * 10 + (sc->s[sc->pos] - '0');
		if (v > 99)
			return false;
		sc->pos++;
	}
	*exponent = sign * v;
	*present = true;
	return true;
}

/* {annotation}: skipped; false if unterminated */
static bool
skip_annotation(UnitScan *sc)
{
	if (!scan_peek(sc, '{'))
		return true;
	while (sc->pos < sc->len && sc->s[sc->pos] != '}')
		sc->pos++;
	if (sc->pos >= sc->len)
		return false;
	sc->pos++;
	return true;
}

static bool parse_term(UnitScan *sc, UnitValue *out);

static bool
parse_component(UnitScan *sc, UnitValue *out)
{
	unit_one(out);
	if (sc->pos >= sc->len)
		return false;
	if (scan_peek(sc, '('))
	{
		sc->pos++;
		if (!parse_term(sc, out) || !scan_peek(sc, ')'))
			return false;
		sc->pos++;
		return true;
	}
	if (scan_peek(sc, '{'))
		return skip_annotation(sc);
	if (is_digit(sc->s[sc->pos]))
	{
		double		num = 0;

		while (sc->pos < sc->len && is_digit(sc->s[sc->pos]))
		{
			num = num * 10 + (sc->s[sc->pos] - '0');
			sc->pos++;
		}
		if (scan_peek(sc, '*') || scan_peek(sc, '^'))
		{
			int			e;
			bool		present;

			sc->pos++;
			if (!scan_exponent(sc, &e, &present) || !present)
				return false;
			num = pow(num, e);
		}
		if (num == 0)
			return false;
		out->factor = num;
		return skip_annotation(sc);
	}
	else
	{
		int			start = sc->pos;
		int			e;
		bool		present;

		while (sc->pos < sc->len)
		{
			char		c = sc->s[sc->pos];

			if (c == '[')
			{
				while (sc->pos < sc->len && sc->s[sc->pos] != ']')
					sc->pos++;
				if (sc->pos >= sc->len)
					return false;
				sc->pos++;
				continue;
			}
			if (c == '.' || c == '/' || c == '(' || c == ')' || c == '{' ||
				c == '}' || c == '+' || c == '-' || c == ' ' || is_digit(c))
				break;
			sc->pos++;
		}
		if (sc->pos == start)
			return false;
		if (!lookup_symbol(sc->s + start, sc->pos - start, out))
			return false;
		if (!scan_exponent(sc, &e, &present))
			return false;
		if (present)
			unit_power(out, e);
		return skip_annotation(sc);
	}
}

static bool
parse_term(UnitScan *sc, UnitValue *out)
{
	UnitValue	c;

	unit_one(out);
	if (scan_peek(sc, '/'))
	{
		sc->pos++;
		if (!parse_component(sc, &c))
			return false;
		unit_combine(out, &c, -1);
	}
	else
	{
		if (!parse_component(sc, out))
			return false;
	}
	for (;;)
	{
		int			sign;

		if (scan_peek(sc, '.'))
			sign = 1;
		else if (scan_peek(sc, '/'))
			sign = -1;
		else
			break;
		sc->pos++;
		if (!parse_component(sc, &c))
			return false;
		unit_combine(out, &c, sign);
	}
	return true;
}

static const WordUnit *
find_word_unit(const char *unit)
{
	int			i;

	for (i = 0; i < N_ELEMS(word_units); i++)
	{
		if (strcmp(unit, word_units[i].singular) == 0 ||
			strcmp(unit, word_units[i].plural) == 0)
			return &word_units[i];
	}
	return NULL;
}

static bool
is_unity_text(const char *unit)
{
	return unit == NULL || unit[0] == '\0' || strcmp(unit, "1") == 0;
}

static bool parse_unit_text(const char *unit, UnitValue *out);

/*
 * Units parsed, the last few remembered by their text: a measure converts
 * the same few units ("d", "mo", "day") for every row of every patient.
 */
#define UNIT_MEMO 8

static bool
parse_unit(const char *unit, UnitValue *out)
{
	static struct
	{
		char		text[CQL_UNIT_LEN];
		bool		ok;
		UnitValue	value;
	}			memo[UNIT_MEMO];
	static int	nmemo = 0,
				next = 0;
	bool		ok;

	if (unit != NULL && strlen(unit) < CQL_UNIT_LEN)
	{
		for (int i = 0; i < nmemo; i++)
			if (strcmp(memo[i].text, unit) == 0)
			{
				*out = memo[i].value;
				return memo[i].ok;
			}
		ok = parse_unit_text(unit, out);
		strcpy(memo[next].text, unit);
		memo[next].ok = ok;
		memo[next].value = *out;
		next = (next + 1) % UNIT_MEMO;
		if (nmemo < UNIT_MEMO)
			nmemo++;
		return ok;
	}
	return parse_unit_text(unit, out);
}

static bool
parse_unit_text(const char *unit, UnitValue *out)
{
	UnitScan	sc;
	const WordUnit *w;

	if (is_unity_text(unit))
	{
		unit_one(out);
		return true;
	}
	w = find_word_unit(unit);
	if (w != NULL)
		unit = w->ucum;
	sc.s = unit;
	sc.pos = 0;
	sc.len = (int) strlen(unit);
	if (!parse_term(&sc, out))
		return false;
	return sc.pos == sc.len && out->factor > 0 && isfinite(out->factor);
}

static bool
same_dims(const UnitValue *a, const UnitValue *b)
{
	return memcmp(a->dim, b->dim, sizeof(a->dim)) == 0;
}

/* ---- public API ---------------------------------------------------------------- */

bool
cql_qty_make(double value, const char *unit, CqlQuantity *out)
{
	size_t		n = unit == NULL ? 0 : strlen(unit);

	if (n >= CQL_UNIT_LEN)
		return false;
	out->value = value;
	memset(out->unit, 0, sizeof(out->unit));
	if (n > 0)
		memcpy(out->unit, unit, n);
	return true;
}

bool
cql_qty_unit_known(const char *unit)
{
	UnitValue	v;

	return parse_unit(unit, &v);
}

bool
cql_qty_convertible(const char *from_unit, const char *to_unit)
{
	UnitValue	a,
				b;

	return parse_unit(from_unit, &a) && parse_unit(to_unit, &b) && same_dims(&a, &b);
}

/* value of q expressed in to_unit; false if not convertible */
static bool
convert_value(double value, const char *from, const char *to, double *out)
{
	UnitValue	a,
				b;

	if (strcmp(from, to) == 0 || (is_unity_text(from) && is_unity_text(to)))
	{
		*out = value;
		return true;
	}
	if (!parse_unit(from, &a) || !parse_unit(to, &b) || !same_dims(&a, &b))
		return false;
	if (a.factor == b.factor)
		*out = value;
	else
		*out = value * a.factor / b.factor;
	return isfinite(*out);
}

bool
cql_qty_convert(const CqlQuantity *q, const char *to_unit, CqlQuantity *out)
{
	double		v;

	if (!convert_value(q->value, q->unit, to_unit, &v))
		return false;
	return cql_qty_make(v, to_unit, out);
}

/* equal up to conversion noise */
static bool
values_close(double a, double b)
{
	double		scale = fabs(a) > fabs(b) ? fabs(a) : fabs(b);

	return a == b || fabs(a - b) <= 1e-10 * scale;
}

CqlTri
cql_qty_compare(const CqlQuantity *a, const CqlQuantity *b, int *result)
{
	double		bv;

	if (!convert_value(b->value, b->unit, a->unit, &bv))
		return CQL_UNKNOWN;
	if (values_close(a->value, bv))
		*result = 0;
	else
		*result = a->value < bv ? -1 : 1;
	return CQL_TRUE;
}

CqlTri
cql_qty_equal(const CqlQuantity *a, const CqlQuantity *b)
{
	int			r;

	if (cql_qty_compare(a, b, &r) != CQL_TRUE)
		return CQL_UNKNOWN;
	return r == 0 ? CQL_TRUE : CQL_FALSE;
}

/*
 * Shortest decimal text that reads back as v, in plain (not exponent)
 * notation for ordinary magnitudes: 1000, 0.1, 2.5.
 */
static void
shortest_text(double v, char *buf, size_t buflen)
{
	int			digits;
	double		mag = fabs(v);

	for (digits = 1; digits < 17; digits++)
	{
		snprintf(buf, buflen, "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (strchr(buf, 'e') != NULL && mag >= 1e-7 && mag < 1e16)
	{
		int			exp10 = (int) floor(log10(mag));
		int			decimals = digits - 1 - exp10;

		snprintf(buf, buflen, "%.*f", decimals < 0 ? 0 : decimals, v);
	}
}

/* decimal places of the shortest text that reads back as v (max 10) */
static int
decimal_places(double v)
{
	char		buf[64];
	char	   *dot;
	char	   *end;
	int			digits;

	shortest_text(v, buf, sizeof(buf));
	if (strchr(buf, 'e') != NULL)
		return 10;
	dot = strchr(buf, '.');
	if (dot == NULL)
		return 0;
	end = buf + strlen(buf);
	while (end > dot + 1 && end[-1] == '0')
		end--;
	digits = (int) (end - dot - 1);
	return digits > 10 ? 10 : digits;
}

static double
round_to_places(double v, int places)
{
	double		p = pow(10.0, places);

	return round(v * p) / p;
}

bool
cql_qty_equivalent(const CqlQuantity *a, const CqlQuantity *b)
{
	double		bv;
	int			pa,
				pb,
				p;

	if (!convert_value(b->value, b->unit, a->unit, &bv))
		return false;
	/* conversion noise (0.30000000000000004) must not add precision */
	bv = round_to_places(bv, 10);
	pa = decimal_places(a->value);
	pb = decimal_places(bv);
	p = pa < pb ? pa : pb;
	return values_close(round_to_places(a->value, p), round_to_places(bv, p));
}

/* pick the finer of two convertible units and express both values in it */
static bool
common_unit(const CqlQuantity *a, const CqlQuantity *b,
			double *av, double *bv, const char **unit)
{
	UnitValue	ua,
				ub;

	if (strcmp(a->unit, b->unit) == 0 || (is_unity_text(a->unit) && is_unity_text(b->unit)))
	{
		*av = a->value;
		*bv = b->value;
		*unit = a->unit;
		return true;
	}
	if (!parse_unit(a->unit, &ua) || !parse_unit(b->unit, &ub) || !same_dims(&ua, &ub))
		return false;
	if (ub.factor < ua.factor)
	{
		*av = a->value * ua.factor / ub.factor;
		*bv = b->value;
		*unit = b->unit;
	}
	else
	{
		*av = a->value;
		*bv = b->value * ub.factor / ua.factor;
		*unit = a->unit;
	}
	return true;
}

/* round away binary noise from a unit conversion (cql-execution keeps 8 places) */
static double
clean_value(double v)
{
	double		r = round_to_places(v, 8);

	return fabs(r - v) < 1e-9 * (fabs(v) > 1 ? fabs(v) : 1) ? r : v;
}

bool
cql_qty_add(const CqlQuantity *a, const CqlQuantity *b, CqlQuantity *out)
{
	double		av,
				bv;
	const char *unit;
	char		ubuf[CQL_UNIT_LEN];

	if (!common_unit(a, b, &av, &bv, &unit))
		return false;
	if (!isfinite(av + bv))
		return false;
	snprintf(ubuf, sizeof(ubuf), "%s", unit);
	return cql_qty_make(clean_value(av + bv), ubuf, out);
}

bool
cql_qty_subtract(const CqlQuantity *a, const CqlQuantity *b, CqlQuantity *out)
{
	double		av,
				bv;
	const char *unit;
	char		ubuf[CQL_UNIT_LEN];

	if (!common_unit(a, b, &av, &bv, &unit))
		return false;
	if (!isfinite(av - bv))
		return false;
	snprintf(ubuf, sizeof(ubuf), "%s", unit);
	return cql_qty_make(clean_value(av - bv), ubuf, out);
}

void
cql_qty_negate(const CqlQuantity *a, CqlQuantity *out)
{
	*out = *a;
	out->value = -a->value;
}

/* a unit that can take an exponent suffix or be joined without parentheses */
static bool
is_simple_unit(const char *u)
{
	return strpbrk(u, "./(){}") == NULL;
}

static bool
ends_with_digit(const char *u)
{
	size_t		n = strlen(u);

	return n > 0 && is_digit(u[n - 1]);
}

/* UCUM text for a unit used as the right operand of '.' or '/' */
static void
operand_text(const char *u, char *buf, size_t buflen)
{
	if (is_simple_unit(u))
		snprintf(buf, buflen, "%s", u);
	else
		snprintf(buf, buflen, "(%s)", u);
}

bool
cql_qty_multiply(const CqlQuantity *a, const CqlQuantity *b, CqlQuantity *out)
{
	char		ubuf[3 * CQL_UNIT_LEN];
	char		rhs[CQL_UNIT_LEN + 2];
	double		v = a->value * b->value;

	if (!isfinite(v))
		return false;
	if (is_unity_text(b->unit))
		snprintf(ubuf, sizeof(ubuf), "%s", a->unit);
	else if (is_unity_text(a->unit))
		snprintf(ubuf, sizeof(ubuf), "%s", b->unit);
	else if (strcmp(a->unit, b->unit) == 0 && is_simple_unit(a->unit) &&
			 !ends_with_digit(a->unit) && find_word_unit(a->unit) == NULL)
		snprintf(ubuf, sizeof(ubuf), "%s2", a->unit);
	else
	{
		const WordUnit *wa = find_word_unit(a->unit);
		const WordUnit *wb = find_word_unit(b->unit);

		operand_text(wb ? wb->ucum : b->unit, rhs, sizeof(rhs));
		snprintf(ubuf, sizeof(ubuf), "%s.%s", wa ? wa->ucum : a->unit, rhs);
	}
	if (strlen(ubuf) >= CQL_UNIT_LEN)
		return false;
	return cql_qty_make(clean_value(v), ubuf, out);
}

bool
cql_qty_divide(const CqlQuantity *a, const CqlQuantity *b, CqlQuantity *out)
{
	char		ubuf[3 * CQL_UNIT_LEN];
	char		rhs[CQL_UNIT_LEN + 2];
	double		av,
				bv;
	const char *unit;

	if (b->value == 0)
		return false;
	if (is_unity_text(b->unit))
		return cql_qty_make(clean_value(a->value / b->value), a->unit, out) &&
			isfinite(out->value);
	if (!is_unity_text(a->unit) && common_unit(a, b, &av, &bv, &unit))
	{
		/* same dimension: a plain ratio */
		if (bv == 0 || !isfinite(av / bv))
			return false;
		return cql_qty_make(clean_value(av / bv), "1", out);
	}
	{
		const WordUnit *wa = find_word_unit(a->unit);
		const WordUnit *wb = find_word_unit(b->unit);

		operand_text(wb ? wb->ucum : b->unit, rhs, sizeof(rhs));
		if (is_unity_text(a->unit))
			snprintf(ubuf, sizeof(ubuf), "/%s", rhs);
		else
			snprintf(ubuf, sizeof(ubuf), "%s/%s", wa ? wa->ucum : a->unit, rhs);
	}
	if (strlen(ubuf) >= CQL_UNIT_LEN || !isfinite(a->value / b->value))
		return false;
	return cql_qty_make(clean_value(a->value / b->value), ubuf, out);
}

bool
cql_qty_to_precision(const CqlQuantity *q, CqlPrecision *unit, int64_t *amount)
{
	const WordUnit *w = find_word_unit(q->unit);
	double		t;
	int			i;

	if (w == NULL)
	{
		static const struct
		{
			const char *ucum;
			CqlPrecision prec;
		}			ucum_time[] = {
			{"a", CQL_PREC_YEAR}, {"a_j", CQL_PREC_YEAR}, {"a_g", CQL_PREC_YEAR},
			{"mo", CQL_PREC_MONTH}, {"mo_j", CQL_PREC_MONTH}, {"mo_g", CQL_PREC_MONTH},
			{"wk", CQL_PREC_WEEK}, {"d", CQL_PREC_DAY}, {"h", CQL_PREC_HOUR},
			{"min", CQL_PREC_MINUTE}, {"s", CQL_PREC_SECOND},
			{"ms", CQL_PREC_MILLISECOND},
		};
		bool		found = false;

		for (i = 0; i < N_ELEMS(ucum_time); i++)
		{
			if (strcmp(q->unit, ucum_time[i].ucum) == 0)
			{
				*unit = ucum_time[i].prec;
				found = true;
				break;
			}
		}
		if (!found)
			return false;
	}
	else
		*unit = w->prec;
	t = trunc(q->value);
	if (!isfinite(t) || t >= 9.2e18 || t <= -9.2e18)
		return false;
	*amount = (int64_t) t;
	return true;
}

const char *
cql_precision_unit_name(CqlPrecision p, bool plural)
{
	int			i;

	for (i = 0; i < N_ELEMS(word_units); i++)
	{
		if (word_units[i].prec == p)
			return plural ? word_units[i].plural : word_units[i].singular;
	}
	return "";
}

int
cql_qty_format(const CqlQuantity *q, char *buf, int buflen)
{
	char		num[48];

	shortest_text(q->value, num, sizeof(num));
	if (find_word_unit(q->unit) != NULL)
		return snprintf(buf, buflen, "%s %s", num, q->unit);
	return snprintf(buf, buflen, "%s '%s'", num, is_unity_text(q->unit) ? "1" : q->unit);
}
