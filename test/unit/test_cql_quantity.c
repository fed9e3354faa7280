/*
 * test_cql_quantity.c
 *		Unit tests for src/engine/cql_quantity.c: UCUM conversion, comparison,
 *		arithmetic and calendar-duration quantities.
 */
#include <stdint.h>
#include <stdbool.h>

#include "test_unit.h"
#include "cql_quantity.h"

static CqlQuantity
Q(double value, const char *unit)
{
	CqlQuantity q;

	memset(&q, 0, sizeof(q));
	if (!cql_qty_make(value, unit, &q))
	{
		tests_failed++;
		printf("FAIL: could not make quantity %g '%s'\n", value, unit);
	}
	return q;
}

/* value of q in to_unit, or NAN-like sentinel -1e300 when not convertible */
static double
CONV(double value, const char *from, const char *to)
{
	CqlQuantity q = Q(value, from);
	CqlQuantity r;

	if (!cql_qty_convert(&q, to, &r))
		return -1e300;
	return r.value;
}

static const char *
tri(CqlTri t)
{
	return t == CQL_TRUE ? "true" : t == CQL_FALSE ? "false" : "null";
}

/* formatted result of a binary operation, "fail" when refused */
static const char *
OP(bool (*fn) (const CqlQuantity *, const CqlQuantity *, CqlQuantity *),
   CqlQuantity a, CqlQuantity b)
{
	static char bufs[8][64];
	static int	next = 0;
	char	   *buf = bufs[next++ % 8];
	CqlQuantity r;

	if (!fn(&a, &b, &r))
		return "fail";
	cql_qty_format(&r, buf, 64);
	return buf;
}

