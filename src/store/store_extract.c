/*
 * store_extract.c
 *		Read the indexed columns of hedis.resource out of a FHIR resource.
 *
 * Owns: which element of each resource type gives its patient, its primary
 * codes and its clinically relevant period.  Never raises an error for bad
 * input: store_extract returns the reason as a string, so a bundle load can
 * turn it into an ERROR naming the entry and a bulk load can reject the line
 * and go on.  Must not write anything.
 */
#include "postgres.h"

#include "common/fhir_datetime.h"
#include "lib/stringinfo.h"
#include "common/jsonb_access.h"
#include "store/store.h"
#include "utils/jsonb.h"

/* ---------- per-type tables ---------- */

/* resource types that belong to no patient (a patient is optional) */
static const char *const shared_types[] = {
	"Medication", "Organization", "Practitioner", "PractitionerRole",
	"Location", "Substance", "Device", "Group", "HealthcareService",
	"Endpoint", "Questionnaire", "CodeSystem", "ConceptMap",
	"StructureDefinition", "PlanDefinition", "ActivityDefinition",
	"SearchParameter", "OperationDefinition", "CapabilityStatement",
	"Parameters", "Binary", "NamingSystem", "ImplementationGuide",
	"Evidence", "EvidenceVariable", "ResearchStudy", "InsurancePlan",
	NULL
};

typedef struct TypeRule
{
	const char *type;
	const char *patient[3];		/* elements naming the patient, in order */
	const char *codes[2];		/* CodeableConcept element(s) */
	const char *period[3];		/* date elements, choice types by base name */
} TypeRule;

static const TypeRule type_rules[] = {
	{"Condition", {"subject"}, {"code"}, {NULL}},	/* period: special */
	{"Observation", {"subject"}, {"code"}, {"effective", "issued"}},
	{"Procedure", {"subject"}, {"code"}, {"performed"}},
	{"Encounter", {"subject"}, {"type"}, {"period"}},
	{"MedicationRequest", {"subject"}, {"medicationCodeableConcept"}, {"authoredOn"}},
	{"MedicationAdministration", {"subject"}, {"medicationCodeableConcept"}, {"effective"}},
	{"MedicationDispense", {"subject"}, {"medicationCodeableConcept"}, {"whenHandedOver", "whenPrepared"}},
	{"MedicationStatement", {"subject"}, {"medicationCodeableConcept"}, {"effective", "dateAsserted"}},
	{"ServiceRequest", {"subject"}, {"code"}, {"authoredOn", "occurrence"}},
	{"DeviceRequest", {"subject"}, {"codeCodeableConcept"}, {"authoredOn", "occurrence"}},
	{"Immunization", {"patient"}, {"vaccineCode"}, {"occurrence", "recorded"}},
	{"ImmunizationRecommendation", {"patient"}, {NULL}, {"date"}},
	{"AllergyIntolerance", {"patient"}, {"code"}, {"onset", "recordedDate"}},
	{"DiagnosticReport", {"subject"}, {"code"}, {"effective", "issued"}},
	{"Coverage", {"beneficiary"}, {"type"}, {"period"}},
	{"Claim", {"patient"}, {"type"}, {"billablePeriod", "created"}},
	{"ClaimResponse", {"patient"}, {"type"}, {"created"}},
	{"ExplanationOfBenefit", {"patient"}, {"type"}, {"billablePeriod", "created"}},
	{"MeasureReport", {"subject"}, {NULL}, {"period"}},	/* + contained Parameters */
	{"Communication", {"subject"}, {"category"}, {"sent", "received"}},
	{"CommunicationRequest", {"subject"}, {"category"}, {"authoredOn", "occurrence"}},
	{"Task", {"for"}, {"code"}, {"executionPeriod", "authoredOn"}},
	{"CarePlan", {"subject"}, {"category"}, {"period"}},
	{"CareTeam", {"subject"}, {"category"}, {"period"}},
	{"Goal", {"subject"}, {"description"}, {"start"}},
	{"EpisodeOfCare", {"patient"}, {"type"}, {"period"}},
	{"FamilyMemberHistory", {"patient"}, {"relationship"}, {"date"}},
	{"Specimen", {"subject"}, {"type"}, {"collection"}},
	{"ImagingStudy", {"subject"}, {"procedureCode"}, {"started"}},
	{"AdverseEvent", {"subject"}, {"event"}, {"date"}},
	{"Device", {"patient"}, {"type"}, {NULL}},
	{"DeviceUseStatement", {"subject"}, {NULL}, {"timing", "recordedOn"}},
	{"NutritionOrder", {"patient"}, {NULL}, {"dateTime"}},
	{"Account", {"subject"}, {"type"}, {"servicePeriod"}},
	{"Consent", {"patient"}, {"category"}, {"dateTime"}},
	{"RelatedPerson", {"patient"}, {"relationship"}, {"period"}},
	{"Medication", {NULL}, {"code"}, {NULL}},
	{"Flag", {"subject"}, {"code"}, {"period"}},
	{"RiskAssessment", {"subject"}, {"code"}, {"occurrence"}},
	{"ClinicalImpression", {"subject"}, {"code"}, {"effective", "date"}},
	{"DetectedIssue", {"patient"}, {"code"}, {"identified"}},
	{"Appointment", {NULL}, {"serviceType"}, {"start"}},
	{NULL}
};

