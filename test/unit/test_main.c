/*
 * test_main.c
 *		Runs the CQL temporal and quantity unit tests; prints each failure and
 *		a closing "N passed, N failed" line, exit status 1 on any failure.
 */
#include "test_unit.h"

int			tests_passed = 0;
int			tests_failed = 0;

int
main(void)
{
	test_cql_temporal();
	test_cql_quantity();
	printf("%d passed, %d failed\n", tests_passed, tests_failed);
	return tests_failed == 0 ? 0 : 1;
}
