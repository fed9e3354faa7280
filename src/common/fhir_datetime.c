/*
 * fhir_datetime.c
 *		FHIR date/dateTime parsing to PostgreSQL timestamps, never throwing.
 *
 * The loaders read dates of millions of resources: a hand-written parser is
 * both faster than timestamptz_in and lets a bad value be reported as a
 * rejected line instead of an aborted load.
 */
#include "postgres.h"

#include "common/fhir_datetime.h"
#include "datatype/timestamp.h"
#include "utils/datetime.h"

static bool
read_digits(const char *s, int len, int *pos, int n, int *value)
{
	int			v = 0;

	if (*pos + n > len)
		return false;
	for (int i = 0; i < n; i++)
	{
		char		c = s[*pos + i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*pos += n;
	*value = v;
	return true;
}

static int
days_in_month(int year, int month)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return 29;
	return mdays[month - 1];
}

/* microseconds since 2000-01-01 00:00 UTC of a civil date + time */
static TimestampTz
civil_to_timestamp(int year, int month, int day, int64 usec_of_day)
{
	int64		days = date2j(year, month, day) - POSTGRES_EPOCH_JDATE;

	return days * USECS_PER_DAY + usec_of_day;
}

bool
fhir_datetime_parse(const char *s, int len, TimestampTz *lo, TimestampTz *hi,
					int *precision)
{
	int			pos = 0;
	int			year,
				month = 1,
				day = 1,
				hour = 0,
				minute = 0,
				second = 0;
	int64		fraction_usec = 0;
	int			prec;
	int64		tz_offset_usec = 0;
	TimestampTz start,
				end;

	if (!read_digits(s, len, &pos, 4, &year) || year < 1)
		return false;
	prec = 1;
	if (pos < len && s[pos] == '-')
	{
		pos++;
		if (!read_digits(s, len, &pos, 2, &month) || month < 1 || month > 12)
			return false;
		prec = 2;
		if (pos < len && s[pos] == '-')
		{
			pos++;
			if (!read_digits(s, len, &pos, 2, &day) || day < 1 ||
				day > days_in_month(year, month))
				return false;
			prec = 3;
		}
	}
	if (prec == 3 && pos < len && s[pos] == 'T')
	{
		pos++;
		if (!read_digits(s, len, &pos, 2, &hour) || hour > 23)
			return false;
		if (pos >= len || s[pos] != ':')
			return false;
		pos++;
		if (!read_digits(s, len, &pos, 2, &minute) || minute > 59)
			return false;
		prec = 5;
		if (pos < len && s[pos] == ':')
		{
			pos++;
			if (!read_digits(s, len, &pos, 2, &second) || second > 60)
				return false;
			if (second == 60)
				second = 59;	/* leap second: clamp */
			prec = 6;
			if (pos < len && s[pos] == '.')
			{
				int			ndigits = 0;
				int64		scale = USECS_PER_SEC;

				pos++;
				while (pos < len && s[pos] >= '0' && s[pos] <= '9')
				{
					if (ndigits < 6)
					{
						scale /= 10;
						fraction_usec += (s[pos] - '0') * scale;
					}
					ndigits++;
					pos++;
				}
				if (ndigits == 0)
					return false;
				prec = 7;
			}
		}
		/* time zone: Z or +hh:mm / -hh:mm (FHIR requires one; be lenient) */
		if (pos < len && s[pos] == 'Z')
			pos++;
		else if (pos < len && (s[pos] == '+' || s[pos] == '-'))
		{
			int			sign = s[pos] == '-' ? -1 : 1;
			int			tzh,
						tzm;

			pos++;
			if (!read_digits(s, len, &pos, 2, &tzh) || tzh > 14)
				return false;
			if (pos >= len || s[pos] != ':')
				return false;
			pos++;
			if (!read_digits(s, len, &pos, 2, &tzm) || tzm > 59)
				return false;
			tz_offset_usec = sign * ((int64) tzh * USECS_PER_HOUR + (int64) tzm * USECS_PER_MINUTE);
		}
	}
	if (pos != len)
		return false;

	start = civil_to_timestamp(year, month, day,
							   (int64) hour * USECS_PER_HOUR +
							   (int64) minute * USECS_PER_MINUTE +
							   (int64) second * USECS_PER_SEC + fraction_usec)
		- tz_offset_usec;

	switch (prec)
	{
		case 1:
			end = civil_to_timestamp(year, 12, 31, USECS_PER_DAY - 1);
			break;
		case 2:
			end = civil_to_timestamp(year, month, days_in_month(year, month),
									 USECS_PER_DAY - 1);
			break;
		case 3:
			end = start + USECS_PER_DAY - 1;
			break;
		case 5:
			end = start + USECS_PER_MINUTE - 1;
			break;
		default:
			/* seconds given: a point in time */
			end = start;
			break;
	}
	if (!IS_VALID_TIMESTAMP(start) || !IS_VALID_TIMESTAMP(end))
		return false;

	*lo = start;
	*hi = end;
	if (precision)
		*precision = prec;
	return true;
}

bool
fhir_date_parse(const char *s, int len, DateADT *result)
{
	TimestampTz lo,
				hi;
	int			prec;

	/* a birthDate may carry no time; take only the date part of anything */
	if (!fhir_datetime_parse(s, len > 10 ? 10 : len, &lo, &hi, &prec))
		return false;
	*result = (DateADT) (lo / USECS_PER_DAY);
	return true;
}