static const TypeRule default_rule = {
	NULL, {"subject", "patient"}, {"code"},
	{"effective", "performed", "period"}
};

/* ---------- small jsonb helpers ---------- */

static JsonbContainer *
jb_container(JsonbValue *v)
{
	return v->type == jbvBinary ? v->val.binary.data : NULL;
}

static int
jb_array_size(JsonbContainer *c)
{
	if (c == NULL || !JsonContainerIsArray(c))
		return -1;
	return JsonContainerSize(c);
}

StoreResourceKind
store_resource_kind(const char *resource_type)
{
	if (strcmp(resource_type, "Library") == 0 ||
		strcmp(resource_type, "Measure") == 0 ||
		strcmp(resource_type, "ValueSet") == 0)
		return STORE_KIND_KNOWLEDGE;
	if (strcmp(resource_type, "Bundle") == 0)
		return STORE_KIND_BUNDLE;
	return STORE_KIND_CLINICAL;
}

static bool
is_shared_type(const char *type)
{
	for (int i = 0; shared_types[i]; i++)
		if (strcmp(shared_types[i], type) == 0)
			return true;
	return false;
}

static const TypeRule *
rule_for(const char *type)
{
	for (int i = 0; type_rules[i].type; i++)
		if (strcmp(type_rules[i].type, type) == 0)
			return &type_rules[i];
	return &default_rule;
}

/* ---------- references ---------- */

typedef enum RefKind
{
	REF_PATIENT,
	REF_OTHER,					/* resolves, but not to a Patient */
	REF_UNRESOLVED				/* urn:uuid not in the bundle */
} RefKind;

/*
 * "Patient/123", "http://x/fhir/Patient/123", ".../Patient/123/_history/2",
 * or a fullUrl of the bundle (urn:uuid:...).
 */
static RefKind
resolve_reference(const char *ref, StoreBundleIndex *idx, char **patient_id)
{
	const char *type;
	const char *id;
	const char *p;

	if (store_bundle_lookup(idx, ref, &type, &id))
	{
		if (strcmp(type, "Patient") != 0)
			return REF_OTHER;
		*patient_id = pstrdup(id);
		return REF_PATIENT;
	}
	if (strncmp(ref, "urn:", 4) == 0)
		return REF_UNRESOLVED;
	if (ref[0] == '#')
		return REF_OTHER;

	for (p = ref; p; p = strchr(p + 1, '/'))
	{
		const char *seg = (p == ref) ? p : p + 1;

		if (strncmp(seg, "Patient/", 8) == 0 && seg[8] != '\0' && seg[8] != '/')
		{
			const char *id = seg + 8;
			const char *end = strchr(id, '/');

			*patient_id = end ? pnstrdup(id, end - id) : pstrdup(id);
			return REF_PATIENT;
		}
	}
	return REF_OTHER;
}

