/*
 * cql_temporal.c
 *		CQL 1.5 Date / DateTime / Time semantics for the ELM engine.
 *
 * Owns parsing, printing, precision-aware comparison, calendar arithmetic,
 * durations and differences.  Must stay pure C99 (no PostgreSQL headers, no
 * allocation, no global state): test/unit compiles it alone.
 *
 * Internally a value is mapped to a count of milliseconds of local wall
 * time since 0001-01-01T00:00:00.000 (proleptic Gregorian); offsets are
 * applied only where an instant is needed.
 */
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>

#include "cql_temporal.h"

#define MS_PER_SECOND	INT64_C(1000)
#define MS_PER_MINUTE	INT64_C(60000)
#define MS_PER_HOUR		INT64_C(3600000)
#define MS_PER_DAY		INT64_C(86400000)

#define CQL_MIN_YEAR 1
#define CQL_MAX_YEAR 9999

/* value components in comparison order (WEEK is never a component) */
static const CqlPrecision component_order[] = {
	CQL_PREC_YEAR, CQL_PREC_MONTH, CQL_PREC_DAY, CQL_PREC_HOUR,
	CQL_PREC_MINUTE, CQL_PREC_SECOND, CQL_PREC_MILLISECOND
};
#define N_COMPONENTS 7

/* ---- calendar helpers ---------------------------------------------------- */

static bool
is_leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
cql_days_in_month(int year, int month)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month < 1 || month > 12)
		return 0;
	if (month == 2 && is_leap_year(year))
		return 29;
	return dim[month - 1];
}

