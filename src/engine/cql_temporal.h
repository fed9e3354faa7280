/*
 * cql_temporal.h
 *		CQL 1.5 Date, DateTime and Time values: parsing, printing, comparison
 *		with precision, calendar arithmetic, durations and differences.
 *
 * Owner: src/engine (temporal semantics helper).  Pure C99: no PostgreSQL
 * headers, no allocation, no global state, so that test/unit can compile it
 * on its own.  All results are written into caller-provided structs/buffers.
 *
 * Representation.  One struct for the three types:
 *	 - Date:	 year..day present, prec <= CQL_PREC_DAY, has_tz false.
 *	 - DateTime: year.. present, prec any, has_tz usually true.
 *	 - Time:	 year == 0 (and month == day == 0), prec >= CQL_PREC_HOUR,
 *				 has_tz false.  cql_dt_is_time() tells a Time apart.
 * Components finer than prec are 0 and ignored.  The engine should give a
 * DateTime without an offset the evaluation's default offset
 * (cql_dt_apply_default_tz) before comparing or doing arithmetic with it;
 * when one side of a comparison has no offset, no normalisation happens.
 */
#ifndef CQL_TEMPORAL_H
#define CQL_TEMPORAL_H

#include <stdint.h>
#include <stdbool.h>

typedef enum CqlPrecision
{
	CQL_PREC_YEAR = 0,
	CQL_PREC_MONTH,
	CQL_PREC_WEEK,				/* only as a unit, never as a value's prec */
	CQL_PREC_DAY,
	CQL_PREC_HOUR,
	CQL_PREC_MINUTE,
	CQL_PREC_SECOND,
	CQL_PREC_MILLISECOND
} CqlPrecision;

/* "all precision" (no precision given) for the comparison functions */
#define CQL_PREC_ALL (-1)

typedef struct CqlDateTime
{
	int16_t		year;
	int8_t		month,
				day,
				hour,
				minute,
				second;
	int16_t		millisecond;
	int16_t		tz_minutes;		/* offset from UTC, minutes */
	uint8_t		prec;			/* CqlPrecision of the finest component */
	bool		has_tz;
} CqlDateTime;

typedef enum CqlTri
{
	CQL_FALSE = 0,
	CQL_TRUE = 1,
	CQL_UNKNOWN = 2
} CqlTri;

/* ---- classification / construction ------------------------------------ */

/* true when v holds a Time (year == 0) */
extern bool cql_dt_is_time(const CqlDateTime *v);

/* if v has no offset, give it tz_minutes (has_tz becomes true); Times unchanged */
extern void cql_dt_apply_default_tz(CqlDateTime *v, int16_t tz_minutes);

/*
 * Constructor for Date(y,m,d) ('D'), DateTime(y,m,d,h,mi,s,ms) ('T') and
 * Time(h,mi,s,ms) ('H') with the first ncomps components given (at least 1;
 * Date at most 3, DateTime at most 7, Time at most 4).  For 'T', has_tz /
 * tz_minutes give the offset (the CQL decimal hours times 60).  Returns
 * false for an invalid value (month 13, Feb 30, year 0, ...).
 */
extern bool cql_dt_from_components(char kind, const int *comps, int ncomps,
								   bool has_tz, int tz_minutes,
								   CqlDateTime *out);

/* ---- parsing / printing ------------------------------------------------ */

/*
 * FHIR dateTime / instant and CQL DateTime literal bodies (without '@'):
 * YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh, ...Thh:mm, ...Thh:mm:ss(.f+),
 * each optionally followed by Z or +hh:mm / -hh:mm when a time part is
 * present; also "YYYY-MM-DDT" / "YYYYT" (CQL DateTime with no time part).
 * A leading '@' is skipped.  len < 0 means strlen(s).  Milliseconds beyond 3
 * digits are truncated.  Returns false for anything invalid.
 */
extern bool cql_dt_parse_datetime(const char *s, int len, CqlDateTime *out);

/* YYYY, YYYY-MM, YYYY-MM-DD (leading '@' skipped) */
extern bool cql_dt_parse_date(const char *s, int len, CqlDateTime *out);

/* hh, hh:mm, hh:mm:ss(.f+), with optional leading '@T' / 'T' */
extern bool cql_dt_parse_time(const char *s, int len, CqlDateTime *out);

/*
 * ISO text at the value's precision ('D' Date, 'T' DateTime, 'H' Time), no
 * '@': 2026, 2026-01, 2026-01-02, 2026-01-02T10:00:00.000+01:00, 10:30.
 * A DateTime with time prints its offset (Z for 0) when has_tz.
 * Returns the length written (snprintf semantics: may be >= buflen).
 */
extern int	cql_dt_format(const CqlDateTime *v, char kind, char *buf, int buflen);

/* ---- normalisation ----------------------------------------------------- */

/*
 * Same instant expressed at another offset, carrying across day, month and
 * year boundaries.  Only changes the value when prec >= HOUR and has_tz;
 * otherwise copies in (with the new tz recorded).  Keeps prec.
 */
extern void cql_dt_to_offset(const CqlDateTime *in, int16_t tz_minutes,
							 CqlDateTime *out);

/* ---- comparison -------------------------------------------------------- */