/* a Reference, or an array of them (Account.subject): first Patient wins */
static RefKind
patient_from_reference_value(JsonbValue *v, StoreBundleIndex *idx,
							 char **patient_id, char **unresolved)
{
	JsonbContainer *c = jb_container(v);
	int			n = jb_array_size(c);
	char	   *ref;
	RefKind		kind;

	if (n >= 0)
	{
		RefKind		result = REF_OTHER;

		for (int i = 0; i < n; i++)
		{
			JsonbValue *elem = getIthJsonbValueFromContainer(c, i);

			kind = patient_from_reference_value(elem, idx, patient_id, unresolved);
			if (kind == REF_PATIENT)
				return kind;
			if (kind == REF_UNRESOLVED)
				result = kind;
		}
		return result;
	}
	ref = jb_member_string(c, "reference");
	if (ref == NULL)
		return REF_OTHER;
	kind = resolve_reference(ref, idx, patient_id);
	if (kind == REF_UNRESOLVED)
		*unresolved = ref;
	return kind;
}

/*
 * The test-case MeasureReports name their patient only in a contained
 * Parameters resource (parameter "subject"), referenced by the
 * cqf-inputParameters extension.
 */
static char *
measure_report_subject(JsonbContainer *res, StoreBundleIndex *idx)
{
	JsonbValue	contained;
	int			n;

	if (!jb_member(res, "contained", &contained))
		return NULL;
	n = jb_array_size(jb_container(&contained));
	for (int i = 0; i < n; i++)
	{
		JsonbValue *c = getIthJsonbValueFromContainer(jb_container(&contained), i);
		JsonbValue	params;
		char	   *type = jb_member_string(jb_container(c), "resourceType");
		int			np;

		if (type == NULL || strcmp(type, "Parameters") != 0 ||
			!jb_member(jb_container(c), "parameter", &params))
			continue;
		np = jb_array_size(jb_container(&params));
		for (int j = 0; j < np; j++)
		{
			JsonbValue *p = getIthJsonbValueFromContainer(jb_container(&params), j);
			char	   *name = jb_member_string(jb_container(p), "name");
			char	   *value;
			JsonbValue	ref;

			if (name == NULL || strcmp(name, "subject") != 0)
				continue;
			value = jb_member_string(jb_container(p), "valueString");
			if (value)
			{
				char	   *id = NULL;

				if (strchr(value, '/') == NULL && strncmp(value, "urn:", 4) != 0)
					return value;
				if (resolve_reference(value, idx, &id) == REF_PATIENT)
					return id;
				return NULL;
			}
			if (jb_member(jb_container(p), "valueReference", &ref))
			{
				char	   *id = NULL;
				char	   *unresolved = NULL;

				if (patient_from_reference_value(&ref, idx, &id, &unresolved) == REF_PATIENT)
					return id;
			}
		}
	}
	return NULL;
}

/* ---------- codes ---------- */