static void
test_convert(void)
{
	CHECK_DBL(CONV(1, "g", "mg"), 1000);
	CHECK_DBL(CONV(5, "mg", "g"), 0.005);
	CHECK_DBL(CONV(1, "kg", "ug"), 1e9);
	CHECK_DBL(CONV(1, "L", "mL"), 1000);
	CHECK_DBL(CONV(1, "dL", "mL"), 100);
	CHECK_DBL(CONV(250, "mL", "L"), 0.25);
	CHECK_DBL(CONV(1, "l", "mL"), 1000);
	CHECK_DBL(CONV(1, "kg", "[lb_av]"), 1000 / 453.59237);
	CHECK_DBL(CONV(1, "[in_i]", "cm"), 2.54);
	CHECK_DBL(CONV(1, "m", "mm"), 1000);
	CHECK_DBL(CONV(1, "a", "d"), 365.25);
	CHECK_DBL(CONV(1, "wk", "d"), 7);
	CHECK_DBL(CONV(2, "h", "min"), 120);
	CHECK_DBL(CONV(90, "min", "h"), 1.5);
	CHECK_DBL(CONV(1, "d", "s"), 86400);
	CHECK_DBL(CONV(1500, "ms", "s"), 1.5);
	/* CQL word units are calendar (Gregorian) years and months */
	CHECK_DBL(CONV(1, "year", "months"), 12);
	CHECK_DBL(CONV(2, "weeks", "day"), 14);
	CHECK_DBL(CONV(3, "hours", "minute"), 180);
	CHECK_DBL(CONV(1, "year", "d"), 365.2425);
	CHECK_DBL(CONV(1, "second", "milliseconds"), 1000);
	/* pressure, percent, dimensionless */
	CHECK_DBL(CONV(1, "mm[Hg]", "kPa"), 0.133322);
	CHECK_DBL(CONV(100, "%", "1"), 1);
	CHECK_DBL(CONV(0.5, "1", "%"), 50);
	CHECK_DBL(CONV(48, "mmol/mol", "%"), 4.8);
	CHECK_DBL(CONV(3, "{score}", "1"), 3);
	CHECK_DBL(CONV(3, "", "1"), 3);
	/* concentrations */
	CHECK_DBL(CONV(100, "mg/dL", "g/L"), 1);
	CHECK_DBL(CONV(1, "g/dL", "mg/dL"), 1000);
	CHECK_DBL(CONV(5, "mmol/L", "umol/mL"), 5);
	CHECK_DBL(CONV(1, "10*3/uL", "10*9/L"), 1);
	CHECK_DBL(CONV(1, "kg/m2", "g/cm2"), 0.1);
	CHECK_DBL(CONV(60, "/min", "/h"), 3600);
	CHECK_DBL(CONV(72, "{beats}/min", "/s"), 1.2);
	CHECK_DBL(CONV(60, "mL/min/{1.73_m2}", "L/h"), 3.6);
	CHECK_DBL(CONV(1, "m2", "cm2"), 10000);
	CHECK_DBL(CONV(1, "m.m", "m2"), 1);
	CHECK_DBL(CONV(1, "s-1", "/s"), 1);
	CHECK_DBL(CONV(1, "[IU]/L", "m[IU]/mL"), 1);
	CHECK_DBL(CONV(1, "U/L", "[iU]/L"), -1e300);	/* enzyme units are not IU */
	/* not convertible: mass vs amount needs a molar mass */
	CHECK_DBL(CONV(100, "mg/dL", "mmol/L"), -1e300);
	CHECK_DBL(CONV(1, "g", "L"), -1e300);
	CHECK_DBL(CONV(1, "g", "1"), -1e300);
	CHECK_DBL(CONV(1, "foo", "foo2"), -1e300);
	CHECK(!cql_qty_unit_known("foo"));
	CHECK(!cql_qty_unit_known("mg/"));
	CHECK(!cql_qty_unit_known("(mg"));
	CHECK(!cql_qty_unit_known("{abc"));
	CHECK(!cql_qty_unit_known("xg"));
	CHECK(!cql_qty_unit_known("kmin"));	/* min takes no prefix */
	CHECK(cql_qty_unit_known("mm[Hg]"));
	CHECK(cql_qty_unit_known("daL"));
	CHECK(cql_qty_unit_known("{copies}/mL"));
	CHECK(cql_qty_convertible("mg", "kg"));
	CHECK(!cql_qty_convertible("mg", "mL"));
	{
		CqlQuantity q = Q(2, "g"),
					r;

		CHECK(cql_qty_convert(&q, "mg", &r));
		CHECK_STR(r.unit, "mg");
		CHECK_DBL(r.value, 2000);
		CHECK(!cql_qty_convert(&q, "mmol", &r));
		CHECK(!cql_qty_make(1, "0123456789012345678901234567890123", &r));
	}
}

static void
test_compare(void)
{
	CqlQuantity a,
				b;
	int			r = 99;

	a = Q(1, "g");
	b = Q(999, "mg");
	CHECK_STR(tri(cql_qty_compare(&a, &b, &r)), "true");
	CHECK_INT(r, 1);
	CHECK_STR(tri(cql_qty_compare(&b, &a, &r)), "true");
	CHECK_INT(r, -1);
	b = Q(1000, "mg");
	CHECK_STR(tri(cql_qty_equal(&a, &b)), "true");
	b = Q(1, "L");
	CHECK_STR(tri(cql_qty_equal(&a, &b)), "null");
	CHECK_STR(tri(cql_qty_compare(&a, &b, &r)), "null");
	a = Q(0.1, "g");
	b = Q(100, "mg");
	CHECK_STR(tri(cql_qty_equal(&a, &b)), "true");
	a = Q(0.3, "g");
	b = Q(300, "mg");
	CHECK_STR(tri(cql_qty_equal(&a, &b)), "true");
	a = Q(5, "mg");
	b = Q(5, "mg");
	CHECK_STR(tri(cql_qty_equal(&a, &b)), "true");
	b = Q(5.0001, "mg");
	CHECK_STR(tri(cql_qty_equal(&a, &b)), "false");
	a = Q(1, "%");
	b = Q(0.01, "1");
	CHECK_STR(tri(cql_qty_equal(&a, &b)), "true");
	a = Q(140, "mm[Hg]");
	b = Q(139.9, "mm[Hg]");
	CHECK_STR(tri(cql_qty_compare(&a, &b, &r)), "true");
	CHECK_INT(r, 1);
	a = Q(1, "year");
	b = Q(12, "months");
	CHECK_STR(tri(cql_qty_equal(&a, &b)), "true");
	b = Q(365, "days");
	CHECK_STR(tri(cql_qty_compare(&a, &b, &r)), "true");
	CHECK_INT(r, 1);

	/* equivalence at the precision of the less precise operand */
	a = Q(1.5, "g");
	b = Q(1500, "mg");
	CHECK(cql_qty_equivalent(&a, &b));
	b = Q(1.51, "g");
	CHECK(cql_qty_equivalent(&a, &b));
	b = Q(1.6, "g");
	CHECK(!cql_qty_equivalent(&a, &b));
	b = Q(1.5, "L");
	CHECK(!cql_qty_equivalent(&a, &b));
	a = Q(4, "m");
	b = Q(4.0, "m");
	CHECK(cql_qty_equivalent(&a, &b));
	b = Q(400, "cm");
	CHECK(cql_qty_equivalent(&a, &b));
	b = Q(4.4, "m");
	CHECK(cql_qty_equivalent(&a, &b));
	b = Q(4.6, "m");
	CHECK(!cql_qty_equivalent(&a, &b));
}

