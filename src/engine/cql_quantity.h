/*
 * cql_quantity.h
 *		CQL Quantity values with UCUM units: conversion, comparison,
 *		arithmetic, and calendar-duration quantities for date arithmetic.
 *
 * Owner: src/engine (quantity semantics helper).  Pure C99: no PostgreSQL
 * headers, no allocation, no global state.  Covers the UCUM units that
 * quality measures use (mass, volume, length, time, pressure, percent,
 * counts, concentrations built from those with '/'), plus the CQL calendar
 * word units (year(s), month(s), ... millisecond(s)).  Curly-brace
 * annotations ({score}, 10*3/{cells}...) count as the unity '1'.
 */
#ifndef CQL_QUANTITY_H
#define CQL_QUANTITY_H

#include <stdbool.h>
#include <stdint.h>

#include "cql_temporal.h"

#define CQL_UNIT_LEN 32

typedef struct CqlQuantity
{
	double		value;
	char		unit[CQL_UNIT_LEN];	/* UCUM code or CQL word unit; "" = '1' */
} CqlQuantity;

/* build a quantity; false if the unit does not fit (>= 32 bytes) */
extern bool cql_qty_make(double value, const char *unit, CqlQuantity *out);

/* true when the unit is understood (parsed into base dimensions) */
extern bool cql_qty_unit_known(const char *unit);

/* same dimension (both units understood and convertible) */
extern bool cql_qty_convertible(const char *from_unit, const char *to_unit);

/*
 * Convert q to to_unit; false when either unit is unknown or the
 * dimensions differ (mg/dL -> mmol/L needs a molar mass: false).
 * Calendar words and UCUM time units are interchangeable (year = a = 365.25 d,
 * month = mo = 30.4375 d, as UCUM defines them).
 */
extern bool cql_qty_convert(const CqlQuantity *q, const char *to_unit, CqlQuantity *out);

/*
 * Compare after converting b to a's unit: CQL_TRUE with *result -1/0/1 when
 * comparable, CQL_UNKNOWN when not convertible.  (CQL_FALSE is never
 * returned.)  Values within 1e-10 relative are treated as equal so that
 * unit conversion noise does not break equality.
 */
extern CqlTri cql_qty_compare(const CqlQuantity *a, const CqlQuantity *b, int *result);

/* '=': convertible and equal -> TRUE, convertible and different -> FALSE, else UNKNOWN */
extern CqlTri cql_qty_equal(const CqlQuantity *a, const CqlQuantity *b);

/*
 * '~': not convertible -> false; else compare with both values rounded to the
 * number of decimal places of the less precise operand (after conversion to
 * a's unit).  Decimal places are those of the shortest round-trip text of the
 * value, so 1.5 has 1, 2 has 0.
 */
extern bool cql_qty_equivalent(const CqlQuantity *a, const CqlQuantity *b);

/*
 * a + b, a - b: same dimension only.  The result is in the smaller
 * (finer) of the two units (as cql-execution does), e.g. 1 g + 1 mg ->
 * 1001 mg; same unit -> that unit.  false when not convertible.
 */
extern bool cql_qty_add(const CqlQuantity *a, const CqlQuantity *b, CqlQuantity *out);
extern bool cql_qty_subtract(const CqlQuantity *a, const CqlQuantity *b, CqlQuantity *out);

/*
 * a * b, a / b with unit algebra: '1'/empty units drop out (scalar x
 * quantity), identical units multiply to u2 ("m.m" printed as "m2") and
 * divide to '1', b convertible to a divides to '1' after conversion, other
 * combinations produce "a.b" / "a/b" (parenthesised when needed).  Division
 * by zero -> false (CQL null).  false when the result unit would not fit.
 */
extern bool cql_qty_multiply(const CqlQuantity *a, const CqlQuantity *b, CqlQuantity *out);
extern bool cql_qty_divide(const CqlQuantity *a, const CqlQuantity *b, CqlQuantity *out);

/* negate (unary minus) */
extern void cql_qty_negate(const CqlQuantity *a, CqlQuantity *out);

/*
 * Calendar-duration quantity -> (unit, whole amount) for Date/DateTime/Time
 * arithmetic: year(s)/a, month(s)/mo, week(s)/wk, day(s)/d, hour(s)/h,
 * minute(s)/min, second(s)/s, millisecond(s)/ms.  The decimal part is
 * dropped (CQL: DateTime(2014) + 1.5 years = DateTime(2015)).  false for
 * any other unit or a value out of int64 range.
 */
extern bool cql_qty_to_precision(const CqlQuantity *q, CqlPrecision *unit, int64_t *amount);

/* the CQL word unit for a precision ("year", "month", ... plural if amount != 1) */
extern const char *cql_precision_unit_name(CqlPrecision p, bool plural);

/* shortest text of the value plus unit in CQL form: 5 'mg', 2.5 'mg/dL' */
extern int	cql_qty_format(const CqlQuantity *q, char *buf, int buflen);

#endif							/* CQL_QUANTITY_H */