static void
append_codeable_concept(JsonbValue *v, StringInfo buf)
{
	JsonbContainer *c = jb_container(v);
	int			n = jb_array_size(c);
	JsonbValue	coding;

	if (n >= 0)
	{
		for (int i = 0; i < n; i++)
			append_codeable_concept(getIthJsonbValueFromContainer(c, i), buf);
		return;
	}
	if (!jb_member(c, "coding", &coding))
		return;
	n = jb_array_size(jb_container(&coding));
	for (int i = 0; i < n; i++)
	{
		JsonbValue *cd = getIthJsonbValueFromContainer(jb_container(&coding), i);
		JsonbValue	system;
		JsonbValue	code;

		if (!jb_member(jb_container(cd), "code", &code) || code.type != jbvString)
			continue;
		if (buf->len > 0)
			appendStringInfoChar(buf, STORE_CODE_SEP);
		if (jb_member(jb_container(cd), "system", &system) && system.type == jbvString)
			appendBinaryStringInfo(buf, system.val.string.val, system.val.string.len);
		appendStringInfoChar(buf, '|');
		appendBinaryStringInfo(buf, code.val.string.val, code.val.string.len);
	}
}

/* ---------- periods ---------- */

static bool
parse_time_value(JsonbValue *v, TimestampTz *lo, TimestampTz *hi)
{
	if (v->type != jbvString)
		return false;
	return fhir_datetime_parse(v->val.string.val, v->val.string.len, lo, hi, NULL);
}

/*
 * A dateTime/instant/date (a point at its precision) or a Period.
 * want_start/want_end say which bound(s) to fill.
 */
static bool
read_time_element(JsonbValue *v, StoreRow *row, bool want_start, bool want_end)
{
	TimestampTz lo,
				hi;
	bool		found = false;

	if (v->type == jbvString)
	{
		if (!parse_time_value(v, &lo, &hi))
			return false;
		if (want_start)
		{
			row->has_start = true;
			row->period_start = lo;
		}
		if (want_end)
		{
			row->has_end = true;
			row->period_end = hi;
		}
		return true;
	}
	else if (jb_container(v) && JsonContainerIsObject(jb_container(v)))
	{
		JsonbValue	b;

		if (jb_member(jb_container(v), "start", &b) && parse_time_value(&b, &lo, &hi))
		{
			if (want_start)
			{
				row->has_start = true;
				row->period_start = lo;
			}
			found = true;
		}
		if (jb_member(jb_container(v), "end", &b) && parse_time_value(&b, &lo, &hi))
		{
			if (want_end)
			{
				row->has_end = true;
				row->period_end = hi;
			}
			found = true;
		}
	}
	return found;
}

/* base name of a choice element: effective -> effectiveDateTime, ... */
static bool
read_choice_element(JsonbContainer *res, const char *base, StoreRow *row,
					bool want_start, bool want_end)
{
	static const char *const suffixes[] = {"", "DateTime", "Period", "Instant", "Date", NULL};
	char		key[64];
	JsonbValue	v;

	for (int i = 0; suffixes[i]; i++)
	{
		snprintf(key, sizeof(key), "%s%s", base, suffixes[i]);
		if (jb_member(res, key, &v) && read_time_element(&v, row, want_start, want_end))
			return true;
	}
	return false;
}

static void
extract_period(JsonbContainer *res, const char *type, const TypeRule *rule, StoreRow *row)
{
	if (strcmp(type, "Condition") == 0)
	{
		/* prevalence: onset .. abatement (open while not abated) */
		if (!read_choice_element(res, "onset", row, true, false))
			read_choice_element(res, "recordedDate", row, true, false);
		read_choice_element(res, "abatement", row, false, true);
		return;
	}
	for (int i = 0; i < lengthof(rule->period) && rule->period[i]; i++)
		if (read_choice_element(res, rule->period[i], row, true, true))
			return;
}

/* ---------- the entry point ---------- */

/*
 * Fill *row from the resource (container is its root object).  fallback_id
 * is used when the resource has no id (bundle entries with a urn:uuid
 * fullUrl).  Returns NULL on success, else why the resource cannot be stored.
 */
const char *
store_extract(Jsonb *resource, JsonbContainer *container, const char *fallback_id,
			  StoreBundleIndex *idx, StoreRow *row)
{
	return store_extract_owned(resource, container, fallback_id, idx, NULL, row);
}

