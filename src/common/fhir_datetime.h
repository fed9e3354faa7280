/*
 * fhir_datetime.h
 *		Parse FHIR date / dateTime / instant strings without raising errors.
 *
 * Owner: foundation (src/common).  Used by the loaders to fill
 * period_start/period_end; usable by anyone who needs the same reading.
 */
#ifndef FHIR_DATETIME_H
#define FHIR_DATETIME_H

#include "postgres.h"
#include "datatype/timestamp.h"
#include "utils/date.h"

/*
 * Parse s[0..len) as a FHIR date ("2026", "2026-03", "2026-03-05") or
 * dateTime/instant ("2026-03-05T10:20:30.123+01:00", "...Z").  On success
 * *lo is the first and *hi the last microsecond the value can denote at its
 * precision (equal when seconds are given), and *precision is the
 * number of components given (1 year .. 6 seconds, 7 with fraction).  A value
 * without a time zone is read as UTC.  Returns false, touching nothing, when
 * the text is not a valid FHIR date/dateTime.
 */
extern bool fhir_datetime_parse(const char *s, int len,
								TimestampTz *lo, TimestampTz *hi,
								int *precision);

/* Parse a FHIR date (partial dates: first day of the year/month). */
extern bool fhir_date_parse(const char *s, int len, DateADT *result);

#endif							/* FHIR_DATETIME_H */
