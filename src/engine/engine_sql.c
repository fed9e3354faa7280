/*
 * engine_sql.c
 *		SQL entry points of the measure engine and its C interface for the
 *		rest of the extension (hedis_engine.h).  Only fmgr glue, memory and
 *		SPI bracketing live here; the logic is in measure.c and elm_*.c.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "common/hedis_init.h"
#include "engine/cql_arena.h"
#include "engine/elm_ops.h"
#include "engine/fhir_data.h"
#include "engine/hedis_engine.h"
#include "engine/measure.h"

static const struct config_enum_entry profile_matching_options[] = {
	{"declared", PROFILE_MATCH_DECLARED, false},
	{"strict", PROFILE_MATCH_STRICT, false},
	{"none", PROFILE_MATCH_NONE, false},
	{NULL, 0, false}
};

void
hedis_engine_init(void)
{
	DefineCustomEnumVariable("hedis.profile_matching",
							 "How a retrieve's QI-Core profile selects resources.",
							 "declared: trust meta.profile when a resource declares QI-Core profiles, "
							 "else apply the profile's content criteria; strict: meta.profile only; "
							 "none: resource type only.",
							 &hedis_profile_matching, PROFILE_MATCH_DECLARED,
							 profile_matching_options, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("hedis.timezone_offset",
							"Timezone offset, in minutes, given to date-times that carry none.",
							NULL, &cql_default_tz_minutes, 0, -14 * 60, 14 * 60,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("hedis.prescreen",
							 "Population evaluations leave out by birth date the patients "
							 "outside every initial population's age range.",
							 "They read hedis.patient.birth_date, which the loaders write from "
							 "the Patient resource; off evaluates every patient in full.",
							 &hedis_prescreen, true, PGC_USERSET, 0, NULL, NULL, NULL);
}

static Jsonb *
text_to_jsonb(const char *s)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s)));
}

/*
 * Evaluate a measure for a patient: the compact result or the MeasureReport,
 * as jsonb in the caller's memory context.
 */
/*
 * One evaluation context per backend, reset after each patient: its first
 * block (kept by a reset) holds a typical patient's values, so evaluating a
 * population does not malloc and free blocks patient after patient.  A
 * nested evaluation (not expected) gets a context of its own.
 */
#define EVAL_CONTEXT_BLOCK (256 * 1024)

static MemoryContext evaluation_context = NULL;
static bool evaluation_context_busy = false;

static MemoryContext
evaluation_context_take(void)
{
	if (evaluation_context_busy)
		return AllocSetContextCreate(CurrentMemoryContext, "hedis nested evaluation",
									 ALLOCSET_DEFAULT_SIZES);
	/*
	 * A generation context: values are allocated one after the other and
	 * freed all together, which is what it is made for (no free lists to
	 * search; allocation is a pointer bump within a block).
	 */
	if (evaluation_context == NULL)
		evaluation_context = GenerationContextCreate(TopMemoryContext, "hedis evaluation",
													 EVAL_CONTEXT_BLOCK, EVAL_CONTEXT_BLOCK,
													 ALLOCSET_DEFAULT_MAXSIZE);
	evaluation_context_busy = true;
	cql_arena_begin(evaluation_context);
	return evaluation_context;
}

static void
evaluation_context_give_back(MemoryContext cxt)
{
	if (cxt != evaluation_context)
	{
		MemoryContextDelete(cxt);
		return;
	}
	cql_arena_end(cxt);
	MemoryContextReset(cxt);
	evaluation_context_busy = false;
}

/*
 * Values the same for every patient (elm_invariant.c) depend on the
 * measurement period and the default time zone alone.  Only an outermost
 * evaluation keeps them: one nested in another (through SQL the logic ran)
 * must not replace the values the outer one is still using.
 */
static void
keep_invariants(EvalCtx *cx, DateADT start, DateADT end, bool outermost)
{
	if (!outermost)
		return;
	elm_invariant_inputs(((uint64) (uint32) start) << 32 | (uint32) end, cql_default_tz_minutes);
	cx->inputs_fixed = true;
}

/*
 * The SPI connection of the evaluation running now: pending until its first
 * SPI use (engine_spi_ensure).  Connecting and finishing cost two memory
 * contexts per patient, and a statement over many patients needs SPI for
 * the first one only.  Nested evaluations stack their own.
 */
static bool *spi_pending = NULL;

void
engine_spi_ensure(void)
{
	MemoryContext current;

	if (spi_pending == NULL || !*spi_pending)
		return;
	current = CurrentMemoryContext;	/* SPI_connect switches to its own */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(current);
	*spi_pending = false;
}

