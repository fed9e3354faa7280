/*
 * hedis_init.h
 *		Module initialisation: the one _PG_init of pg_hedis.
 *
 * Owner: foundation (src/common).  Each subsystem that needs start-up work
 * (GUCs, hooks, shared memory, background workers) defines one of the
 * functions below in its own folder; _PG_init calls every one that is
 * linked in (they are weak references, so a subsystem that defines none
 * needs no change here).  Order: store, engine, runs.
 */
#ifndef HEDIS_INIT_H
#define HEDIS_INIT_H

extern void hedis_store_init(void) __attribute__((weak));
extern void hedis_engine_init(void) __attribute__((weak));
extern void hedis_runs_init(void) __attribute__((weak));

#endif							/* HEDIS_INIT_H */