/* days before the first of the month in a year */
static int
days_before_month(int year, int month)
{
	static const int cum[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	int			d = cum[month - 1];

	if (month > 2 && is_leap_year(year))
		d++;
	return d;
}

/* day number of year-month-day, day 0 = 0001-01-01 */
static int64_t
day_number(int year, int month, int day)
{
	int64_t		y = year - 1;

	return y * 365 + y / 4 - y / 100 + y / 400
		+ days_before_month(year, month) + (day - 1);
}

static int64_t
days_before_year(int year)
{
	int64_t		y = year - 1;

	return y * 365 + y / 4 - y / 100 + y / 400;
}

/* inverse of day_number; n may be negative or far out (year then out of range) */
static void
civil_from_day_number(int64_t n, int *year, int *month, int *day)
{
	/* 146097 days per 400 years; estimate then correct */
	int64_t		y = (n * 400) / 146097 + 1;
	int			m;
	int			doy;

	if (n < 0)
		y--;
	while (days_before_year((int) y) > n)
		y--;
	while (days_before_year((int) y + 1) <= n)
		y++;
	doy = (int) (n - days_before_year((int) y));
	m = 1;
	while (m < 12 && days_before_month((int) y, m + 1) <= doy)
		m++;
	*year = (int) y;
	*month = m;
	*day = doy - days_before_month((int) y, m) + 1;
}

static bool
has_component(const CqlDateTime *v, CqlPrecision p)
{
	if (p == CQL_PREC_WEEK)
		return false;
	if (cql_dt_is_time(v) && p < CQL_PREC_HOUR)
		return false;
	return v->prec >= (uint8_t) p;
}

static int
get_component(const CqlDateTime *v, CqlPrecision p)
{
	switch (p)
	{
		case CQL_PREC_YEAR:
			return v->year;
		case CQL_PREC_MONTH:
			return v->month;
		case CQL_PREC_DAY:
			return v->day;
		case CQL_PREC_HOUR:
			return v->hour;
		case CQL_PREC_MINUTE:
			return v->minute;
		case CQL_PREC_SECOND:
			return v->second;
		case CQL_PREC_MILLISECOND:
			return v->millisecond;
		case CQL_PREC_WEEK:
			break;
	}
	return 0;
}

static void
set_component(CqlDateTime *v, CqlPrecision p, int x)
{
	switch (p)
	{
		case CQL_PREC_YEAR:
			v->year = (int16_t) x;
			break;
		case CQL_PREC_MONTH:
			v->month = (int8_t) x;
			break;
		case CQL_PREC_DAY:
			v->day = (int8_t) x;
			break;
		case CQL_PREC_HOUR:
			v->hour = (int8_t) x;
			break;
		case CQL_PREC_MINUTE:
			v->minute = (int8_t) x;
			break;
		case CQL_PREC_SECOND:
			v->second = (int8_t) x;
			break;
		case CQL_PREC_MILLISECOND:
			v->millisecond = (int16_t) x;
			break;
		case CQL_PREC_WEEK:
			break;
	}
}

/* zero every component finer than prec */
static void
clear_finer(CqlDateTime *v, int prec)
{
	if (prec < CQL_PREC_MONTH)
		v->month = 0;
	if (prec < CQL_PREC_DAY)
		v->day = 0;
	if (prec < CQL_PREC_HOUR)
		v->hour = 0;
	if (prec < CQL_PREC_MINUTE)
		v->minute = 0;
	if (prec < CQL_PREC_SECOND)
		v->second = 0;
	if (prec < CQL_PREC_MILLISECOND)
		v->millisecond = 0;
}

/* time of day in ms (components finer than prec are 0 by invariant) */
static int64_t
time_of_day_ms(const CqlDateTime *v)
{
	return v->hour * MS_PER_HOUR + v->minute * MS_PER_MINUTE
		+ v->second * MS_PER_SECOND + v->millisecond;
}

/* local wall time in ms since 0001-01-01; missing month/day count as 1 */
static int64_t
local_ms(const CqlDateTime *v)
{
	int			m = v->prec >= CQL_PREC_MONTH && v->month >= 1 ? v->month : 1;
	int			d = v->prec >= CQL_PREC_DAY && v->day >= 1 ? v->day : 1;

	return day_number(v->year, m, d) * MS_PER_DAY + time_of_day_ms(v);
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static int64_t
floor_mod(int64_t a, int64_t b)
{
	return a - floor_div(a, b) * b;
}

/* set all components of v from local ms (prec untouched) */
static void
set_from_local_ms(CqlDateTime *v, int64_t ms)
{
	int64_t		days = floor_div(ms, MS_PER_DAY);
	int64_t		rest = ms - days * MS_PER_DAY;
	int			y,
				m,
				d;

	civil_from_day_number(days, &y, &m, &d);
	v->year = (int16_t) y;
	v->month = (int8_t) m;
	v->day = (int8_t) d;
	v->hour = (int8_t) (rest / MS_PER_HOUR);
	rest %= MS_PER_HOUR;
	v->minute = (int8_t) (rest / MS_PER_MINUTE);
	rest %= MS_PER_MINUTE;
	v->second = (int8_t) (rest / MS_PER_SECOND);
	v->millisecond = (int16_t) (rest % MS_PER_SECOND);
}

static int64_t
unit_ms(CqlPrecision unit)
{
	switch (unit)
	{
		case CQL_PREC_WEEK:
			return 7 * MS_PER_DAY;
		case CQL_PREC_DAY:
			return MS_PER_DAY;
		case CQL_PREC_HOUR:
			return MS_PER_HOUR;
		case CQL_PREC_MINUTE:
			return MS_PER_MINUTE;
		case CQL_PREC_SECOND:
			return MS_PER_SECOND;
		case CQL_PREC_MILLISECOND:
			return 1;
		default:
			return 0;
	}
}

static bool
valid_unit(int unit)
{
	return unit >= CQL_PREC_YEAR && unit <= CQL_PREC_MILLISECOND;
}

/* ---- classification / construction --------------------------------------- */

bool
cql_dt_is_time(const CqlDateTime *v)
{
	return v->year == 0;
}

void
cql_dt_apply_default_tz(CqlDateTime *v, int16_t tz_minutes)
{
	if (cql_dt_is_time(v) || v->has_tz)
		return;
	v->has_tz = true;
	v->tz_minutes = tz_minutes;
}

static bool
valid_date_parts(int y, int m, int d, int prec)
{
	if (y < CQL_MIN_YEAR || y > CQL_MAX_YEAR)
		return false;
	if (prec >= CQL_PREC_MONTH && (m < 1 || m > 12))
		return false;
	if (prec >= CQL_PREC_DAY && (d < 1 || d > cql_days_in_month(y, m)))
		return false;
	return true;
}

static bool
valid_time_parts(int h, int mi, int s, int ms, int prec)
{
	if (prec >= CQL_PREC_HOUR && (h < 0 || h > 23))
		return false;
	if (prec >= CQL_PREC_MINUTE && (mi < 0 || mi > 59))
		return false;
	if (prec >= CQL_PREC_SECOND && (s < 0 || s > 59))
		return false;
	if (prec >= CQL_PREC_MILLISECOND && (ms < 0 || ms > 999))
		return false;
	return true;
}

bool
cql_dt_from_components(char kind, const int *comps, int ncomps,
					   bool has_tz, int tz_minutes, CqlDateTime *out)
{
	CqlDateTime v;
	int			i;

	memset(&v, 0, sizeof(v));
	if (comps == NULL || ncomps < 1)
		return false;
	if (kind == 'H')
	{
		if (ncomps > 4)
			return false;
		for (i = 0; i < ncomps; i++)
		{
			if (comps[i] < 0 || comps[i] > 999)
				return false;
			set_component(&v, component_order[i + 3], comps[i]);
		}
		v.prec = (uint8_t) component_order[ncomps + 2];
		if (!valid_time_parts(v.hour, v.minute, v.second, v.millisecond, v.prec))
			return false;
		*out = v;
		return true;
	}
	if ((kind == 'D' && ncomps > 3) || (kind == 'T' && ncomps > 7) ||
		(kind != 'D' && kind != 'T'))
		return false;
	for (i = 0; i < ncomps; i++)
	{
		/* reject values the narrow fields cannot hold before storing */
		if (comps[i] < 0 || comps[i] > 9999)
			return false;
		set_component(&v, component_order[i], comps[i]);
	}
	v.prec = (uint8_t) component_order[ncomps - 1];
	if (!valid_date_parts(v.year, v.month, v.day, v.prec) ||
		!valid_time_parts(v.hour, v.minute, v.second, v.millisecond, v.prec))
		return false;
	if (kind == 'T' && has_tz)
	{
		if (tz_minutes < -14 * 60 || tz_minutes > 14 * 60)
			return false;
		v.has_tz = true;
		v.tz_minutes = (int16_t) tz_minutes;
	}
	*out = v;
	return true;
}

/* ---- parsing ------------------------------------------------------------- */

typedef struct Scan
{
	const char *s;
	int			pos;
	int			len;
} Scan;

static bool
scan_digits(Scan *sc, int n, int *out)
{
	int			v = 0;
	int			i;

	if (sc->pos + n > sc->len)
		return false;
	for (i = 0; i < n; i++)
	{
		char		c = sc->s[sc->pos + i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	sc->pos += n;
	*out = v;
	return true;
}

static bool
scan_char(Scan *sc, char c)
{
	if (sc->pos < sc->len && sc->s[sc->pos] == c)
	{
		sc->pos++;
		return true;
	}
	return false;
}

static bool
scan_at_end(const Scan *sc)
{
	return sc->pos >= sc->len;
}

/* hh[:mm[:ss[.f+]]] into v, setting prec; false if malformed */
static bool
scan_time_parts(Scan *sc, CqlDateTime *v)
{
	int			x;

	if (!scan_digits(sc, 2, &x))
		return false;
	v->hour = (int8_t) x;
	v->prec = CQL_PREC_HOUR;
	if (!scan_char(sc, ':'))
		return true;
	if (!scan_digits(sc, 2, &x))
		return false;
	v->minute = (int8_t) x;
	v->prec = CQL_PREC_MINUTE;
	if (!scan_char(sc, ':'))
		return true;
	if (!scan_digits(sc, 2, &x))
		return false;
	v->second = (int8_t) x;
	v->prec = CQL_PREC_SECOND;
	if (scan_char(sc, '.'))
	{
		int			ms = 0;
		int			ndig = 0;

		while (sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9')
		{
			if (ndig < 3)
				ms = ms * 10 + (sc->s[sc->pos] - '0');
			ndig++;
			sc->pos++;
		}
		if (ndig == 0)
			return false;
		for (x = ndig; x < 3; x++)
			ms *= 10;
		v->millisecond = (int16_t) ms;
		v->prec = CQL_PREC_MILLISECOND;
	}
	return true;
}

static bool
scan_time(Scan *sc, CqlDateTime *v)
{
	return scan_time_parts(sc, v) &&
		valid_time_parts(v->hour, v->minute, v->second, v->millisecond, v->prec);
}

/* YYYY[-MM[-DD]] into v */
static bool
scan_date(Scan *sc, CqlDateTime *v)
{
	int			x;

	if (!scan_digits(sc, 4, &x))
		return false;
	v->year = (int16_t) x;
	v->prec = CQL_PREC_YEAR;
	if (sc->pos + 1 < sc->len && sc->s[sc->pos] == '-')
	{
		sc->pos++;
		if (!scan_digits(sc, 2, &x))
			return false;
		v->month = (int8_t) x;
		v->prec = CQL_PREC_MONTH;
		if (sc->pos + 1 < sc->len && sc->s[sc->pos] == '-')
		{
			sc->pos++;
			if (!scan_digits(sc, 2, &x))
				return false;
			v->day = (int8_t) x;
			v->prec = CQL_PREC_DAY;
		}
	}
	return valid_date_parts(v->year, v->month, v->day, v->prec);
}

static void
scan_init(Scan *sc, const char *s, int len)
{
	sc->s = s;
	sc->len = len < 0 ? (int) strlen(s) : len;
	sc->pos = 0;
	if (sc->len > 0 && s[0] == '@')
		sc->pos = 1;
}

static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* two decimal digits at p, or -1 */
static inline int
two_digits(const char *p)
{
	unsigned	a = (unsigned char) p[0] - '0';
	unsigned	b = (unsigned char) p[1] - '0';

	return (a > 9 || b > 9) ? -1 : (int) (a * 10 + b);
}

/*
 * The forms stored FHIR data nearly always has — YYYY-MM-DD, and
 * YYYY-MM-DDThh:mm:ss[.fff][Z|+hh:mm|-hh:mm] — read at fixed positions:
 * a patient's dates are parsed over and over (birth date, periods, onsets),
 * and the general scanner cost three to four times as much.  false for any
 * other form (the scanner reads it, and decides about malformed ones), so
 * both give the same value for every string.
 */
static bool
parse_common_datetime(const char *s, int len, CqlDateTime *out)
{
	CqlDateTime v;
	int			y1,
				y2,
				mo,
				d,
				pos;

	if (len < 10 || s[4] != '-' || s[7] != '-')
		return false;
	y1 = two_digits(s);
	y2 = two_digits(s + 2);
	mo = two_digits(s + 5);
	d = two_digits(s + 8);
	if (y1 < 0 || y2 < 0 || mo < 0 || d < 0)
		return false;
	memset(&v, 0, sizeof(v));
	v.year = (int16_t) (y1 * 100 + y2);
	v.month = (int8_t) mo;
	v.day = (int8_t) d;
	v.prec = CQL_PREC_DAY;
	if (!valid_date_parts(v.year, v.month, v.day, v.prec))
		return false;
	if (len > 10)
	{
		int			h,
					mi,
					sec;

		if (len < 19 || s[10] != 'T' || s[13] != ':' || s[16] != ':')
			return false;
		h = two_digits(s + 11);
		mi = two_digits(s + 14);
		sec = two_digits(s + 17);
		if (h < 0 || mi < 0 || sec < 0)
			return false;
		v.hour = (int8_t) h;
		v.minute = (int8_t) mi;
		v.second = (int8_t) sec;
		v.prec = CQL_PREC_SECOND;
		pos = 19;
		if (pos < len && s[pos] == '.')
		{
			int			ms_hi;

			/* exactly three digits; other fractions are the scanner's */
			if (len < 23 || (ms_hi = two_digits(s + 20)) < 0 || !is_digit(s[22]) ||
				(len > 23 && is_digit(s[23])))
				return false;
			v.millisecond = (int16_t) (ms_hi * 10 + (s[22] - '0'));
			v.prec = CQL_PREC_MILLISECOND;
			pos = 23;
		}
		if (pos < len)
		{
			if (s[pos] == 'Z' && pos + 1 == len)
				v.tz_minutes = 0;
			else if ((s[pos] == '+' || s[pos] == '-') && pos + 6 == len && s[pos + 3] == ':')
			{
				int			th = two_digits(s + pos + 1);
				int			tm = two_digits(s + pos + 4);

				if (th < 0 || tm < 0 || th > 14 || tm > 59 || th * 60 + tm > 14 * 60)
					return false;
				v.tz_minutes = (int16_t) ((s[pos] == '-' ? -1 : 1) * (th * 60 + tm));
			}
			else
				return false;
			v.has_tz = true;
		}
		if (!valid_time_parts(v.hour, v.minute, v.second, v.millisecond, v.prec))
			return false;
	}
	*out = v;
	return true;
}

bool
cql_dt_parse_datetime(const char *s, int len, CqlDateTime *out)
{
	Scan		sc;
	CqlDateTime v;

	if (s == NULL)
		return false;
	if (len >= 0 && parse_common_datetime(s, len, out))
		return true;
	memset(&v, 0, sizeof(v));
	scan_init(&sc, s, len);
	if (!scan_date(&sc, &v))
		return false;
	if (scan_char(&sc, 'T'))
	{
		/* a time part needs a full date; "YYYYT" / "YYYY-MMT" allowed empty */
		if (!scan_at_end(&sc))
		{
			if (v.prec != CQL_PREC_DAY)
				return false;
			if (!scan_time(&sc, &v))
				return false;
		}
		if (!scan_at_end(&sc))
		{
			int			th,
						tm = 0,
						sign;

			if (scan_char(&sc, 'Z'))
			{
				v.has_tz = true;
				v.tz_minutes = 0;
			}
			else
			{
				if (scan_char(&sc, '+'))
					sign = 1;
				else if (scan_char(&sc, '-'))
					sign = -1;
				else
					return false;
				if (!scan_digits(&sc, 2, &th))
					return false;
				if (scan_char(&sc, ':'))
				{
					if (!scan_digits(&sc, 2, &tm))
						return false;
				}
				if (th > 14 || tm > 59 || th * 60 + tm > 14 * 60)
					return false;
				v.has_tz = true;
				v.tz_minutes = (int16_t) (sign * (th * 60 + tm));
			}
		}
	}
	if (!scan_at_end(&sc))
		return false;
	*out = v;
	return true;
}

bool
cql_dt_parse_date(const char *s, int len, CqlDateTime *out)
{
	Scan		sc;
	CqlDateTime v;

	if (s == NULL)
		return false;
	if (len == 10 && parse_common_datetime(s, len, out))
		return true;
	memset(&v, 0, sizeof(v));
	scan_init(&sc, s, len);
	if (!scan_date(&sc, &v) || !scan_at_end(&sc))
		return false;
	*out = v;
	return true;
}

bool
cql_dt_parse_time(const char *s, int len, CqlDateTime *out)
{
	Scan		sc;
	CqlDateTime v;

	if (s == NULL)
		return false;
	memset(&v, 0, sizeof(v));
	scan_init(&sc, s, len);
	scan_char(&sc, 'T');
	if (!scan_time(&sc, &v) || !scan_at_end(&sc))
		return false;
	*out = v;
	return true;
}

/* ---- printing ------------------------------------------------------------ */

static int
format_time_part(const CqlDateTime *v, char *buf, int buflen)
{
	switch (v->prec)
	{
		case CQL_PREC_HOUR:
			return snprintf(buf, buflen, "%02d", v->hour);
		case CQL_PREC_MINUTE:
			return snprintf(buf, buflen, "%02d:%02d", v->hour, v->minute);
		case CQL_PREC_SECOND:
			return snprintf(buf, buflen, "%02d:%02d:%02d",
							v->hour, v->minute, v->second);
		default:
			return snprintf(buf, buflen, "%02d:%02d:%02d.%03d",
							v->hour, v->minute, v->second, v->millisecond);
	}
}

int
cql_dt_format(const CqlDateTime *v, char kind, char *buf, int buflen)
{
	char		tmp[64];
	int			n;

	if (kind == 'H' || cql_dt_is_time(v))
	{
		n = format_time_part(v, tmp, sizeof(tmp));
	}
	else
	{
		int			prec = v->prec;

		if (kind == 'D' && prec > CQL_PREC_DAY)
			prec = CQL_PREC_DAY;
		if (prec == CQL_PREC_YEAR)
			n = snprintf(tmp, sizeof(tmp), "%04d", v->year);
		else if (prec == CQL_PREC_MONTH)
			n = snprintf(tmp, sizeof(tmp), "%04d-%02d", v->year, v->month);
		else
			n = snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d",
						 v->year, v->month, v->day);
		if (kind != 'D' && prec >= CQL_PREC_HOUR)
		{
			tmp[n++] = 'T';
			n += format_time_part(v, tmp + n, (int) sizeof(tmp) - n);
			if (v->has_tz)
			{
				int			tz = v->tz_minutes;
				char		sign = tz < 0 ? '-' : '+';

				if (tz < 0)
					tz = -tz;
				n += snprintf(tmp + n, sizeof(tmp) - n, "%c%02d:%02d",
							  sign, tz / 60, tz % 60);
			}
		}
	}
	if (buflen > 0)
	{
		int			c = n < buflen ? n : buflen - 1;

		memcpy(buf, tmp, c);
		buf[c] = '\0';
	}
	return n;
}

/* ---- normalisation --------------------------------------------------------- */

void
cql_dt_to_offset(const CqlDateTime *in, int16_t tz_minutes, CqlDateTime *out)
{
	CqlDateTime v = *in;

	if (!cql_dt_is_time(in) && in->has_tz && in->prec >= CQL_PREC_HOUR &&
		in->tz_minutes != tz_minutes)
	{
		int64_t		ms = local_ms(in) + (int64_t) (tz_minutes - in->tz_minutes) * MS_PER_MINUTE;

		/*
		 * At the very ends of the range the shifted value is unrepresentable:
		 * keep the wall time rather than produce year 0 or 10000.
		 */
		if (ms >= 0 && ms < day_number(CQL_MAX_YEAR + 1, 1, 1) * MS_PER_DAY)
		{
			set_from_local_ms(&v, ms);
			clear_finer(&v, v.prec);
		}
	}
	if (!cql_dt_is_time(in))
	{
		v.tz_minutes = tz_minutes;
		v.has_tz = true;
	}
	*out = v;
}

/*
 * Bring b (or a) to the other's offset when both carry offsets that differ:
 * the value with time components is converted, into the frame of the less
 * precise one when only one has a time, so that a value with no time is
 * never shifted.
 */
static void
normalise_pair(const CqlDateTime *a, const CqlDateTime *b,
			   CqlDateTime *na, CqlDateTime *nb)
{
	*na = *a;
	*nb = *b;
	if (cql_dt_is_time(a) || cql_dt_is_time(b) || !a->has_tz || !b->has_tz ||
		a->tz_minutes == b->tz_minutes)
		return;
	if (b->prec >= CQL_PREC_HOUR)
		cql_dt_to_offset(b, a->tz_minutes, nb);
	else if (a->prec >= CQL_PREC_HOUR)
		cql_dt_to_offset(a, b->tz_minutes, na);
}

/* ---- comparison ------------------------------------------------------------ */

int
cql_dt_compare(const CqlDateTime *a0, const CqlDateTime *b0, int prec, int *result)
{
	CqlDateTime a,
				b;
	int			i;
	int			last = prec < 0 ? CQL_PREC_MILLISECOND : prec;

	*result = 0;
	if (cql_dt_is_time(a0) != cql_dt_is_time(b0))
		return 1;
	if (last == CQL_PREC_WEEK)
		last = CQL_PREC_DAY;
	if (last > CQL_PREC_MILLISECOND)
		last = CQL_PREC_MILLISECOND;
	if (cql_dt_is_time(a0) && last < CQL_PREC_HOUR)
		return 1;
	normalise_pair(a0, b0, &a, &b);

	for (i = 0; i < N_COMPONENTS; i++)
	{
		CqlPrecision p = component_order[i];
		bool		ha,
					hb;

		if ((int) p > last)
			break;
		if (cql_dt_is_time(&a) && p < CQL_PREC_HOUR)
			continue;
		ha = has_component(&a, p);
		hb = has_component(&b, p);
		if (prec < 0 && p == CQL_PREC_SECOND && ha && hb)
		{
			/* seconds and milliseconds compare as one decimal number */
			int			sa = a.second * 1000 + (a.prec >= CQL_PREC_MILLISECOND ? a.millisecond : 0);
			int			sb = b.second * 1000 + (b.prec >= CQL_PREC_MILLISECOND ? b.millisecond : 0);

			*result = sa < sb ? -1 : (sa > sb ? 1 : 0);
			return 0;
		}
		if (ha && hb)
		{
			int			ca = get_component(&a, p);
			int			cb = get_component(&b, p);

			if (ca != cb)
			{
				*result = ca < cb ? -1 : 1;
				return 0;
			}
		}
		else if (!ha && !hb)
			return 0;
		else
			return 1;
	}
	return 0;
}

CqlTri
cql_dt_equal(const CqlDateTime *a, const CqlDateTime *b)
{
	int			r;

	if (cql_dt_compare(a, b, CQL_PREC_ALL, &r) != 0)
		return CQL_UNKNOWN;
	return r == 0 ? CQL_TRUE : CQL_FALSE;
}

bool
cql_dt_equivalent(const CqlDateTime *a, const CqlDateTime *b)
{
	int			r;

	if (cql_dt_is_time(a) != cql_dt_is_time(b))
		return false;
	if (cql_dt_compare(a, b, CQL_PREC_ALL, &r) != 0)
		return false;
	return r == 0;
}

CqlTri
cql_dt_same_as(const CqlDateTime *a, const CqlDateTime *b, int prec)
{
	int			r;

	if (cql_dt_compare(a, b, prec, &r) != 0)
		return CQL_UNKNOWN;
	return r == 0 ? CQL_TRUE : CQL_FALSE;
}

CqlTri
cql_dt_same_or_before(const CqlDateTime *a, const CqlDateTime *b, int prec)
{
	int			r;

	if (cql_dt_compare(a, b, prec, &r) != 0)
		return CQL_UNKNOWN;
	return r <= 0 ? CQL_TRUE : CQL_FALSE;
}

CqlTri
cql_dt_same_or_after(const CqlDateTime *a, const CqlDateTime *b, int prec)
{
	int			r;

	if (cql_dt_compare(a, b, prec, &r) != 0)
		return CQL_UNKNOWN;
	return r >= 0 ? CQL_TRUE : CQL_FALSE;
}

CqlTri
cql_dt_before(const CqlDateTime *a, const CqlDateTime *b, int prec)
{
	int			r;

	if (cql_dt_compare(a, b, prec, &r) != 0)
		return CQL_UNKNOWN;
	return r < 0 ? CQL_TRUE : CQL_FALSE;
}

CqlTri
cql_dt_after(const CqlDateTime *a, const CqlDateTime *b, int prec)
{
	int			r;

	if (cql_dt_compare(a, b, prec, &r) != 0)
		return CQL_UNKNOWN;
	return r > 0 ? CQL_TRUE : CQL_FALSE;
}

/* ---- components / truncation / boundaries ---------------------------------- */

bool
cql_dt_component(const CqlDateTime *v, CqlPrecision prec, int *out)
{
	if (!valid_unit(prec) || !has_component(v, prec))
		return false;
	*out = get_component(v, prec);
	return true;
}

bool
cql_dt_timezone(const CqlDateTime *v, int *out_minutes)
{
	if (cql_dt_is_time(v) || !v->has_tz)
		return false;
	*out_minutes = v->tz_minutes;
	return true;
}

void
cql_dt_truncate(const CqlDateTime *v, CqlPrecision prec, CqlDateTime *out)
{
	int			p = prec;

	*out = *v;
	if (p == CQL_PREC_WEEK)
		p = CQL_PREC_DAY;
	if (cql_dt_is_time(v) && p < CQL_PREC_HOUR)
		p = CQL_PREC_HOUR;
	if (p < out->prec)
	{
		out->prec = (uint8_t) p;
		clear_finer(out, p);
	}
}

void
cql_dt_date_from(const CqlDateTime *dt, CqlDateTime *out)
{
	cql_dt_truncate(dt, CQL_PREC_DAY, out);
	out->has_tz = false;
	out->tz_minutes = 0;
}

bool
cql_dt_time_from(const CqlDateTime *dt, CqlDateTime *out)
{
	CqlDateTime v = *dt;

	if (dt->prec < CQL_PREC_HOUR)
		return false;
	v.year = 0;
	v.month = 0;
	v.day = 0;
	v.has_tz = false;
	v.tz_minutes = 0;
	*out = v;
	return true;
}

static void
fill_boundary(const CqlDateTime *v, CqlPrecision prec, bool high, CqlDateTime *out)
{
	int			p = prec;
	int			i;

	if (p == CQL_PREC_WEEK)
		p = CQL_PREC_DAY;
	if (cql_dt_is_time(v) && p < CQL_PREC_HOUR)
		p = CQL_PREC_HOUR;
	*out = *v;
	if (p <= v->prec)
	{
		out->prec = (uint8_t) p;
		clear_finer(out, p);
		return;
	}
	for (i = 0; i < N_COMPONENTS; i++)
	{
		CqlPrecision c = component_order[i];
		int			x = 0;

		if ((int) c <= v->prec || (int) c > p)
			continue;
		if (cql_dt_is_time(v) && c < CQL_PREC_HOUR)
			continue;
		switch (c)
		{
			case CQL_PREC_MONTH:
				x = high ? 12 : 1;
				break;
			case CQL_PREC_DAY:
				x = high ? cql_days_in_month(out->year, out->month) : 1;
				break;
			case CQL_PREC_HOUR:
				x = high ? 23 : 0;
				break;
			case CQL_PREC_MINUTE:
			case CQL_PREC_SECOND:
				x = high ? 59 : 0;
				break;
			case CQL_PREC_MILLISECOND:
				x = high ? 999 : 0;
				break;
			default:
				break;
		}
		set_component(out, c, x);
	}
	out->prec = (uint8_t) p;
}

/* like fill_boundary, but never truncates a value finer than prec */
static void
extend_boundary(const CqlDateTime *v, int prec, bool high, CqlDateTime *out)
{
	if (prec <= v->prec)
		*out = *v;
	else
		fill_boundary(v, (CqlPrecision) prec, high, out);
}

void
cql_dt_low_boundary(const CqlDateTime *v, CqlPrecision prec, CqlDateTime *out)
{
	fill_boundary(v, prec, false, out);
}

void
cql_dt_high_boundary(const CqlDateTime *v, CqlPrecision prec, CqlDateTime *out)
{
	fill_boundary(v, prec, true, out);
}

/* ---- arithmetic ------------------------------------------------------------- */

bool
cql_dt_add(const CqlDateTime *a, int64_t amount, CqlPrecision unit, CqlDateTime *out)
{
	CqlDateTime v;
	int			vprec = a->prec;

	if (!valid_unit(unit))
		return false;

	if (cql_dt_is_time(a))
	{
		int64_t		umsv = unit_ms(unit);
		int64_t		per_day;
		int64_t		ms;

		if (unit < CQL_PREC_HOUR)
			return false;
		per_day = MS_PER_DAY / umsv;
		amount %= per_day;		/* whole days wrap away: no overflow below */
		if ((int) unit > vprec)
			fill_boundary(a, CQL_PREC_MILLISECOND, amount < 0, &v);
		else
			v = *a;
		ms = floor_mod(time_of_day_ms(&v) + amount * umsv, MS_PER_DAY);
		v.hour = (int8_t) (ms / MS_PER_HOUR);
		v.minute = (int8_t) (ms / MS_PER_MINUTE % 60);
		v.second = (int8_t) (ms / MS_PER_SECOND % 60);
		v.millisecond = (int16_t) (ms % 1000);
		v.prec = (uint8_t) vprec;
		clear_finer(&v, vprec);
		*out = v;
		return true;
	}

	/* start from the earliest (or latest) instant a denotes at the unit */
	if ((int) unit > vprec)
		fill_boundary(a, CQL_PREC_MILLISECOND, amount < 0, &v);
	else
		v = *a;

	if (unit == CQL_PREC_YEAR || unit == CQL_PREC_MONTH)
	{
		int64_t		months;
		int			dim;

		/* bound amount so the arithmetic cannot overflow */
		if (amount > INT64_C(1000000) || amount < INT64_C(-1000000))
			return false;
		months = (int64_t) v.year * 12 + (v.prec >= CQL_PREC_MONTH ? v.month - 1 : 0)
			+ (unit == CQL_PREC_YEAR ? amount * 12 : amount);
		if (months < (int64_t) CQL_MIN_YEAR * 12 || months > (int64_t) CQL_MAX_YEAR * 12 + 11)
			return false;
		v.year = (int16_t) (months / 12);
		if (v.prec >= CQL_PREC_MONTH)
			v.month = (int8_t) (months % 12 + 1);
		if (v.prec >= CQL_PREC_DAY)
		{
			dim = cql_days_in_month(v.year, v.month);
			if (v.day > dim)
				v.day = (int8_t) dim;
		}
	}
	else
	{
		int64_t		umsv = unit_ms(unit);
		int64_t		limit = (INT64_C(10000) * 366 * MS_PER_DAY) / umsv;
		int64_t		ms;

		if (amount > limit || amount < -limit)
			return false;
		ms = local_ms(&v) + amount * umsv;
		if (ms < 0 || ms >= day_number(CQL_MAX_YEAR + 1, 1, 1) * MS_PER_DAY)
			return false;
		set_from_local_ms(&v, ms);
	}
	v.prec = (uint8_t) vprec;
	clear_finer(&v, vprec);
	*out = v;
	return true;
}

/* ---- durations and differences ---------------------------------------------- */

/*
 * Whole periods from x to y, both filled to the same precision and in the
 * same offset.  Years and months count anniversaries: the partial period is
 * complete when the rest of y (month.., or day..) reaches the rest of x.
 */
static int64_t
whole_periods(const CqlDateTime *x, const CqlDateTime *y, CqlPrecision unit)
{
	int64_t		lx,
				ly;

	if (cql_dt_is_time(x))
	{
		lx = time_of_day_ms(x);
		ly = time_of_day_ms(y);
	}
	else
	{
		lx = local_ms(x);
		ly = local_ms(y);
	}
	if (ly < lx)
		return -whole_periods(y, x, unit);

	if (unit == CQL_PREC_YEAR || unit == CQL_PREC_MONTH)
	{
		/* rest-of-period offsets: ms into the month, and into the year */
		int64_t		rx = lx - day_number(x->year, x->month >= 1 ? x->month : 1, 1) * MS_PER_DAY;
		int64_t		ry = ly - day_number(y->year, y->month >= 1 ? y->month : 1, 1) * MS_PER_DAY;
		int64_t		n;

		if (unit == CQL_PREC_YEAR)
		{
			n = y->year - x->year;
			if (y->month < x->month || (y->month == x->month && ry < rx))
				n--;
		}
		else
		{
			n = ((int64_t) y->year * 12 + y->month) - ((int64_t) x->year * 12 + x->month);
			if (ry < rx)
				n--;
		}
		return n;
	}
	return (ly - lx) / unit_ms(unit);
}

static int
max_int(int a, int b)
{
	return a > b ? a : b;
}

bool
cql_dt_duration_between(const CqlDateTime *a, const CqlDateTime *b,
						CqlPrecision unit, int64_t *lo, int64_t *hi)
{
	CqlDateTime aL,
				aH,
				bL,
				bH;
	int			ueff = unit == CQL_PREC_WEEK ? CQL_PREC_DAY : unit;
	int			q;

	if (!valid_unit(unit))
		return false;
	if (cql_dt_is_time(a) != cql_dt_is_time(b))
		return false;
	if (cql_dt_is_time(a) && unit < CQL_PREC_HOUR)
		return false;

	/*
	 * A value less precise than the unit is uncertain: it spans its earliest
	 * to its latest instant.  A value precise to the unit is certain, its
	 * missing finer components count as their minimum, so two day-precision
	 * values are a certain number of days apart.
	 */
	q = cql_dt_is_time(a) ? CQL_PREC_MILLISECOND : max_int(max_int(a->prec, b->prec), ueff);
	extend_boundary(a, q, false, &aL);
	extend_boundary(a, q, a->prec < ueff, &aH);
	extend_boundary(b, q, false, &bL);
	extend_boundary(b, q, b->prec < ueff, &bH);
	if (q >= CQL_PREC_HOUR && !cql_dt_is_time(a) && a->has_tz && b->has_tz &&
		a->tz_minutes != b->tz_minutes)
	{
		cql_dt_to_offset(&bL, a->tz_minutes, &bL);
		cql_dt_to_offset(&bH, a->tz_minutes, &bH);
	}
	*lo = whole_periods(&aH, &bL, unit);
	*hi = whole_periods(&aL, &bH, unit);
	return true;
}

/* boundaries crossed between x and y, both truncated to unit, same offset */
static int64_t
boundaries_crossed(const CqlDateTime *x, const CqlDateTime *y, CqlPrecision unit)
{
	switch (unit)
	{
		case CQL_PREC_YEAR:
			return (int64_t) y->year - x->year;
		case CQL_PREC_MONTH:
			return ((int64_t) y->year * 12 + y->month) - ((int64_t) x->year * 12 + x->month);
		case CQL_PREC_WEEK:
			/* weeks start on Sunday; day 0 (0001-01-01) was a Monday */
			{
				int64_t		dx = day_number(x->year, x->month, x->day);
				int64_t		dy = day_number(y->year, y->month, y->day);

				dx -= floor_mod(dx + 1, 7);
				dy -= floor_mod(dy + 1, 7);
				return (dy - dx) / 7;
			}
		default:
			if (cql_dt_is_time(x))
				return (time_of_day_ms(y) - time_of_day_ms(x)) / unit_ms(unit);
			return (local_ms(y) - local_ms(x)) / unit_ms(unit);
	}
}

bool
cql_dt_difference_between(const CqlDateTime *a, const CqlDateTime *b,
						  CqlPrecision unit, int64_t *lo, int64_t *hi)
{
	CqlDateTime aL,
				aH,
				bL,
				bH;
	CqlPrecision ueff = unit == CQL_PREC_WEEK ? CQL_PREC_DAY : unit;

	if (!valid_unit(unit))
		return false;
	if (cql_dt_is_time(a) != cql_dt_is_time(b))
		return false;
	if (cql_dt_is_time(a) && unit < CQL_PREC_HOUR)
		return false;

	if (ueff <= CQL_PREC_DAY || cql_dt_is_time(a))
	{
		/* calendar units: truncate without normalising offsets */
		fill_boundary(a, ueff, false, &aL);
		fill_boundary(a, ueff, true, &aH);
		fill_boundary(b, ueff, false, &bL);
		fill_boundary(b, ueff, true, &bH);
	}
	else
	{
		CqlDateTime t;

		/* real elapsed time: normalise at full precision, then truncate */
		fill_boundary(a, CQL_PREC_MILLISECOND, false, &aL);
		fill_boundary(a, CQL_PREC_MILLISECOND, true, &aH);
		fill_boundary(b, CQL_PREC_MILLISECOND, false, &bL);
		fill_boundary(b, CQL_PREC_MILLISECOND, true, &bH);
		if (a->has_tz && b->has_tz && a->tz_minutes != b->tz_minutes)
		{
			cql_dt_to_offset(&bL, a->tz_minutes, &bL);
			cql_dt_to_offset(&bH, a->tz_minutes, &bH);
		}
		t = aL;
		cql_dt_truncate(&t, ueff, &aL);
		t = aH;
		cql_dt_truncate(&t, ueff, &aH);
		t = bL;
		cql_dt_truncate(&t, ueff, &bL);
		t = bH;
		cql_dt_truncate(&t, ueff, &bH);

		/*
		 * A value precise to the unit is certain: shift it at its own
		 * precision (an offset of +05:30 must not split an hour in two).
		 */
		if (a->prec >= ueff)
		{
			cql_dt_truncate(a, ueff, &aL);
			aH = aL;
		}
		if (b->prec >= ueff)
		{
			t = *b;
			if (a->has_tz && b->has_tz)
				cql_dt_to_offset(b, a->tz_minutes, &t);
			cql_dt_truncate(&t, ueff, &bL);
			bH = bL;
		}
	}
	*lo = boundaries_crossed(&aH, &bL, unit);
	*hi = boundaries_crossed(&aL, &bH, unit);
	return true;
}

bool
cql_dt_age_at(const CqlDateTime *birth, const CqlDateTime *as_of,
			  CqlPrecision unit, int64_t *lo, int64_t *hi)
{
	if (cql_dt_is_time(birth) || cql_dt_is_time(as_of))
		return false;
	if (unit <= CQL_PREC_DAY)
	{
		CqlDateTime b,
					o;

		cql_dt_date_from(birth, &b);
		cql_dt_date_from(as_of, &o);

		/*
		 * Whole years between two full dates (every age in years the
		 * measures ask): the anniversaries passed, certain.  What
		 * cql_dt_duration_between computes, without the millisecond
		 * arithmetic.
		 */
		if (unit == CQL_PREC_YEAR && b.prec == CQL_PREC_DAY && o.prec == CQL_PREC_DAY)
		{
			const CqlDateTime *x = &b,
					   *y = &o;
			int64_t		n;
			bool		negative = y->year < x->year ||
				(y->year == x->year && (y->month < x->month ||
										(y->month == x->month && y->day < x->day)));

			if (negative)
			{
				x = &o;
				y = &b;
			}
			n = y->year - x->year;
			if (y->month < x->month || (y->month == x->month && y->day < x->day))
				n--;
			*lo = *hi = negative ? -n : n;
			return true;
		}
		return cql_dt_duration_between(&b, &o, unit, lo, hi);
	}
	return cql_dt_duration_between(birth, as_of, unit, lo, hi);
}
