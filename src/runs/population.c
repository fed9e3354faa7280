/*
 * population.c
 *		Synthetic populations: hedis.generate_population() writes realistic,
 *		seed-deterministic FHIR patients straight into the store, and
 *		hedis._rewrite_references() helps hedis.replicate_patients() copy
 *		existing patients under fresh ids.
 *
 * Owner: runs.  Codes come from the loaded value sets (hedis.valueset_code),
 * attributed to resource types by the loaded Libraries' dataRequirement
 * (type + codeFilter.valueSet), else by code system; a small built-in pool
 * is used when nothing is loaded.  How often a value set's codes are drawn
 * follows its role in the loaded measures (gen_slot_probability): the
 * population criteria's ELM is followed, through the included libraries,
 * to the value sets each reaches, so that exclusions stay rare and
 * numerator events common, as in a health plan's members.  Every patient
 * draws from its own PRNG stream (splitmix64 of seed and patient number),
 * so patient n is the same whatever the batch size or the number of
 * patients asked for.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "runs/runs.h"
#include "store/store.h"

/* patients generated per nested SPI connection (see hedis_generate_population) */
#define GEN_SPI_BLOCK 500

/* ---------------------------------------------------------------- PRNG */

typedef struct GenRng
{
	uint64		state;
} GenRng;

