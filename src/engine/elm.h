/*
 * elm.h
 *		Compiled ELM: libraries, definitions, expression nodes, and the
 *		evaluation context the nodes run in.
 *
 * A Library's ELM JSON is compiled once per backend into a tree of ElmNode,
 * each carrying the C function that evaluates it, with every reference
 * (definitions, functions, included libraries, aliases, operands, value sets,
 * codes) resolved at compile time.  Per-patient results of expression
 * definitions are cached in the definition itself, tagged with the epoch of
 * the evaluation that computed them, so one patient's evaluation computes
 * each definition at most once and the next patient starts clean without
 * touching the cache.
 */
#ifndef ELM_H
#define ELM_H

#include "engine/cql_value.h"

typedef struct EvalCtx EvalCtx;
typedef struct ElmNode ElmNode;
typedef struct ElmLibrary ElmLibrary;

typedef CqlValue (*ElmEvalFn) (EvalCtx *cx, const ElmNode *n);

/* type specifiers (As, Is, operand types) */
typedef enum ElmTypeKind
{
	ETS_NAMED,
	ETS_LIST,
	ETS_INTERVAL,
	ETS_CHOICE,
	ETS_TUPLE
} ElmTypeKind;

typedef struct ElmTypeSpec
{
	ElmTypeKind kind;
	bool		is_system;		/* namespace urn:hl7-org:elm-types:r1 */
	const char *name;			/* local name: "DateTime", "Encounter" */
	const char *fhir_type;		/* non-System: the model's interned name, NULL if unknown */
	struct ElmTypeSpec *elem;	/* list element / interval point */
	int			nchoices;
	struct ElmTypeSpec **choices;
	/* named types, worked out on first use: Any, and the System value kinds */
	bool		resolved;
	bool		any;
	uint32		system_kinds;	/* bit (1 << CqlKind) per kind the System type holds */
} ElmTypeSpec;

typedef struct ElmDef
{
	const char *name;
	ElmLibrary *lib;
	ElmNode    *expr;
	int			nslots;			/* variable slots its expression needs */
	bool		patient_context;
	/* per-evaluation cache */
	uint64		cache_epoch;
	uint64		evaluating_epoch;	/* recursion guard: being evaluated in this epoch */
	CqlValue	cached;
	/* found not true by truth alone (elm_def_is_true) in this evaluation */
	uint64		not_true_epoch;
	int8		invariant;		/* the same for every patient (elm_invariant.c) */
	/* its name in evidence, "Library.Definition", under the first prefix asked (measure_report.c) */
	const char *evidence_prefix;
	const char *evidence_name;
	/* the evidence's {"url": "definition", "valueString": name} of the first name used, as jsonb */
	const char *evidence_part_name;
	struct varlena *evidence_part;
} ElmDef;

typedef struct ElmFunction
{
	const char *name;
	ElmLibrary *lib;
	int			noperands;
	const char **operand_names;
	ElmTypeSpec **operand_types;
	ElmNode    *body;			/* NULL for external functions */
	int			nslots;
	/* repeated calls on the operands, computed once per call (elm_share.c) */
	int			shared_first;	/* slot pairs from here: value, computed? */
	int			nshared;
	/* its body is "operand.value" (FHIRHelpers' ToString, ToDateTime...) */
	bool		value_of_operand;
	/* its body is a query over its one operand, without aggregate (Status' isEncounterPerformed...) */
	bool		query_over_operand;
	/* its results in this evaluation, by the FHIR element given (NULL: none kept; elm_eval.c) */
	struct FunctionMemo *memo;
} ElmFunction;

/* slots of a function's result memo: a patient's few calls on distinct elements */
#define ELM_FUNCTION_MEMO_SLOTS 8

typedef struct ElmValueSet
{
	const char *name;
	const char *url;
	const char *version;		/* NULL: any */
	/* membership, loaded on first use: sorted "system|code" strings */
	uint64		loaded_generation;
	int			ncodes;
	char	  **codes;
	/* the same codes in an open-addressing hash table (mask + 1 slots) */
	char	  **table;
	uint32		mask;
} ElmValueSet;

typedef struct ElmCodeSystem
{
	const char *name;
	const char *url;
	const char *version;
} ElmCodeSystem;

typedef struct ElmCodeDef
{
	const char *name;
	CqlCode		code;
} ElmCodeDef;

typedef struct ElmConceptDef
{
	const char *name;
	CqlConcept	concept;
} ElmConceptDef;

typedef struct ElmParameter
{
	const char *name;
	bool		is_measurement_period;	/* overridden by the evaluation's period */
	ElmNode    *default_expr;
	uint64		cache_epoch;
	CqlValue	cached;
} ElmParameter;