static void
test_arithmetic(void)
{
	CHECK_STR(OP(cql_qty_add, Q(1, "g"), Q(1, "mg")), "1001 'mg'");
	CHECK_STR(OP(cql_qty_add, Q(1, "mg"), Q(1, "g")), "1001 'mg'");
	CHECK_STR(OP(cql_qty_add, Q(2.5, "mg"), Q(1, "mg")), "3.5 'mg'");
	CHECK_STR(OP(cql_qty_add, Q(1, "g"), Q(1, "L")), "fail");
	CHECK_STR(OP(cql_qty_add, Q(2, "weeks"), Q(3, "days")), "17 days");
	CHECK_STR(OP(cql_qty_add, Q(1, "year"), Q(1, "month")), "13 month");
	CHECK_STR(OP(cql_qty_add, Q(0.1, "L"), Q(0.2, "L")), "0.3 'L'");
	CHECK_STR(OP(cql_qty_subtract, Q(1, "L"), Q(1, "mL")), "999 'mL'");
	CHECK_STR(OP(cql_qty_subtract, Q(5, "mg"), Q(7, "mg")), "-2 'mg'");
	CHECK_STR(OP(cql_qty_subtract, Q(5, "mg"), Q(7, "m")), "fail");

	CHECK_STR(OP(cql_qty_multiply, Q(2, "g"), Q(3, "1")), "6 'g'");
	CHECK_STR(OP(cql_qty_multiply, Q(3, ""), Q(2, "mg/dL")), "6 'mg/dL'");
	CHECK_STR(OP(cql_qty_multiply, Q(2, "m"), Q(3, "m")), "6 'm2'");
	CHECK_STR(OP(cql_qty_multiply, Q(2, "g"), Q(3, "m")), "6 'g.m'");
	CHECK_STR(OP(cql_qty_multiply, Q(2, "h"), Q(3, "mg/h")), "6 'h.(mg/h)'");
	CHECK_STR(OP(cql_qty_divide, Q(10, "g"), Q(2, "1")), "5 'g'");
	CHECK_STR(OP(cql_qty_divide, Q(10, "g"), Q(5, "g")), "2 '1'");
	CHECK_STR(OP(cql_qty_divide, Q(1, "g"), Q(1, "mg")), "1000 '1'");
	CHECK_STR(OP(cql_qty_divide, Q(10, "mg"), Q(2, "dL")), "5 'mg/dL'");
	CHECK_STR(OP(cql_qty_divide, Q(1, "1"), Q(4, "h")), "0.25 '/h'");
	CHECK_STR(OP(cql_qty_divide, Q(6, "g"), Q(2, "m.s")), "3 'g/(m.s)'");
	CHECK_STR(OP(cql_qty_divide, Q(1, "g"), Q(0, "mg")), "fail");
	CHECK_STR(OP(cql_qty_divide, Q(1, "g"), Q(0, "1")), "fail");
	/* the result unit is itself convertible */
	{
		CqlQuantity a = Q(10, "mg"),
					b = Q(2, "dL"),
					r,
					c;

		CHECK(cql_qty_divide(&a, &b, &r));
		CHECK(cql_qty_convert(&r, "g/L", &c));
		CHECK_DBL(c.value, 0.05);
		cql_qty_negate(&a, &r);
		CHECK_DBL(r.value, -10);
		CHECK_STR(r.unit, "mg");
	}
}