/* what evaluate_measure returns */
typedef enum EvalOutput
{
	EVAL_RESULT,				/* the compact result */
	EVAL_OUTCOME,				/* the compact result without "patient" */
	EVAL_REPORT					/* the individual MeasureReport with evidence */
} EvalOutput;

/*
 * What an evaluation sets up around the engine and takes down, error or
 * not: its memory context and its SPI connection (pending until needed).
 */
typedef struct EvalFrame
{
	MemoryContext caller;
	MemoryContext eval_cxt;
	bool		spi_pending;
	bool	   *outer_spi;
} EvalFrame;

static void
eval_frame_enter(EvalFrame *f)
{
	f->caller = CurrentMemoryContext;
	f->eval_cxt = evaluation_context_take();
	f->spi_pending = true;
	f->outer_spi = spi_pending;
	spi_pending = &f->spi_pending;
}

static void
eval_frame_leave(EvalFrame *f)
{
	spi_pending = f->outer_spi;
	if (!f->spi_pending)
		SPI_finish();
	MemoryContextSwitchTo(f->caller);
	evaluation_context_give_back(f->eval_cxt);
}

/*
 * One patient's evaluation.  outside: the patient is known to be outside
 * every initial population (hedis_measure_screen): no data is read, and
 * patient_id names it in a result.
 */
static Jsonb *
evaluate_measure(const char *measure_ref, int64 patient_key, const char *patient_id,
				 DateADT start, DateADT end, EvalOutput output, bool outside)
{
	EvalFrame	frame;
	Jsonb	   *volatile result = NULL;
	PatientData *volatile opened = NULL;

	eval_frame_enter(&frame);
	PG_TRY();
	{
		MeasureDef *m = measure_get(measure_ref);
		MemoryContext old = MemoryContextSwitchTo(frame.eval_cxt);
		PatientData *pd = NULL;
		const char *id = patient_id;
		EvalCtx		cx;
		GroupResult *results;
		Jsonb	   *jb;

		if (!outside)
		{
			int64		key = patient_key >= 0 ? patient_key : fhir_patient_key(patient_id, false);

			pd = fhir_patient_load(key, m->retrieved, m->nretrieved);
			opened = pd;
			if (pd->patient.kind == CK_NULL)
				ereport(ERROR,
						(errcode(ERRCODE_NO_DATA_FOUND),
						 errmsg("patient with key " INT64_FORMAT " has no Patient resource", key)));
			id = pd->fhir_id;
		}
		measure_ctx_begin(&cx, frame.eval_cxt, pd, start, end);
		cx.collect_evidence = output == EVAL_REPORT;
		cx.outside_initial_population = outside;
		keep_invariants(&cx, start, end, frame.eval_cxt == evaluation_context);
		results = palloc0(sizeof(GroupResult) * m->ngroups);
		for (int g = 0; g < m->ngroups; g++)
			measure_eval_group(&cx, &m->groups[g], &results[g]);
		if (output == EVAL_REPORT)
			jb = measure_report_jsonb(&cx, m, id, start, end, results);
		else if (output == EVAL_OUTCOME)
			jb = measure_outcome_jsonb(m, results);
		else
			jb = measure_result_jsonb(m, id, results);
		MemoryContextSwitchTo(frame.caller);
		result = palloc(VARSIZE(jb));
		memcpy(result, jb, VARSIZE(jb));
		MemoryContextSwitchTo(old);
	}
	PG_FINALLY();
	{
		fhir_patient_release(opened);
		eval_frame_leave(&frame);
	}
	PG_END_TRY();
	return result;
}

Jsonb *
hedis_measure_evaluate_patient(const char *measure_ref, int64 patient_key,
							   DateADT period_start, DateADT period_end)
{
	return evaluate_measure(measure_ref, patient_key, NULL, period_start, period_end,
							EVAL_RESULT, false);
}

Jsonb *
hedis_measure_evaluate_outcome(const char *measure_ref, int64 patient_key,
							   DateADT period_start, DateADT period_end)
{
	return evaluate_measure(measure_ref, patient_key, NULL, period_start, period_end,
							EVAL_OUTCOME, false);
}

Jsonb *
hedis_measure_outside_outcome(const char *measure_ref, DateADT period_start, DateADT period_end)
{
	return evaluate_measure(measure_ref, -1, NULL, period_start, period_end,
							EVAL_OUTCOME, true);
}