typedef struct ElmInclude
{
	const char *local_name;
	ElmLibrary *lib;
} ElmInclude;

struct ElmLibrary
{
	const char *name;
	const char *version;
	const char *url;
	int			ndefs;
	ElmDef	   *defs;
	int			nfuncs;
	ElmFunction *funcs;
	int			nincludes;
	ElmInclude *includes;
	int			nvaluesets;
	ElmValueSet *valuesets;
	int			ncodesystems;
	ElmCodeSystem *codesystems;
	int			ncodes;
	ElmCodeDef *codes;
	int			nconcepts;
	ElmConceptDef *concepts;
	int			nparams;
	ElmParameter *params;
	/* resource types its retrieves read (so a patient's other resources need not be) */
	int			nretrieved;
	const char **retrieved;
};

/* the resource types lib and everything it includes retrieve; Patient always */
extern int	elm_library_retrieved_types(ElmLibrary *lib, const char ***types);

/* ---- expression nodes ------------------------------------------------- */

typedef struct ElmSortItem
{
	bool		desc;
	const char *path;			/* ByColumn */
	ElmNode    *expr;			/* ByExpression (evaluated with `this` bound) */
} ElmSortItem;

typedef struct ElmQuery
{
	int			nsources;
	int		   *source_slots;
	ElmNode   **sources;
	int			nlets;
	int		   *let_slots;		/* each: the value, then "computed?" */
	bool	   *let_lazy;		/* computed on first QueryLetRef, not per row */
	ElmNode   **lets;
	int			nrels;
	bool	   *rel_without;
	int		   *rel_slots;
	ElmNode   **rel_sources;
	ElmNode   **rel_such_that;
	ElmNode    *where;
	ElmNode    *ret;
	bool		ret_distinct;
	const char **source_aliases;
	/* aggregate clause */
	ElmNode    *agg_expr;
	ElmNode    *agg_start;
	int			agg_slot;
	bool		agg_distinct;
	/* sort */
	int			nsort;
	ElmSortItem *sort;
	int			this_slot;		/* slot for ByExpression/IdentifierRef */
} ElmQuery;

typedef struct ElmRetrieve
{
	const char *data_type;		/* FHIR resource type */
	const char *template_id;
	const char *code_property;
	const char *code_comparator;
	ElmNode    *codes;
	const char *date_property;
	ElmNode    *date_range;
	int			profile;		/* index into the profile-criteria table, -1 none */
	bool		base_profile;	/* no profile, or the resource type's own */
	/* code property element look-up for the last resource type */
	const char *memo_type;
	const void *memo_elem;
	int8		compartment;	/* in the patient compartment: 1 yes, -1 no, 0 not known yet */
	/*
	 * Its filters (codes, date range) are the same for the whole patient:
	 * the result is kept for the patient's evaluation (epoch), as a
	 * definition's is.  Retrieves inside functions (one per call) and
	 * unions of retrieves under several definitions then read once.
	 */
	bool		per_patient;
	uint64		cache_epoch;
	CqlValue	cached;
} ElmRetrieve;

struct ElmNode
{
	/*
	 * Fields in the order evaluation reads them: the first 64 bytes (a
	 * node starts a cache line, elm_compile.c) hold what most node types
	 * need, so a walk over thousands of nodes per patient touches one line
	 * of most of them.
	 */
	ElmEvalFn	eval;
	ElmNode   **args;
	int			nargs;
	int			slot;			/* OperandRef, AliasRef, QueryLetRef */
	int			prec;			/* temporal precision or CQL_PREC_ALL */
	bool		flag;			/* As strict, Interval lowClosed, Case by type... */
	bool		flag2;			/* Interval highClosed */
	ElmNode    *source;			/* Property source */
	const char *str;			/* Property path, Tuple/Instance names... */
	/* Property / Is / As: result for the last FHIR type seen */
	const char *memo_type;
	const void *memo_elem;		/* Property: FhirElementInfo of that type */
	/* second line */
	void	   *ref;			/* ElmDef/ElmParameter/ElmValueSet/... */
	int			memo_match;		/* Is/As: 1 matches, 0 not; Case by type: the branch, -1 else */
	CqlValue	lit;			/* Literal */
	ElmQuery   *query;
	ElmRetrieve *retrieve;
	/*
	 * FunctionRef overload chosen for the last argument type seen; an
	 * extensions-by-url source: the type the extensions are wrapped as
	 */
	const char *cache_type;
	ElmFunction *cache_fn;
	ElmFunction **overloads;	/* FunctionRef candidates */
	int			noverloads;
	bool		wrapper;		/* made by elm_wrap_node: args[0] is what it computes with */
	ElmTypeSpec *ts;			/* As/Is/Instance target type */
	/* a subtree the same for every patient: its value, kept (elm_invariant.c) */
	uint64		kept_generation;
	CqlValue	kept;
	const char **strs;
	/* for messages only */
	const char *type;			/* ELM node type */
	const char *locator;
};