static inline uint64
gen_next(GenRng *rng)
{
	uint64		z = (rng->state += UINT64CONST(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* uniform in [0, n) */
static inline int
gen_below(GenRng *rng, int n)
{
	return n <= 1 ? 0 : (int) (gen_next(rng) % (uint64) n);
}

/* uniform in [0, 1) */
static inline double
gen_unit(GenRng *rng)
{
	return (gen_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---------------------------------------------------------------- code pool */

typedef enum GenType
{
	GT_ENCOUNTER,
	GT_CONDITION,
	GT_PROCEDURE,
	GT_OBSERVATION,
	GT_MEDICATION_REQUEST,
	GT_SERVICE_REQUEST,
	GT_DIAGNOSTIC_REPORT,
	GT_IMMUNIZATION,
	GT_NTYPES
} GenType;

static const char *const gen_type_names[GT_NTYPES] = {
	"Encounter", "Condition", "Procedure", "Observation", "MedicationRequest",
	"ServiceRequest", "DiagnosticReport", "Immunization"
};

/* expected number of resources of the type per patient (slot types but Encounter) */
static const double gen_type_rate[GT_NTYPES] = {
	0, 1.5, 1.0, 1.5, 0.8, 0.4, 0.5, 0.5
};

typedef struct GenCode
{
	char	   *system;
	char	   *code;
	char	   *display;		/* may be NULL */
} GenCode;

/*
 * Observation category from the code: LOINC names radiology studies after
 * their modality ("MG Breast ...", "CT Chest ..."), everything else drawn
 * here is a laboratory result.
 */
static const char *
gen_observation_category(const GenCode *code)
{
	static const char *const modalities[] = {"MG ", "US ", "CT ", "MR ", "XR ", "NM ", "PT ", "RF ", "DXA "};

	if (code->display)
		for (int i = 0; i < lengthof(modalities); i++)
			if (strncmp(code->display, modalities[i], strlen(modalities[i])) == 0)
				return "imaging";
	return "laboratory";
}

/*
 * A value set's role in the loaded measures: what the population criteria
 * that reach it count.  A value set several measures use takes the first
 * of numerator, population, exclusion that any gives it.
 */
typedef enum GenRole
{
	GR_NONE,					/* no population criterion reaches it (supplemental data...) */
	GR_POPULATION,				/* initial population, denominator, measure population */
	GR_NUMERATOR,
	GR_EXCLUSION				/* exclusions and exceptions only */
} GenRole;

/* a value set attributed to a resource type */
typedef struct GenSlot
{
	GenType		type;
	GenRole		role;
	int			first;			/* into codes[] */
	int			count;
} GenSlot;

typedef struct GenPool
{
	GenCode    *codes;
	int			ncodes;
	GenSlot    *slots;
	int			nslots;
	int			slots_of_type[GT_NTYPES];
	double		encounter_weight;	/* sum of gen_encounter_weight over Encounter slots */
} GenPool;

/*
 * Drawing by role.  A patient's visits take an exclusion's encounter
 * (hospice, palliative care, frailty, end-stage renal disease) a fiftieth
 * as often as another; a resource of a value set only exclusions reach is
 * a tenth as likely as its type's share, one the numerator reaches is
 * drawn for about a third of the patients, one the population criteria
 * reach (diabetes, hypertension) for at least one in seven.  Drawn
 * uniformly, the 30 exclusion value sets of the five CMS measures against
 * 10 numerator ones excluded half of CMS125's initial population and put
 * 4 % of it in the numerator.
 */
#define GEN_EXCLUSION_ENCOUNTER_WEIGHT 0.02
#define GEN_EXCLUSION_FACTOR 0.1
#define GEN_NUMERATOR_P 0.35
#define GEN_POPULATION_P 0.15

static double
gen_encounter_weight(const GenSlot *slot)
{
	return slot->role == GR_EXCLUSION ? GEN_EXCLUSION_ENCOUNTER_WEIGHT : 1.0;
}

/* the chance a patient has a resource of the slot (base: the type's share per slot) */
static double
gen_slot_probability(const GenSlot *slot, double base)
{
	switch (slot->role)
	{
		case GR_NUMERATOR:
			return GEN_NUMERATOR_P;
		case GR_POPULATION:
			return Max(base, GEN_POPULATION_P);
		case GR_EXCLUSION:
			return base * GEN_EXCLUSION_FACTOR;
		case GR_NONE:
			break;
	}
	return base;
}

static const char *const gen_pool_sql =
"WITH RECURSIVE req AS ("
"  SELECT DISTINCT dr ->> 'type' AS resource_type, split_part(cf ->> 'valueSet', '|', 1) AS valueset"
"    FROM hedis.library l"
"   CROSS JOIN LATERAL jsonb_array_elements(coalesce(l.resource -> 'dataRequirement', '[]')) dr"
"   CROSS JOIN LATERAL jsonb_array_elements(coalesce(dr -> 'codeFilter', '[]')) cf"
"   WHERE cf ? 'valueSet'"
"), heur AS ("
"  SELECT DISTINCT CASE"
"           WHEN vc.system = 'http://loinc.org' THEN 'Observation'"
"           WHEN vc.system = 'http://www.nlm.nih.gov/research/umls/rxnorm' THEN 'MedicationRequest'"
"           WHEN vc.system IN ('http://hl7.org/fhir/sid/icd-10-cm', 'http://hl7.org/fhir/sid/icd-9-cm',"
"                              'http://snomed.info/sct') THEN 'Condition'"
"           WHEN vc.system IN ('http://www.ama-assn.org/go/cpt', 'http://www.cms.gov/Medicare/Coding/ICD10',"
"                              'https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets',"
"                              'http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets') THEN 'Procedure'"
"           WHEN vc.system = 'http://hl7.org/fhir/sid/cvx' THEN 'Immunization'"
"         END AS resource_type, vc.valueset_url AS valueset"
"    FROM hedis.valueset_code vc"
"   WHERE NOT EXISTS (SELECT 1 FROM req WHERE req.valueset = vc.valueset_url)"
"), slots AS ("
"  SELECT resource_type, valueset FROM req"
"  UNION SELECT resource_type, valueset FROM heur WHERE resource_type IS NOT NULL"
/* the value sets each population criterion reaches, through the ELM of the libraries */
"), lib AS ("
"  SELECT l.name, l.elm -> 'library' AS elm FROM hedis.library l WHERE l.elm IS NOT NULL"
"), inc AS ("
"  SELECT lib.name AS lib, i ->> 'localIdentifier' AS alias,"
"         regexp_replace(i ->> 'path', '^.*/', '') AS target"
"    FROM lib CROSS JOIN LATERAL jsonb_array_elements(coalesce(lib.elm -> 'includes' -> 'def', '[]')) i"
"), edge AS ("
"  SELECT lib.name AS lib, d ->> 'name' AS def, n ->> 'type' AS kind,"
"         coalesce(inc.target, lib.name) AS to_lib, n ->> 'name' AS to_name"
"    FROM lib CROSS JOIN LATERAL jsonb_array_elements(coalesce(lib.elm -> 'statements' -> 'def', '[]')) d"
"   CROSS JOIN LATERAL jsonb_path_query(d, 'strict $.** ? (@.type == \"ExpressionRef\" ||"
"                                        @.type == \"FunctionRef\" || @.type == \"ValueSetRef\")') n"
"    LEFT JOIN inc ON inc.lib = lib.name AND inc.alias = n ->> 'libraryName'"
"), pop AS ("
"  SELECT p -> 'code' -> 'coding' -> 0 ->> 'code' AS role, p -> 'criteria' ->> 'expression' AS def,"
"         (SELECT l.name FROM hedis.library l"
"           WHERE l.url = split_part(m.resource -> 'library' ->> 0, '|', 1) LIMIT 1) AS lib"
"    FROM hedis.measure m"
"   CROSS JOIN LATERAL jsonb_array_elements(coalesce(m.resource -> 'group', '[]')) g"
"   CROSS JOIN LATERAL jsonb_array_elements(coalesce(g -> 'population', '[]')) p"
"), reach (role, lib, def) AS ("
"  SELECT role, lib, def FROM pop WHERE lib IS NOT NULL AND def IS NOT NULL"
"  UNION"
"  SELECT reach.role, e.to_lib, e.to_name"
"    FROM reach JOIN edge e ON e.lib = reach.lib AND e.def = reach.def"
"   WHERE e.kind <> 'ValueSetRef'"
"), roles AS ("
"  SELECT v ->> 'id' AS valueset,"
"         CASE WHEN bool_or(reach.role = 'numerator') THEN 'numerator'"
"              WHEN bool_or(reach.role NOT IN ('denominator-exclusion', 'denominator-exception',"
"                                              'numerator-exclusion', 'measure-population-exclusion'))"
"              THEN 'population' ELSE 'exclusion' END AS role"
"    FROM reach"
"    JOIN edge e ON e.lib = reach.lib AND e.def = reach.def AND e.kind = 'ValueSetRef'"
"    JOIN lib ON lib.name = e.to_lib"
"   CROSS JOIN LATERAL jsonb_array_elements(coalesce(lib.elm -> 'valueSets' -> 'def', '[]')) v"
"   WHERE v ->> 'name' = e.to_name"
"   GROUP BY v ->> 'id'"
")"
"SELECT s.resource_type, s.valueset, c.system, c.code, c.display, r.role"
"  FROM slots s"
"  LEFT JOIN roles r ON r.valueset = s.valueset"
"  JOIN LATERAL (SELECT DISTINCT vc.system, vc.code, vc.display FROM hedis.valueset_code vc"
"                 WHERE vc.valueset_url = s.valueset) c ON true"
" WHERE s.resource_type = ANY ($1)"
" ORDER BY s.resource_type COLLATE \"C\", s.valueset COLLATE \"C\","
"          c.system COLLATE \"C\", c.code COLLATE \"C\", c.display COLLATE \"C\"";

/* used when no value set is loaded */
static const char *const gen_builtin_pool[][5] = {
	{"Encounter", "builtin-office", "http://www.ama-assn.org/go/cpt", "99213", "Office or other outpatient visit"},
	{"Encounter", "builtin-office", "http://www.ama-assn.org/go/cpt", "99214", "Office or other outpatient visit"},
	{"Encounter", "builtin-wellness", "http://snomed.info/sct", "185349003", "Encounter for check up"},
	{"Condition", "builtin-hypertension", "http://hl7.org/fhir/sid/icd-10-cm", "I10", "Essential (primary) hypertension"},
	{"Condition", "builtin-diabetes", "http://hl7.org/fhir/sid/icd-10-cm", "E11.9", "Type 2 diabetes mellitus without complications"},
	{"Condition", "builtin-asthma", "http://hl7.org/fhir/sid/icd-10-cm", "J45.909", "Unspecified asthma, uncomplicated"},
	{"Procedure", "builtin-mammography", "http://www.ama-assn.org/go/cpt", "77067", "Screening mammography"},
	{"Procedure", "builtin-colonoscopy", "http://www.ama-assn.org/go/cpt", "45378", "Colonoscopy, diagnostic"},
	{"Observation", "builtin-hba1c", "http://loinc.org", "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"},
	{"Observation", "builtin-cholesterol", "http://loinc.org", "2093-3", "Cholesterol [Mass/volume] in Serum or Plasma"},
	{"MedicationRequest", "builtin-amlodipine", "http://www.nlm.nih.gov/research/umls/rxnorm", "197361", "amlodipine 5 MG Oral Tablet"},
	{"MedicationRequest", "builtin-metformin", "http://www.nlm.nih.gov/research/umls/rxnorm", "860975", "metformin hydrochloride 500 MG Oral Tablet"},
};

static int
gen_type_of(const char *name)
{
	int			t;

	for (t = 0; t < GT_NTYPES; t++)
		if (strcmp(name, gen_type_names[t]) == 0)
			return t;
	return -1;
}

static void
gen_pool_add(GenPool *pool, int *cap_codes, int *cap_slots, const char **prev_slot,
			 GenType type, GenRole role, const char *slot_key, const char *system,
			 const char *code, const char *display)
{
	if (*prev_slot == NULL || strcmp(*prev_slot, slot_key) != 0 ||
		pool->slots[pool->nslots - 1].type != type)
	{
		if (pool->nslots == *cap_slots)
		{
			*cap_slots *= 2;
			pool->slots = repalloc(pool->slots, sizeof(GenSlot) * *cap_slots);
		}
		pool->slots[pool->nslots].type = type;
		pool->slots[pool->nslots].role = role;
		pool->slots[pool->nslots].first = pool->ncodes;
		pool->slots[pool->nslots].count = 0;
		pool->nslots++;
		pool->slots_of_type[type]++;
		if (type == GT_ENCOUNTER)
			pool->encounter_weight += gen_encounter_weight(&pool->slots[pool->nslots - 1]);
		*prev_slot = pstrdup(slot_key);
	}
	if (pool->ncodes == *cap_codes)
	{
		*cap_codes *= 2;
		pool->codes = repalloc(pool->codes, sizeof(GenCode) * *cap_codes);
	}
	pool->codes[pool->ncodes].system = pstrdup(system);
	pool->codes[pool->ncodes].code = pstrdup(code);
	pool->codes[pool->ncodes].display = display ? pstrdup(display) : NULL;
	pool->ncodes++;
	pool->slots[pool->nslots - 1].count++;
}

/* Read the code pool (SPI connected); allocations in CurrentMemoryContext */
static void
gen_pool_load(GenPool *pool)
{
	MemoryContext cxt = CurrentMemoryContext;
	Datum		types[GT_NTYPES];
	Oid			argtypes[1] = {TEXTARRAYOID};
	Datum		args[1];
	int			cap_codes = 256;
	int			cap_slots = 32;
	const char *prev = NULL;
	uint64		i;
	int			rc;

	memset(pool, 0, sizeof(*pool));
	pool->codes = palloc(sizeof(GenCode) * cap_codes);
	pool->slots = palloc(sizeof(GenSlot) * cap_slots);

	for (i = 0; i < GT_NTYPES; i++)
		types[i] = CStringGetTextDatum(gen_type_names[i]);
	args[0] = PointerGetDatum(construct_array(types, GT_NTYPES, TEXTOID, -1, false, TYPALIGN_INT));

	rc = SPI_execute_with_args(gen_pool_sql, 1, argtypes, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read the value sets: %s", SPI_result_code_string(rc));

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext oldcxt;
		char	   *tname = SPI_getvalue(tup, desc, 1);
		char	   *slot = SPI_getvalue(tup, desc, 2);
		char	   *system = SPI_getvalue(tup, desc, 3);
		char	   *code = SPI_getvalue(tup, desc, 4);
		char	   *display = SPI_getvalue(tup, desc, 5);
		char	   *role_name = SPI_getvalue(tup, desc, 6);
		int			t = gen_type_of(tname);
		GenRole		role = GR_NONE;

		if (t < 0)
			continue;
		if (role_name != NULL)
			role = strcmp(role_name, "numerator") == 0 ? GR_NUMERATOR
				: strcmp(role_name, "exclusion") == 0 ? GR_EXCLUSION : GR_POPULATION;
		oldcxt = MemoryContextSwitchTo(cxt);
		gen_pool_add(pool, &cap_codes, &cap_slots, &prev, (GenType) t, role, slot, system, code, display);
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_freetuptable(SPI_tuptable);

	if (pool->ncodes == 0)
	{
		for (i = 0; i < lengthof(gen_builtin_pool); i++)
			gen_pool_add(pool, &cap_codes, &cap_slots, &prev,
						 (GenType) gen_type_of(gen_builtin_pool[i][0]), GR_NONE, gen_builtin_pool[i][1],
						 gen_builtin_pool[i][2], gen_builtin_pool[i][3], gen_builtin_pool[i][4]);
	}
	if (pool->slots_of_type[GT_ENCOUNTER] == 0)
	{
		/* every patient has visits, whatever the measures ask for */
		for (i = 0; i < 3; i++)
			gen_pool_add(pool, &cap_codes, &cap_slots, &prev,
						 GT_ENCOUNTER, GR_NONE, gen_builtin_pool[i][1],
						 gen_builtin_pool[i][2], gen_builtin_pool[i][3], gen_builtin_pool[i][4]);
	}
}

/* ---------------------------------------------------------------- JSON text */

static void
gen_json_str(StringInfo buf, const char *key, const char *value)
{
	appendStringInfo(buf, "\"%s\":", key);
	escape_json(buf, value);
}

static void
gen_format_date(char *out, DateADT d)
{
	int			y,
				m,
				day;

	j2date(d + POSTGRES_EPOCH_JDATE, &y, &m, &day);
	snprintf(out, 11, "%04d-%02d-%02d", y, m, day);
}

/* 'YYYY-MM-DDTHH:MM:00Z' for a day and minute of day */
static void
gen_format_datetime(char *out, DateADT d, int minute)
{
	gen_format_date(out, d);
	snprintf(out + 10, 12, "T%02d:%02d:00Z", minute / 60, minute % 60);
}

static void
gen_coding(StringInfo buf, const GenCode *c)
{
	appendStringInfoString(buf, "{\"coding\":[{");
	gen_json_str(buf, "system", c->system);
	appendStringInfoChar(buf, ',');
	gen_json_str(buf, "code", c->code);
	if (c->display)
	{
		appendStringInfoChar(buf, ',');
		gen_json_str(buf, "display", c->display);
	}
	appendStringInfoString(buf, "}]}");
}

/* ---------------------------------------------------------------- store */

/*
 * Hand one generated resource to the store's writer: store_extract() fills
 * the same columns (patient, codes, period) as the loaders do.
 */
static void
gen_emit(StoreWriter *w, StringInfo json)
{
	Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json->data)));
	StoreRow	row;
	const char *reason;

	reason = store_extract(jb, &jb->root, NULL, NULL, &row);
	if (reason != NULL)
		elog(ERROR, "generated resource rejected by the store: %s", reason);
	store_writer_add(w, &row);
}

/* ---------------------------------------------------------------- one patient */

static const GenCode gen_bp_panel = {"http://loinc.org", "85354-9", "Blood pressure panel with all children optional"};
static const GenCode gen_sopt[] = {
	{"https://nahdo.org/sopt", "1", "MEDICARE"},
	{"https://nahdo.org/sopt", "2", "MEDICAID"},
	{"https://nahdo.org/sopt", "5", "PRIVATE HEALTH INSURANCE"},
	{"https://nahdo.org/sopt", "81", "Self-pay"},
};

static const char *const gen_race_codes[][2] = {
	{"2106-3", "White"}, {"2054-5", "Black or African American"}, {"2028-9", "Asian"},
	{"1002-5", "American Indian or Alaska Native"}, {"2076-8", "Native Hawaiian or Other Pacific Islander"},
	{"2131-1", "Other Race"}
};

static int
gen_patient(StoreWriter *w, const GenPool *pool, int32 seed, int64 n, DateADT as_of)
{
	GenRng		rng;
	char		pid[64];
	char		rid[96];
	char		d1[32];
	char		d2[32];
	const char *gender;
	DateADT		birth;
	DateADT		window_start = as_of - 3 * 365;
	int			age_years;
	int			nres = 0;
	int			i;
	int			t;
	int			n_enc;
	DateADT		enc_day[16];
	StringInfoData buf;
	double		g;

	rng.state = (uint64) (uint32) seed * UINT64CONST(0x100000001B3) ^ ((uint64) n * UINT64CONST(0x9E3779B97F4A7C15));
	(void) gen_next(&rng);
	initStringInfo(&buf);

	snprintf(pid, sizeof(pid), "gen-%d-%lld", seed, (long long) n);

	g = gen_unit(&rng);
	gender = g < 0.49 ? "female" : g < 0.98 ? "male" : g < 0.99 ? "other" : "unknown";
	age_years = gen_unit(&rng) < 0.2 ? gen_below(&rng, 18) : 18 + gen_below(&rng, 73);
	birth = as_of - age_years * 365 - age_years / 4 - gen_below(&rng, 365);
	gen_format_date(d1, birth);


	/* Patient */
	{
		int			race = gen_below(&rng, lengthof(gen_race_codes));
		bool		hispanic = gen_unit(&rng) < 0.18;

		appendStringInfoString(&buf, "{\"resourceType\":\"Patient\",");
		gen_json_str(&buf, "id", pid);
		appendStringInfo(&buf, ",\"meta\":{\"profile\":[\"http://hl7.org/fhir/us/qicore/StructureDefinition/qicore-patient\"]}"
						 ",\"extension\":[{\"url\":\"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race\","
						 "\"extension\":[{\"url\":\"ombCategory\",\"valueCoding\":{\"system\":\"urn:oid:2.16.840.1.113883.6.238\","
						 "\"code\":\"%s\",\"display\":\"%s\"}},{\"url\":\"text\",\"valueString\":\"%s\"}]},"
						 "{\"url\":\"http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity\","
						 "\"extension\":[{\"url\":\"ombCategory\",\"valueCoding\":{\"system\":\"urn:oid:2.16.840.1.113883.6.238\","
						 "\"code\":\"%s\",\"display\":\"%s\"}},{\"url\":\"text\",\"valueString\":\"%s\"}]}",
						 gen_race_codes[race][0], gen_race_codes[race][1], gen_race_codes[race][1],
						 hispanic ? "2135-2" : "2186-5",
						 hispanic ? "Hispanic or Latino" : "Not Hispanic or Latino",
						 hispanic ? "Hispanic or Latino" : "Not Hispanic or Latino");
		/* US Core sex (SNOMED CT), which QI-Core 6 measures test rather than gender */
		if (gender[0] == 'f' || gender[0] == 'm')
			appendStringInfo(&buf, ",{\"url\":\"http://hl7.org/fhir/us/core/StructureDefinition/us-core-sex\","
							 "\"valueCode\":\"%s\"}", gender[0] == 'f' ? "248152002" : "248153007");
		appendStringInfoChar(&buf, ']');
		appendStringInfo(&buf, ",\"identifier\":[{\"system\":\"urn:pg-hedis:generated\",\"value\":\"%s\"}]", pid);
		appendStringInfo(&buf, ",\"name\":[{\"family\":\"Generated%lld\",\"given\":[\"Patient\"]}]", (long long) n);
		appendStringInfo(&buf, ",\"gender\":\"%s\",\"birthDate\":\"%s\"}", gender, d1);
		gen_emit(w, &buf);
	}

	/* Coverage: consecutive spans with gaps over the window */
	{
		DateADT		start = window_start - gen_below(&rng, 365);
		const GenCode *payer = &gen_sopt[age_years >= 65 ? 0 : gen_below(&rng, lengthof(gen_sopt))];

		while (start <= as_of)
		{
			DateADT		end = start + 180 + gen_below(&rng, 720);
			bool		open = end > as_of && gen_unit(&rng) < 0.5;

			resetStringInfo(&buf);
			snprintf(rid, sizeof(rid), "%s-cov%d", pid, ++nres);
			gen_format_date(d1, start);
			gen_format_date(d2, end);
			appendStringInfoString(&buf, "{\"resourceType\":\"Coverage\",");
			gen_json_str(&buf, "id", rid);
			appendStringInfo(&buf, ",\"status\":\"active\",\"type\":");
			gen_coding(&buf, payer);
			appendStringInfo(&buf, ",\"beneficiary\":{\"reference\":\"Patient/%s\"}"
							 ",\"payor\":[{\"display\":\"Generated Health Plan\"}]"
							 ",\"period\":{\"start\":\"%s\"", pid, d1);
			if (!open)
				appendStringInfo(&buf, ",\"end\":\"%s\"", d2);
			appendStringInfoString(&buf, "}}");
			gen_emit(w, &buf);
			if (open)
				break;
			start = end + 15 + gen_below(&rng, 105);
		}
	}

	/* Encounters: 1..8, in the window */
	n_enc = 1 + gen_below(&rng, 4) + gen_below(&rng, 5);
	for (i = 0; i < n_enc; i++)
	{
		double		pick = gen_unit(&rng) * pool->encounter_weight;
		const GenSlot *slot = NULL;
		const GenCode *code;
		int			k;
		int			minute = 8 * 60 + gen_below(&rng, 9 * 60);

		/* an encounter value set, by weight (the last one if rounding runs past) */
		for (k = 0; k < pool->nslots; k++)
			if (pool->slots[k].type == GT_ENCOUNTER)
			{
				slot = &pool->slots[k];
				pick -= gen_encounter_weight(slot);
				if (pick < 0)
					break;
			}
		Assert(slot != NULL);
		code = &pool->codes[slot->first + gen_below(&rng, slot->count)];
		enc_day[i] = window_start + gen_below(&rng, as_of - window_start + 1);
		gen_format_datetime(d1, enc_day[i], minute);
		gen_format_datetime(d2, enc_day[i], minute + 20 + gen_below(&rng, 40));

		resetStringInfo(&buf);
		snprintf(rid, sizeof(rid), "%s-enc%d", pid, ++nres);
		appendStringInfoString(&buf, "{\"resourceType\":\"Encounter\",");
		gen_json_str(&buf, "id", rid);
		appendStringInfoString(&buf, ",\"status\":\"finished\",\"class\":{\"system\":"
							   "\"http://terminology.hl7.org/CodeSystem/v3-ActCode\",\"code\":\"AMB\","
							   "\"display\":\"ambulatory\"},\"type\":[");
		gen_coding(&buf, code);
		appendStringInfo(&buf, "],\"subject\":{\"reference\":\"Patient/%s\"},"
						 "\"period\":{\"start\":\"%s\",\"end\":\"%s\"}}", pid, d1, d2);
		gen_emit(w, &buf);

		/* adults get their blood pressure taken at about half of the visits */
		if (age_years >= 18 && gen_unit(&rng) < 0.5)
		{
			int			sys = 100 + gen_below(&rng, 80);
			int			dia = 60 + gen_below(&rng, 45);
			char		encid[96];

			strlcpy(encid, rid, sizeof(encid));
			resetStringInfo(&buf);
			snprintf(rid, sizeof(rid), "%s-bp%d", pid, ++nres);
			appendStringInfoString(&buf, "{\"resourceType\":\"Observation\",");
			gen_json_str(&buf, "id", rid);
			appendStringInfo(&buf, ",\"meta\":{\"profile\":[\"http://hl7.org/fhir/StructureDefinition/bp\"]}"
							 ",\"status\":\"final\",\"category\":[{\"coding\":[{\"system\":"
							 "\"http://terminology.hl7.org/CodeSystem/observation-category\",\"code\":\"vital-signs\"}]}]"
							 ",\"code\":");
			gen_coding(&buf, &gen_bp_panel);
			appendStringInfo(&buf, ",\"subject\":{\"reference\":\"Patient/%s\"},\"encounter\":{\"reference\":\"Encounter/%s\"}"
							 ",\"effectiveDateTime\":\"%s\",\"component\":["
							 "{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8480-6\"}]},"
							 "\"valueQuantity\":{\"value\":%d,\"unit\":\"mm[Hg]\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"mm[Hg]\"}},"
							 "{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8462-4\"}]},"
							 "\"valueQuantity\":{\"value\":%d,\"unit\":\"mm[Hg]\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"mm[Hg]\"}}]}",
							 pid, encid, d1, sys, dia);
			gen_emit(w, &buf);
		}
	}

	/* one resource per value-set slot, with a probability from the type's rate and the slot's role */
	for (t = GT_CONDITION; t < GT_NTYPES; t++)
	{
		double		p;
		int			k;

		if (pool->slots_of_type[t] == 0)
			continue;
		p = Min(0.3, gen_type_rate[t] / pool->slots_of_type[t]);
		for (k = 0; k < pool->nslots; k++)
		{
			const GenSlot *slot = &pool->slots[k];
			const GenCode *code;
			DateADT		day;
			const char *tname = gen_type_names[t];
			int			minute;

			if (slot->type != t || gen_unit(&rng) >= gen_slot_probability(slot, p))
				continue;
			code = &pool->codes[slot->first + gen_below(&rng, slot->count)];
			/* conditions may have started before the window */
			day = window_start + gen_below(&rng, as_of - window_start + 1)
				- (t == GT_CONDITION ? gen_below(&rng, 3 * 365) : 0);
			minute = 8 * 60 + gen_below(&rng, 9 * 60);
			gen_format_datetime(d1, day, minute);

			resetStringInfo(&buf);
			snprintf(rid, sizeof(rid), "%s-%c%d", pid, (char) ('a' + t), ++nres);
			appendStringInfo(&buf, "{\"resourceType\":\"%s\",", tname);
			gen_json_str(&buf, "id", rid);
			switch ((GenType) t)
			{
				case GT_CONDITION:
					{
						bool		resolved = gen_unit(&rng) < 0.15;
						DateADT		abate = day + 30 + gen_below(&rng, 365);

						gen_format_datetime(d2, abate, minute);
						appendStringInfo(&buf, ",\"clinicalStatus\":{\"coding\":[{\"system\":"
										 "\"http://terminology.hl7.org/CodeSystem/condition-clinical\",\"code\":\"%s\"}]}"
										 ",\"verificationStatus\":{\"coding\":[{\"system\":"
										 "\"http://terminology.hl7.org/CodeSystem/condition-ver-status\",\"code\":\"confirmed\"}]}"
										 ",\"category\":[{\"coding\":[{\"system\":"
										 "\"http://terminology.hl7.org/CodeSystem/condition-category\",\"code\":\"%s\"}]}]"
										 ",\"code\":",
										 resolved ? "resolved" : "active",
										 gen_unit(&rng) < 0.5 ? "problem-list-item" : "encounter-diagnosis");
						gen_coding(&buf, code);
						appendStringInfo(&buf, ",\"subject\":{\"reference\":\"Patient/%s\"},"
										 "\"onsetDateTime\":\"%s\",\"recordedDate\":\"%s\"", pid, d1, d1);
						if (resolved)
							appendStringInfo(&buf, ",\"abatementDateTime\":\"%s\"", d2);
						appendStringInfoChar(&buf, '}');
						gen_emit(w, &buf);
						continue;
					}
				case GT_PROCEDURE:
					appendStringInfoString(&buf, ",\"status\":\"completed\",\"code\":");
					gen_coding(&buf, code);
					appendStringInfo(&buf, ",\"subject\":{\"reference\":\"Patient/%s\"},"
									 "\"performedDateTime\":\"%s\"}", pid, d1);
					break;
				case GT_OBSERVATION:
					{
						bool		a1c = strcmp(code->code, "4548-4") == 0 || strcmp(code->code, "17856-6") == 0;
						double		value = a1c ? 4.5 + gen_unit(&rng) * 9.0 : 1 + gen_below(&rng, 200);

						appendStringInfo(&buf, ",\"status\":\"final\",\"category\":[{\"coding\":[{\"system\":"
										 "\"http://terminology.hl7.org/CodeSystem/observation-category\",\"code\":\"%s\"}]}]"
										 ",\"code\":", gen_observation_category(code));
						gen_coding(&buf, code);
						appendStringInfo(&buf, ",\"subject\":{\"reference\":\"Patient/%s\"},"
										 "\"effectiveDateTime\":\"%s\",\"issued\":\"%s\","
										 "\"valueQuantity\":{\"value\":%.1f,\"unit\":\"%s\","
										 "\"system\":\"http://unitsofmeasure.org\",\"code\":\"%s\"}}",
										 pid, d1, d1, value, a1c ? "%" : "mg/dL", a1c ? "%" : "mg/dL");
						break;
					}
				case GT_MEDICATION_REQUEST:
					appendStringInfoString(&buf, ",\"status\":\"active\",\"intent\":\"order\","
										   "\"medicationCodeableConcept\":");
					gen_coding(&buf, code);
					appendStringInfo(&buf, ",\"subject\":{\"reference\":\"Patient/%s\"},\"authoredOn\":\"%s\","
									 "\"dosageInstruction\":[{\"timing\":{\"repeat\":{\"frequency\":1,\"period\":1,"
									 "\"periodUnit\":\"d\"}},\"doseAndRate\":[{\"doseQuantity\":{\"value\":1,"
									 "\"unit\":\"tablet\"}}]}],\"dispenseRequest\":{\"quantity\":{\"value\":90,"
									 "\"unit\":\"tablet\"},\"expectedSupplyDuration\":{\"value\":90,\"unit\":\"days\","
									 "\"system\":\"http://unitsofmeasure.org\",\"code\":\"d\"}}}", pid, d1);
					break;
				case GT_SERVICE_REQUEST:
					appendStringInfoString(&buf, ",\"status\":\"completed\",\"intent\":\"order\",\"code\":");
					gen_coding(&buf, code);
					appendStringInfo(&buf, ",\"subject\":{\"reference\":\"Patient/%s\"},"
									 "\"authoredOn\":\"%s\"}", pid, d1);
					break;
				case GT_DIAGNOSTIC_REPORT:
					appendStringInfoString(&buf, ",\"status\":\"final\",\"code\":");
					gen_coding(&buf, code);
					appendStringInfo(&buf, ",\"subject\":{\"reference\":\"Patient/%s\"},"
									 "\"effectiveDateTime\":\"%s\",\"issued\":\"%s\"}", pid, d1, d1);
					break;
				case GT_IMMUNIZATION:
					appendStringInfoString(&buf, ",\"status\":\"completed\",\"vaccineCode\":");
					gen_coding(&buf, code);
					appendStringInfo(&buf, ",\"patient\":{\"reference\":\"Patient/%s\"},"
									 "\"occurrenceDateTime\":\"%s\",\"primarySource\":true}", pid, d1);
					break;
				default:
					continue;
			}
			gen_emit(w, &buf);
		}
	}
	pfree(buf.data);
	return nres + 1;
}

/* ---------------------------------------------------------------- SQL */

PG_FUNCTION_INFO_V1(hedis_generate_population);
Datum
hedis_generate_population(PG_FUNCTION_ARGS)
{
	int32		patients;
	int32		seed;
	DateADT		as_of;
	GenPool		pool;
	StoreWriter *writer;
	MemoryContext patient_cxt;
	MemoryContext oldcxt;
	int64		written = 0;
	int64		n;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("patients, seed and as_of must not be null")));
	patients = PG_GETARG_INT32(0);
	seed = PG_GETARG_INT32(1);
	as_of = PG_GETARG_DATEADT(2);
	if (patients < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of patients must not be negative")));
	if (DATE_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of must be a finite date")));

	SPI_connect();

	{
		Oid			types[1] = {TEXTOID};
		Datum		args[1] = {CStringGetTextDatum(psprintf("gen-%d-1", seed))};
		int			rc;

		rc = SPI_execute_with_args("SELECT 1 FROM hedis.patient WHERE fhir_id = $1",
								   1, types, args, NULL, true, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "could not check existing patients");
		if (SPI_processed > 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("a population with seed %d is already loaded", seed),
					 errdetail("Patient \"gen-%d-1\" exists.", seed),
					 errhint("Use another seed, or delete it first: DELETE FROM hedis.patient WHERE fhir_id LIKE 'gen-%d-%%'.", seed)));
	}

	gen_pool_load(&pool);

	/* per-patient strings and jsonb; the writer keeps its own copies */
	patient_cxt = AllocSetContextCreate(CurrentMemoryContext, "hedis generate_population",
										ALLOCSET_DEFAULT_SIZES);
	writer = store_writer_begin();

	/*
	 * Each block of patients runs in a nested SPI connection.  Every SPI
	 * call leaves CurrentMemoryContext in the current SPI procedure context,
	 * so whatever the writer (or the rest of a patient) allocates after a
	 * flush lands there; finishing the nested connection frees it, which
	 * keeps this function's memory independent of the number of patients.
	 */
	for (n = 1; n <= patients;)
	{
		int64		block_end = Min((int64) patients, n + GEN_SPI_BLOCK - 1);

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		for (; n <= block_end; n++)
		{
			CHECK_FOR_INTERRUPTS();
			oldcxt = MemoryContextSwitchTo(patient_cxt);
			written += gen_patient(writer, &pool, seed, n, as_of);
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(patient_cxt);
		}
		SPI_finish();
	}
	store_writer_flush(writer);

	SPI_finish();
	PG_RETURN_INT64(written);
}

/* ---------------------------------------------------------------- replicate */

/* members of the last call, kept between calls of one query */
typedef struct RewriteCache
{
	bytea	   *raw;			/* copy of the members array */
	char	  **sorted;
	int			n;
} RewriteCache;

static int
cmp_cstring_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static RewriteCache *
rewrite_cache_get(FunctionCallInfo fcinfo, ArrayType *members)
{
	RewriteCache *cache = fcinfo->flinfo->fn_extra;
	MemoryContext cxt = fcinfo->flinfo->fn_mcxt;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	if (cache && VARSIZE(cache->raw) == VARSIZE(members) &&
		memcmp(cache->raw, members, VARSIZE(members)) == 0)
		return cache;

	if (cache == NULL)
		cache = MemoryContextAllocZero(cxt, sizeof(RewriteCache));
	else
	{
		for (i = 0; i < cache->n; i++)
			pfree(cache->sorted[i]);
		if (cache->sorted)
			pfree(cache->sorted);
		pfree(cache->raw);
	}
	cache->raw = MemoryContextAlloc(cxt, VARSIZE(members));
	memcpy(cache->raw, members, VARSIZE(members));
	deconstruct_array(members, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	cache->sorted = MemoryContextAlloc(cxt, sizeof(char *) * Max(n, 1));
	cache->n = 0;
	for (i = 0; i < n; i++)
		if (!nulls[i])
			cache->sorted[cache->n++] = MemoryContextStrdup(cxt, TextDatumGetCString(elems[i]));
	qsort(cache->sorted, cache->n, sizeof(char *), cmp_cstring_ptr);
	fcinfo->flinfo->fn_extra = cache;
	return cache;
}

/*
 * hedis._rewrite_references(resource jsonb, new_id text, members text[],
 * suffix text): the resource with its top-level "id" set to new_id and
 * every "reference": "Type/id" naming one of members ('Type/id') rewritten
 * to "Type/id<suffix>".  Other references (shared resources such as
 * Medication or Practitioner) are left alone.
 */
PG_FUNCTION_INFO_V1(hedis_rewrite_references);
Datum
hedis_rewrite_references(PG_FUNCTION_ARGS)
{
	Jsonb	   *in = PG_GETARG_JSONB_P(0);
	text	   *new_id = PG_GETARG_TEXT_PP(1);
	ArrayType  *members = PG_GETARG_ARRAYTYPE_P(2);
	char	   *suffix = text_to_cstring(PG_GETARG_TEXT_PP(3));
	RewriteCache *cache = rewrite_cache_get(fcinfo, members);
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	JsonbParseState *state = NULL;
	JsonbValue *res = NULL;
	int			depth = 0;
	char	   *key = NULL;

	it = JsonbIteratorInit(&in->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_OBJECT:
			case WJB_BEGIN_ARRAY:
				depth++;
				res = pushJsonbValue(&state, tok, NULL);
				break;
			case WJB_END_OBJECT:
			case WJB_END_ARRAY:
				depth--;
				res = pushJsonbValue(&state, tok, NULL);
				break;
			case WJB_KEY:
				key = pnstrdup(v.val.string.val, v.val.string.len);
				res = pushJsonbValue(&state, tok, &v);
				break;
			case WJB_VALUE:
				if (v.type == jbvString && key != NULL)
				{
					if (depth == 1 && strcmp(key, "id") == 0)
					{
						v.val.string.val = VARDATA_ANY(new_id);
						v.val.string.len = VARSIZE_ANY_EXHDR(new_id);
					}
					else if (strcmp(key, "reference") == 0)
					{
						char	   *ref = pnstrdup(v.val.string.val, v.val.string.len);

						if (bsearch(&ref, cache->sorted, cache->n, sizeof(char *), cmp_cstring_ptr))
						{
							char	   *newref = psprintf("%s%s", ref, suffix);

							v.val.string.val = newref;
							v.val.string.len = strlen(newref);
						}
					}
				}
				res = pushJsonbValue(&state, tok, &v);
				break;
			case WJB_ELEM:
				res = pushJsonbValue(&state, tok, &v);
				break;
			default:
				elog(ERROR, "unexpected jsonb token %d", (int) tok);
		}
	}
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}