int
hedis_measure_screen(const char *measure_ref, DateADT period_start, DateADT period_end,
					 const DateADT *birth_dates, const bool *nulls, int n, bool *outside)
{
	EvalFrame	frame;
	volatile int noutside = 0;

	memset(outside, 0, sizeof(bool) * n);
	if (!hedis_prescreen)
		return 0;
	eval_frame_enter(&frame);
	PG_TRY();
	{
		MeasureDef *m = measure_get(measure_ref);
		EvalCtx		cx;
		MeasureAgeRange *ranges;

		MemoryContextSwitchTo(frame.eval_cxt);
		measure_ctx_begin(&cx, frame.eval_cxt, NULL, period_start, period_end);
		keep_invariants(&cx, period_start, period_end, frame.eval_cxt == evaluation_context);
		ranges = palloc(sizeof(MeasureAgeRange) * m->ngroups);
		if (measure_prescreen_prepare(&cx, m, ranges))
			for (int i = 0; i < n; i++)
				if (!nulls[i] && measure_prescreen_outside(m, ranges, birth_dates[i]))
				{
					outside[i] = true;
					noutside++;
				}
	}
	PG_FINALLY();
	{
		eval_frame_leave(&frame);
	}
	PG_END_TRY();
	return noutside;
}

void
hedis_engine_reset_caches(void)
{
	elm_cache_reset();
}

PG_FUNCTION_INFO_V1(hedis_evaluate);
Datum
hedis_evaluate(PG_FUNCTION_ARGS)
{
	char	   *measure = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *patient = text_to_cstring(PG_GETARG_TEXT_PP(1));

	PG_RETURN_JSONB_P(evaluate_measure(measure, -1, patient,
									   PG_GETARG_DATEADT(2), PG_GETARG_DATEADT(3), EVAL_REPORT,
									   false));
}

PG_FUNCTION_INFO_V1(hedis_evaluate_patient_result);
Datum
hedis_evaluate_patient_result(PG_FUNCTION_ARGS)
{
	char	   *measure = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_JSONB_P(hedis_measure_evaluate_patient(measure, PG_GETARG_INT64(1),
													 PG_GETARG_DATEADT(2),
													 PG_GETARG_DATEADT(3)));
}

PG_FUNCTION_INFO_V1(hedis_evaluate_expression);
Datum
hedis_evaluate_expression(PG_FUNCTION_ARGS)
{
	char	   *library = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *expression = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *patient = text_to_cstring(PG_GETARG_TEXT_PP(2));
	DateADT		start = PG_GETARG_DATEADT(3);
	DateADT		end = PG_GETARG_DATEADT(4);
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext eval_cxt = AllocSetContextCreate(caller, "hedis evaluation", ALLOCSET_DEFAULT_SIZES);
	char	   *volatile result = NULL;
	PatientData *volatile opened = NULL;

	SPI_connect();
	PG_TRY();
	{
		ElmLibrary *lib = elm_library_get(library, NULL);
		ElmDef	   *def = elm_library_find_def(lib, expression);
		MemoryContext old;
		EvalCtx		cx;
		PatientData *pd;
		char	   *json;

		if (def == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("library \"%s\" has no definition \"%s\"", lib->name, expression)));
		old = MemoryContextSwitchTo(eval_cxt);
		pd = fhir_patient_load(fhir_patient_key(patient, false), NULL, 0);
		opened = pd;
		measure_ctx_begin(&cx, eval_cxt, pd, start, end);
		keep_invariants(&cx, start, end, !evaluation_context_busy);
		json = cql_to_json_text(elm_eval_def(&cx, def));
		MemoryContextSwitchTo(caller);
		result = pstrdup(json);
		MemoryContextSwitchTo(old);
	}
	PG_FINALLY();
	{
		fhir_patient_release(opened);
		SPI_finish();
		MemoryContextDelete(eval_cxt);
	}
	PG_END_TRY();
	PG_RETURN_JSONB_P(text_to_jsonb(result));
}

/* Compile a library (and what it includes): errors name what is unsupported. */
PG_FUNCTION_INFO_V1(hedis_compile_library);
Datum
hedis_compile_library(PG_FUNCTION_ARGS)
{
	char	   *library = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ElmLibrary *lib;
	int			ndefs;

	SPI_connect();
	lib = elm_library_get(library, PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)));
	ndefs = lib->ndefs + lib->nfuncs;
	SPI_finish();
	PG_RETURN_INT32(ndefs);
}

/* The ELM node types the engine evaluates (docs/elm-coverage.md is made from this). */
PG_FUNCTION_INFO_V1(hedis_elm_supported_nodes);
Datum
hedis_elm_supported_nodes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const ElmOpInfo *tables[] = {elm_core_ops, elm_value_ops, elm_interval_ops, elm_list_ops, elm_more_ops};

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (int t = 0; t < lengthof(tables); t++)
		for (const ElmOpInfo *op = tables[t]; op->type; op++)
		{
			Datum		values[1];
			bool		nulls[1] = {false};

			values[0] = CStringGetTextDatum(op->type);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	return (Datum) 0;
}