/*
 * Component-wise comparison down to prec (or all components for
 * CQL_PREC_ALL, in which case seconds and milliseconds compare together as
 * one decimal).  DateTimes with time components and offsets on both sides
 * are normalised to a's offset first.  Returns 0 when determinate (*result =
 * -1/0/1) and 1 when uncertain (a component is missing on one side before a
 * difference is found).  Both sides missing a component = equal (result 0).
 * A Time and a non-Time compare as uncertain (1).
 */
extern int	cql_dt_compare(const CqlDateTime *a, const CqlDateTime *b,
						   int prec, int *result);

extern CqlTri cql_dt_equal(const CqlDateTime *a, const CqlDateTime *b);
/* equal at the same precision; different precision = false, never unknown */
extern bool cql_dt_equivalent(const CqlDateTime *a, const CqlDateTime *b);

/* prec = CqlPrecision or CQL_PREC_ALL */
extern CqlTri cql_dt_same_as(const CqlDateTime *a, const CqlDateTime *b, int prec);
extern CqlTri cql_dt_same_or_before(const CqlDateTime *a, const CqlDateTime *b, int prec);
extern CqlTri cql_dt_same_or_after(const CqlDateTime *a, const CqlDateTime *b, int prec);
extern CqlTri cql_dt_before(const CqlDateTime *a, const CqlDateTime *b, int prec);
extern CqlTri cql_dt_after(const CqlDateTime *a, const CqlDateTime *b, int prec);

/* ---- arithmetic -------------------------------------------------------- */

/*
 * a + amount units (calendar arithmetic).  Adding months/years clamps the
 * day to the month's end; WEEK = 7 days.  A unit finer than a's precision
 * is applied to the earliest (amount >= 0) or latest (amount < 0) instant a
 * could denote and the result truncated back to a's precision, so Date +
 * 25 hours = +1 day and @2014 + 11 months = @2014.  For a Time the result
 * wraps around midnight and units coarser than hour are rejected.  Returns
 * false when the result leaves years 1..9999 or the unit is invalid.
 */
extern bool cql_dt_add(const CqlDateTime *a, int64_t amount, CqlPrecision unit,
					   CqlDateTime *out);

/*
 * Whole calendar periods from a to b (CQL "<unit>s between", negative when
 * b is before a).  Years and months count anniversaries (years between
 * @2000-02-29 and @2001-02-28 = 0); days and finer count elapsed time after
 * offset normalisation (when both have offsets).  A value less precise than
 * the unit (days between @2012-01 and ...) makes the result uncertain:
 * [*lo, *hi] from its earliest and latest instants; otherwise lo == hi and
 * missing finer components count as their minimum (two day-precision
 * DateTimes are a whole number of days apart).  Seconds without
 * milliseconds are not uncertain.  Returns false for incompatible operands
 * (Time vs Date/DateTime, a Time with a unit coarser than hour).
 */
extern bool cql_dt_duration_between(const CqlDateTime *a, const CqlDateTime *b,
									CqlPrecision unit, int64_t *lo, int64_t *hi);

/*
 * Number of unit boundaries crossed from a to b (CQL "difference in <unit>s
 * between"): both values truncated to unit first; for days and coarser the
 * time and offset are dropped without normalisation, for hours and finer
 * offsets are normalised first.  Weeks = whole weeks between the days.
 */
extern bool cql_dt_difference_between(const CqlDateTime *a, const CqlDateTime *b,
									  CqlPrecision unit, int64_t *lo, int64_t *hi);

/*
 * CalculateAgeAt: duration between birth and as_of.  For units of a day or
 * coarser, a DateTime as_of is first reduced to its date (birth dates are
 * Dates), so the age in years on a birthday is exact.
 */
extern bool cql_dt_age_at(const CqlDateTime *birth, const CqlDateTime *as_of,
						  CqlPrecision unit, int64_t *lo, int64_t *hi);

/* ---- components / truncation / boundaries ----------------------------- */

/* component value at prec (YEAR..MILLISECOND); false if absent */
extern bool cql_dt_component(const CqlDateTime *v, CqlPrecision prec, int *out);

/* offset in minutes; false if the value has none */
extern bool cql_dt_timezone(const CqlDateTime *v, int *out_minutes);

/* keep components down to prec (no-op if already coarser); keeps tz */
extern void cql_dt_truncate(const CqlDateTime *v, CqlPrecision prec, CqlDateTime *out);

/* DateFrom: the Date part (at most DAY precision), tz dropped */
extern void cql_dt_date_from(const CqlDateTime *dt, CqlDateTime *out);

/* TimeFrom: the Time part of a DateTime; false if it has no hour */
extern bool cql_dt_time_from(const CqlDateTime *dt, CqlDateTime *out);

/*
 * Earliest / latest value v can denote at precision prec (missing
 * components down to prec filled with their minimum / maximum: 2026 ->
 * high 2026-12-31T23:59:59.999 at MILLISECOND).  prec coarser than v's
 * precision truncates.  For Dates pass DAY; for Times prec >= HOUR.
 */
extern void cql_dt_low_boundary(const CqlDateTime *v, CqlPrecision prec, CqlDateTime *out);
extern void cql_dt_high_boundary(const CqlDateTime *v, CqlPrecision prec, CqlDateTime *out);

/* days in a month (1..12) of a year; 0 for an invalid month */
extern int	cql_days_in_month(int year, int month);

#endif							/* CQL_TEMPORAL_H */