static void
test_durations(void)
{
	CqlQuantity q;
	CqlPrecision p = CQL_PREC_MILLISECOND;
	int64_t		n = 0;

	q = Q(1, "year");
	CHECK(cql_qty_to_precision(&q, &p, &n));
	CHECK_INT(p, CQL_PREC_YEAR);
	CHECK_INT(n, 1);
	q = Q(3, "months");
	CHECK(cql_qty_to_precision(&q, &p, &n));
	CHECK_INT(p, CQL_PREC_MONTH);
	CHECK_INT(n, 3);
	q = Q(1.5, "years");
	CHECK(cql_qty_to_precision(&q, &p, &n));
	CHECK_INT(n, 1);
	q = Q(-2.7, "days");
	CHECK(cql_qty_to_precision(&q, &p, &n));
	CHECK_INT(p, CQL_PREC_DAY);
	CHECK_INT(n, -2);
	q = Q(2, "wk");
	CHECK(cql_qty_to_precision(&q, &p, &n));
	CHECK_INT(p, CQL_PREC_WEEK);
	q = Q(1, "a");
	CHECK(cql_qty_to_precision(&q, &p, &n));
	CHECK_INT(p, CQL_PREC_YEAR);
	q = Q(1, "mo");
	CHECK(cql_qty_to_precision(&q, &p, &n));
	CHECK_INT(p, CQL_PREC_MONTH);
	q = Q(10, "min");
	CHECK(cql_qty_to_precision(&q, &p, &n));
	CHECK_INT(p, CQL_PREC_MINUTE);
	q = Q(10, "ms");
	CHECK(cql_qty_to_precision(&q, &p, &n));
	CHECK_INT(p, CQL_PREC_MILLISECOND);
	q = Q(10, "h");
	CHECK(cql_qty_to_precision(&q, &p, &n));
	CHECK_INT(p, CQL_PREC_HOUR);
	q = Q(10, "g");
	CHECK(!cql_qty_to_precision(&q, &p, &n));
	q = Q(1e30, "s");
	CHECK(!cql_qty_to_precision(&q, &p, &n));
	CHECK_STR(cql_precision_unit_name(CQL_PREC_DAY, true), "days");
	CHECK_STR(cql_precision_unit_name(CQL_PREC_YEAR, false), "year");

	/* DateTime(2014) + 1.5 years = DateTime(2015) */
	{
		CqlDateTime d,
					r;
		char		buf[32];

		CHECK(cql_dt_parse_datetime("2014", -1, &d));
		q = Q(1.5, "years");
		CHECK(cql_qty_to_precision(&q, &p, &n));
		CHECK(cql_dt_add(&d, n, p, &r));
		cql_dt_format(&r, 'T', buf, sizeof(buf));
		CHECK_STR(buf, "2015");
	}
}

static void
test_format(void)
{
	char		buf[64];
	CqlQuantity q = Q(2.5, "mg/dL");

	cql_qty_format(&q, buf, sizeof(buf));
	CHECK_STR(buf, "2.5 'mg/dL'");
	q = Q(3, "days");
	cql_qty_format(&q, buf, sizeof(buf));
	CHECK_STR(buf, "3 days");
	q = Q(0.1, "");
	cql_qty_format(&q, buf, sizeof(buf));
	CHECK_STR(buf, "0.1 '1'");
}

void
test_cql_quantity(void)
{
	test_convert();
	test_compare();
	test_arithmetic();
	test_durations();
	test_format();
}