/*
 * store_extract, except that a non-NULL owner (the FHIR id of the Patient of
 * a patient bundle) replaces the reference rules: every resource other than
 * the Patient belongs to the owner, whatever its patient element says or when
 * it has none.  A shared type (Medication, Practitioner, ...) without any
 * patient element stays shared.
 */
const char *
store_extract_owned(Jsonb *resource, JsonbContainer *container, const char *fallback_id,
					StoreBundleIndex *idx, const char *owner, StoreRow *row)
{
	const TypeRule *rule;
	StringInfoData codes;
	JsonbValue	v;

	memset(row, 0, sizeof(StoreRow));
	row->resource = resource;
	if (container == NULL || !JsonContainerIsObject(container))
		return "resource is not a JSON object";
	row->resource_type = jb_member_string(container, "resourceType");
	if (row->resource_type == NULL || row->resource_type[0] == '\0')
		return "resource has no resourceType";
	row->fhir_id = jb_member_string(container, "id");
	if (row->fhir_id == NULL && fallback_id != NULL)
		row->fhir_id = pstrdup(fallback_id);
	if (row->fhir_id == NULL || row->fhir_id[0] == '\0')
		return psprintf("%s resource has no id", row->resource_type);

	rule = rule_for(row->resource_type);

	/* patient */
	if (strcmp(row->resource_type, "Patient") == 0)
	{
		row->is_patient = true;
		row->patient_ref = row->fhir_id;
		if (jb_member(container, "birthDate", &v) && v.type == jbvString)
		{
			if (!fhir_date_parse(v.val.string.val, v.val.string.len, &row->birth_date))
				return psprintf("Patient/%s has an invalid birthDate \"%.*s\"",
								row->fhir_id, v.val.string.len, v.val.string.val);
			row->has_birth_date = true;
		}
		row->gender = jb_member_string(container, "gender");
	}
	else if (owner != NULL)
	{
		bool		names_one = false;

		for (int i = 0; i < lengthof(rule->patient) && rule->patient[i]; i++)
			if (jb_member(container, rule->patient[i], &v))
				names_one = true;
		if (names_one || !is_shared_type(row->resource_type))
			row->patient_ref = pstrdup(owner);
	}
	else
	{
		char	   *unresolved = NULL;
		bool		names_other = false;

		for (int i = 0; i < lengthof(rule->patient) && rule->patient[i]; i++)
		{
			RefKind		kind;

			if (!jb_member(container, rule->patient[i], &v))
				continue;
			kind = patient_from_reference_value(&v, idx, &row->patient_ref, &unresolved);
			if (kind == REF_PATIENT)
				break;
			names_other = true;
		}
		if (row->patient_ref == NULL && strcmp(row->resource_type, "MeasureReport") == 0)
			row->patient_ref = measure_report_subject(container, idx);
		if (row->patient_ref == NULL && !is_shared_type(row->resource_type))
		{
			if (unresolved)
				return psprintf("%s/%s: reference \"%s\" matches no entry of the bundle",
								row->resource_type, row->fhir_id, unresolved);
			if (names_other)
				return psprintf("%s/%s: its %s reference does not name a Patient",
								row->resource_type, row->fhir_id,
								rule->patient[0] ? rule->patient[0] : "subject");
			return psprintf("%s/%s names no patient (expected element %s)",
							row->resource_type, row->fhir_id,
							rule->patient[0] ? rule->patient[0] : "subject");
		}
		if (row->patient_ref != NULL && row->patient_ref[0] == '\0')
			return psprintf("%s/%s: empty patient reference",
							row->resource_type, row->fhir_id);
	}

	/* codes */
	initStringInfo(&codes);
	for (int i = 0; i < lengthof(rule->codes) && rule->codes[i]; i++)
		if (jb_member(container, rule->codes[i], &v))
			append_codeable_concept(&v, &codes);
	row->codes = codes.data;

	extract_period(container, row->resource_type, rule, row);
	return NULL;
}
