/*
 * hedis_engine.h
 *		The measure engine's C interface for the rest of the extension.
 *
 * Owner: the measure engine (src/engine).  Population runs (src/runs) and the
 * SQL entry points call only what is declared here; everything else in
 * src/engine is private to the engine.
 */
#ifndef HEDIS_ENGINE_H
#define HEDIS_ENGINE_H

#include "postgres.h"
#include "utils/date.h"
#include "utils/jsonb.h"

/*
 * Evaluate one measure for one patient (by internal patient_key) over the
 * measurement period [period_start, period_end] (whole days, inclusive).
 *
 * measure_ref is the Measure's canonical url (optionally "url|version") or its
 * name.  The result is a compact jsonb, allocated in CurrentMemoryContext:
 *
 *   {"patient": "<FHIR id>",
 *    "groups": [ {"id": "<group id or index>",
 *                 "populations": {"initial-population": 1, "denominator": 1,
 *                                 "denominator-exclusion": 0, "numerator": 1, ...},
 *                 "observations": [ [<value>, ...], ... ],    (groups with measure observations)
 *                 "stratifiers": [ {"id": "<stratifier id>", "value": <jsonb>}, ... ] } ] }
 *
 * An episodic stratifier (an episode-based group's stratifier whose value is
 * a list of episodes) is {"id": ..., "value": true, "populations": {...},
 * "observations": [...]}: the counts and observations of the episodes the
 * list holds.
 *
 * Population values are counts: 0/1 for patient-based measures, the number of
 * episodes for episode-based ones; "measure-observation" counts the
 * observations of all the group's measure-observation populations, whose
 * values "observations" lists, one list per such population in the
 * Measure's order: numbers (of a Quantity its value: the unit is not kept,
 * so observations in different units would be added as they are), other
 * values as their JSON.  Must be called inside a transaction; uses
 * SPI internally.  Raises ERROR (with errcode) for an unknown measure.
 */
extern Jsonb *hedis_measure_evaluate_patient(const char *measure_ref,
											 int64 patient_key,
											 DateADT period_start,
											 DateADT period_end);

/*
 * The same result without its "patient" member (the patient's "outcome"):
 * {"groups": [...]}.  The patients of a measure share a handful of outcomes,
 * which population runs store once each.
 */
extern Jsonb *hedis_measure_evaluate_outcome(const char *measure_ref,
											 int64 patient_key,
											 DateADT period_start,
											 DateADT period_end);

/*
 * Population evaluations (hedis.evaluate_population, population runs) screen
 * their patients by birth date first (measure_prescreen.c): of n patients,
 * given their hedis.patient.birth_date (nulls[i]: none), outside[i] is set
 * for those outside every initial population of the measure whatever their
 * other data; returns how many.  None when the measure's initial
 * populations do not all open with an age range, or hedis.prescreen is off.
 * Their outcome is hedis_measure_outside_outcome's, the one the full
 * evaluation gives such a patient.
 */
extern int	hedis_measure_screen(const char *measure_ref,
								 DateADT period_start, DateADT period_end,
								 const DateADT *birth_dates, const bool *nulls, int n,
								 bool *outside);
extern Jsonb *hedis_measure_outside_outcome(const char *measure_ref,
											DateADT period_start,
											DateADT period_end);

/*
 * Before evaluating a batch of patients (keys ascending), read their index
 * entries in one pass; their evaluations in this transaction then fetch
 * resources by TID instead of searching the index per patient.  skip (NULL:
 * none) marks the batch's patients that will not be evaluated (screened out
 * by hedis_measure_screen): their entries are not kept.  Forget them before
 * anything may change the store, and at the end of the batch.
 */
extern void hedis_engine_prefetch_patients(const int64 *keys, const bool *skip, int n);
extern void hedis_engine_prefetch_forget(void);

/*
 * Release the per-backend caches (compiled libraries, value sets).  Called by
 * long-running workers between runs; harmless at any time.
 */
extern void hedis_engine_reset_caches(void);

#endif							/* HEDIS_ENGINE_H */
