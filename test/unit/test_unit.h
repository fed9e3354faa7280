/*
 * test_unit.h
 *		Minimal assertion helpers for the standalone C unit tests.
 */
#ifndef TEST_UNIT_H
#define TEST_UNIT_H

#include <stdio.h>
#include <string.h>

extern int	tests_passed;
extern int	tests_failed;

#define CHECK(cond) \
	do { \
		if (cond) \
			tests_passed++; \
		else \
		{ \
			tests_failed++; \
			printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		} \
	} while (0)

#define CHECK_INT(actual, expected) \
	do { \
		long long	a_ = (long long) (actual); \
		long long	e_ = (long long) (expected); \
		if (a_ == e_) \
			tests_passed++; \
		else \
		{ \
			tests_failed++; \
			printf("FAIL %s:%d: %s = %lld, expected %lld\n", \
				   __FILE__, __LINE__, #actual, a_, e_); \
		} \
	} while (0)

#define CHECK_STR(actual, expected) \
	do { \
		const char *a_ = (actual); \
		const char *e_ = (expected); \
		if (strcmp(a_, e_) == 0) \
			tests_passed++; \
		else \
		{ \
			tests_failed++; \
			printf("FAIL %s:%d: %s = \"%s\", expected \"%s\"\n", \
				   __FILE__, __LINE__, #actual, a_, e_); \
		} \
	} while (0)

#define CHECK_DBL(actual, expected) \
	do { \
		double		a_ = (actual); \
		double		e_ = (expected); \
		double		d_ = a_ - e_; \
		if (d_ < 0) d_ = -d_; \
		if (d_ <= 1e-9 * (e_ < 0 ? -e_ : e_) + 1e-12) \
			tests_passed++; \
		else \
		{ \
			tests_failed++; \
			printf("FAIL %s:%d: %s = %.17g, expected %.17g\n", \
				   __FILE__, __LINE__, #actual, a_, e_); \
		} \
	} while (0)

void		test_cql_temporal(void);
void		test_cql_quantity(void);

#endif
