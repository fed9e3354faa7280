/*
 * measure.h
 *		Compiled FHIR Measures and their per-patient evaluation.
 */
#ifndef MEASURE_H
#define MEASURE_H

#include "utils/date.h"

#include "engine/elm.h"

#define HEDIS_POP_IP		0
#define HEDIS_POP_DEN		1
#define HEDIS_POP_DENEX		2
#define HEDIS_POP_DENEXCEP	3
#define HEDIS_POP_NUMER		4
#define HEDIS_POP_NUMEX		5
#define HEDIS_POP_MPOP		6
#define HEDIS_POP_MPOPEX	7
#define HEDIS_POP_MOBS		8
#define HEDIS_NPOP			9

#define HEDIS_EVIDENCE_URL "https://pg-hedis.dev/fhir/StructureDefinition/definition-result"
#define HEDIS_SDE_URL "https://pg-hedis.dev/fhir/StructureDefinition/supplemental-data"

typedef struct MeasureStratifier
{
	const char *id;
	ElmDef	   *def;
	/* a supplemental data element's "id" and "definition" in a report, as jsonb (measure_report.c) */
	struct varlena *report_parts[2];
} MeasureStratifier;

/*
 * A measure-observation population: a function of the measure's library
 * applied to each member (episode) of the population it observes, its
 * results combined by the aggregate method into the measure score.
 * Continuous-variable groups have one (observing the measure population);
 * ratio groups may have two, one observing the denominator and one the
 * numerator (cqfm-criteriaReference).
 */
#define HEDIS_MAX_OBSERVATIONS 2

typedef enum MeasureAggregate
{
	AGG_NONE,					/* no aggregate method: no measure score */
	AGG_SUM,
	AGG_AVERAGE,
	AGG_MEDIAN,
	AGG_MINIMUM,
	AGG_MAXIMUM,
	AGG_COUNT
} MeasureAggregate;

typedef struct MeasureObservation
{
	const char *id;
	ElmFunction *function;
	MeasureAggregate aggregate;
	int			observed;		/* the population observed (HEDIS_POP_*) */
} MeasureObservation;

typedef struct MeasureGroup
{
	const char *id;
	const char *scoring;
	bool		ratio;			/* ratio scoring: numerator independent of the denominator */
	bool		patient_based;
	ElmDef	   *pop[HEDIS_NPOP];	/* NULL where the group has no such population */
	const char *pop_id[HEDIS_NPOP];
	int			nstrat;
	MeasureStratifier *strat;
	int			nobs;			/* measure observations (pop[HEDIS_POP_MOBS] stays NULL) */
	MeasureObservation obs[HEDIS_MAX_OBSERVATIONS];
	/* its initial population's age range: an In or comparison node (measure_prescreen.c); NULL: none */
	const ElmNode *age_range;
} MeasureGroup;

typedef struct MeasureDef
{
	const char *url;
	const char *version;
	const char *name;
	ElmLibrary *lib;
	int			ngroups;
	MeasureGroup *groups;
	int			nsde;
	MeasureStratifier *sde;
	const char **retrieved;		/* the resource types the logic reads */
	int			nretrieved;
	/* every group has an age range: patients can be screened by birth date */
	bool		prescreen;
	/* compact results by combination of counts (measure_report.c) */
	struct ResultTemplate *templates;
	int			ntemplates;
} MeasureDef;

typedef struct ResultTemplate ResultTemplate;

/*
 * One stratifier's stratum for one patient.  Usually the patient's: the
 * stratifier's value names it and the group's counts are its counts.  In an
 * episode-based group a stratifier whose value is a list of episodes
 * ("Stratification 1" returning the encounters of an age band, as eCQMs of
 * encounters are written) is episodic: its stratum holds the episodes of
 * each population that the list holds, with their own counts and
 * observations.
 */
typedef struct StratumResult
{
	bool		episodic;
	int			count[HEDIS_NPOP];
	CqlValue	observations[HEDIS_MAX_OBSERVATIONS];
} StratumResult;

typedef struct GroupResult
{
	int			count[HEDIS_NPOP];
	CqlValue   *strat_values;
	StratumResult *strata;		/* one per stratifier */
	/* each measure observation's values (the non-null function results) */
	CqlValue	observations[HEDIS_MAX_OBSERVATIONS];
} GroupResult;

extern MeasureDef *measure_get(const char *ref);

/* does the group have population p (measure observations: its observations)? */
static inline bool
measure_group_has(const MeasureGroup *mg, int p)
{
	return p == HEDIS_POP_MOBS ? mg->nobs > 0 : mg->pop[p] != NULL;
}

extern const char *measure_population_code(int i);
extern void measure_ctx_begin(EvalCtx *cx, MemoryContext mcxt, PatientData *pd,
							  DateADT period_start, DateADT period_end);
extern void measure_eval_group(EvalCtx *cx, MeasureGroup *g, GroupResult *r);

/* patients outside every initial population by their birth date (measure_prescreen.c) */
extern bool hedis_prescreen;
typedef struct MeasureAgeRange
{
	CqlDateTime as_of;			/* the age is taken at */
	int			precision;		/* CqlPrecision of the age: years, months... */
	bool		has_low;		/* In has both bounds; age >= 18 only a low one */
	bool		has_high;
	int64		low;
	int64		high;
	bool		low_closed;
	bool		high_closed;
} MeasureAgeRange;
extern void measure_prescreen_compile(MeasureDef *m);
/* ranges: one per group */
extern bool measure_prescreen_prepare(EvalCtx *cx, MeasureDef *m, MeasureAgeRange *ranges);
extern bool measure_prescreen_outside(const MeasureDef *m, const MeasureAgeRange *ranges,
									  DateADT birth_date);
extern bool measure_observation_number(CqlValue v, double *out);
extern bool measure_score(MeasureGroup *g, GroupResult *r, double *score);
extern GroupResult measure_stratum_result(GroupResult *r, int s);
/* measure_report.c */
extern Jsonb *measure_result_jsonb(MeasureDef *m, const char *patient_id, GroupResult *results);
extern Jsonb *measure_outcome_jsonb(MeasureDef *m, GroupResult *results);
extern Jsonb *measure_report_jsonb(EvalCtx *cx, MeasureDef *m, const char *patient_id,
								   DateADT period_start, DateADT period_end,
								   GroupResult *results);

#endif							/* MEASURE_H */
