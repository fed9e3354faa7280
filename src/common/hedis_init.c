/*
 * hedis_init.c
 *		PG_MODULE_MAGIC and _PG_init for the whole extension.
 *
 * Owns nothing but the order in which subsystems start; see hedis_init.h.
 * After the subsystems have defined their GUCs the "hedis" prefix is
 * reserved, so a misspelt hedis.* setting is reported instead of ignored.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "common/hedis_init.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	static bool initialised = false;

	if (initialised)
		return;
	initialised = true;

	if (hedis_store_init)
		hedis_store_init();
	if (hedis_engine_init)
		hedis_engine_init();
	if (hedis_runs_init)
		hedis_runs_init();

	MarkGUCPrefixReserved("hedis");
}
