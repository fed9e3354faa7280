/*
 * search_path.c
 *		See search_path.h.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "common/search_path.h"

int
search_path_pin(void)
{
	int			level = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return level;
}

/* an error before this is undone by the (sub)transaction's abort */
void
search_path_restore(int level)
{
	AtEOXact_GUC(true, level);
}