/* ---- evaluation context ------------------------------------------------ */

#define ELM_MAX_SLOTS 8192

typedef struct PatientData PatientData;

struct EvalCtx
{
	uint64		epoch;
	MemoryContext mcxt;			/* per-evaluation values */
	CqlValue   *slots;
	int			frame_base;
	int			frame_top;
	int			depth;
	PatientData *patient;		/* NULL: no patient context */
	CqlValue	measurement_period; /* CK_NULL: use the parameter default */
	CqlDateTime now;
	/*
	 * The definitions' values are reported (a MeasureReport's evidence):
	 * population criteria are evaluated exactly, not by truth alone.
	 */
	bool		collect_evidence;
	/* the inputs (measurement period) were given to elm_invariant_inputs */
	bool		inputs_fixed;
	/*
	 * The patient is known to be outside every group's initial population
	 * (measure_prescreen.c): no criterion is evaluated, no data read.
	 */
	bool		outside_initial_population;
};

/* ---- SPI (engine_sql.c) ----------------------------------------------- */

/*
 * Call before any SPI use of the engine.  An evaluation connects to SPI only
 * when it first needs it (most patients of a statement never do: libraries,
 * measures and value sets are cached); outside an evaluation this does
 * nothing and the caller must be connected, as before.
 */
extern void engine_spi_ensure(void);

/* ---- compile (elm_compile.c) ------------------------------------------ */

/*
 * The compiled library for (name-or-url, version), compiling it and all it
 * includes on first use; cached for the backend until the knowledge store
 * changes.  version may be NULL (newest).
 */
extern ElmLibrary *elm_library_get(const char *name_or_url, const char *version);
extern void elm_cache_reset(void);
extern void elm_cache_check_generation(void);
extern uint64 elm_knowledge_generation(void);
/* changes whenever compiled libraries are dropped */
extern uint64 elm_cache_current_version(void);
extern MemoryContext elm_cache_context(void);

extern ElmDef *elm_library_find_def(ElmLibrary *lib, const char *name);

/* ---- evaluate (elm_eval.c) -------------------------------------------- */

extern void elm_ctx_init(EvalCtx *cx, MemoryContext mcxt);
extern CqlValue elm_eval_def(EvalCtx *cx, ElmDef *def);
extern bool elm_def_is_logical(const ElmDef *def);
extern bool elm_def_is_true(EvalCtx *cx, ElmDef *def);

static inline CqlValue
elm_eval(EvalCtx *cx, const ElmNode *n)
{
	return n->eval(cx, n);
}

extern void elm_error_at(const ElmNode *n, const char *fmt,...) pg_attribute_printf(2, 3) pg_attribute_noreturn();

/* compile-time registry: ELM type name -> evaluation function + arity */
typedef struct ElmOpInfo
{
	const char *type;
	ElmEvalFn	eval;
} ElmOpInfo;

extern const ElmOpInfo *elm_op_lookup(const char *type);

/* evaluation helpers shared by the operator files */
extern bool elm_truthy(CqlValue v);
extern CqlValue elm_eval_bool_arg(EvalCtx *cx, const ElmNode *n, int i);
extern bool elm_type_matches(CqlValue v, const ElmTypeSpec *ts);
extern CqlValue elm_call_function(EvalCtx *cx, const ElmNode *call, ElmFunction *f, CqlValue *args);
extern struct FunctionMemo *elm_function_memo_new(void);
extern void elm_share_repeated_calls(ElmFunction *f);
/* a query over extensions picked by url reads only theirs (elm_eval.c) */
extern void elm_query_filter_extensions(ElmQuery *q);
/* n becomes a node of eval over (a copy of) what n was (elm_compile.c) */
extern void elm_wrap_node(ElmNode *n, ElmEvalFn eval);

/*
 * Subtrees the same for every patient keep their values (elm_invariant.c):
 * elm_keep_invariants after a library is compiled; elm_invariant_inputs
 * with the evaluation's inputs (the period's bounds, the default time zone)
 * before evaluating: other inputs than the last drop the kept values, as
 * elm_invariant_forget does.
 */
extern void elm_keep_invariants(ElmLibrary *lib);
extern void elm_invariant_inputs(uint64 period, int tz_minutes);
extern void elm_invariant_forget(void);
/* n (after elm_keep_invariants) is the same for every patient */
extern bool elm_node_is_invariant(const ElmNode *n);

#endif							/* ELM_H */
