/*
 * search_path.h
 *		Pinning search_path around the SQL a C function runs through SPI.
 *
 * The hot engine functions are not declared with SET search_path: that
 * clause saves and restores the GUC on every call (about 7,000 instructions,
 * 4-10 % of an evaluation), while the engine runs SQL only rarely (loading a
 * library, a value set, a measure; the knowledge check once per statement).
 * Those queries pin search_path themselves; the per-patient queries qualify
 * their operators and need nothing.
 */
#ifndef HEDIS_SEARCH_PATH_H
#define HEDIS_SEARCH_PATH_H

/* search_path = pg_catalog, pg_temp until search_path_restore(level) */
extern int	search_path_pin(void);
extern void search_path_restore(int level);

#endif
