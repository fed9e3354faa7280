/*
 * load_csv.c
 *		hedis.load_valueset_csv(text) and hedis.load_valueset_csv_file(path):
 *		value-set spreadsheets exported as CSV, parsed with libcsv.
 *
 * Columns: value set (OID or canonical url), value set name, code, code
 * system (a name such as SNOMEDCT/ICD10CM/LOINC/CPT, or a URI), value set
 * version.  A header row is recognised and skipped.  A record must fit on one
 * line (value-set exports never break a field across lines), so a quote left
 * open at the end of a line is reported on that line instead of swallowing
 * the rest of the file.  Rejected lines go to hedis.load_error.
 *
 * Good rows are staged in a temporary table; at the end every value set
 * named in the file is replaced by its rows (hedis._merge_valueset_stage),
 * so reloading a file changes nothing.
 */
#include "postgres.h"

#include <csv.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "store/store.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#define CSV_COLUMNS 5
#define CSV_MAX_FIELDS 64

typedef struct CsvState
{
	struct csv_parser parser;
	MemoryContext parser_cxt;	/* libcsv's buffers, freed with the call */
	int			nfields;
	char	   *fields[CSV_MAX_FIELDS];
	int			nrecords;
	bool		seen_first_row;
	SPIPlanPtr	stage_plan;
} CsvState;

typedef struct CodeSystemName
{
	const char *name;
	const char *uri;
} CodeSystemName;

/* VSAC code system names -> FHIR code system URIs */
static const CodeSystemName code_systems[] = {
	{"SNOMEDCT", "http://snomed.info/sct"},
	{"SNOMEDCT_US", "http://snomed.info/sct"},
	{"SNOMED CT", "http://snomed.info/sct"},
	{"SNOMED CT US Edition", "http://snomed.info/sct"},
	{"ICD10CM", "http://hl7.org/fhir/sid/icd-10-cm"},
	{"ICD-10-CM", "http://hl7.org/fhir/sid/icd-10-cm"},
	{"ICD10PCS", "http://www.cms.gov/Medicare/Coding/ICD10"},
	{"ICD-10-PCS", "http://www.cms.gov/Medicare/Coding/ICD10"},
	{"ICD9CM", "http://hl7.org/fhir/sid/icd-9-cm"},
	{"ICD-9-CM", "http://hl7.org/fhir/sid/icd-9-cm"},
	{"LOINC", "http://loinc.org"},
	{"CPT", "http://www.ama-assn.org/go/cpt"},
	{"CPT-CAT-II", "http://www.ama-assn.org/go/cpt"},
	{"HCPCS", "http://www.nlm.nih.gov/research/umls/hcpcs"},
	{"HCPCS Level II", "http://www.nlm.nih.gov/research/umls/hcpcs"},
	{"HCPCS-LEVEL-II", "http://www.nlm.nih.gov/research/umls/hcpcs"},
	{"RXNORM", "http://www.nlm.nih.gov/research/umls/rxnorm"},
	{"CVX", "http://hl7.org/fhir/sid/cvx"},
	{"NDC", "http://hl7.org/fhir/sid/ndc"},
	{"CDCREC", "urn:oid:2.16.840.1.113883.6.238"},
	{"SOP", "https://nahdo.org/sopt"},
	{"UBREV", "https://www.nubc.org/CodeSystem/RevenueCodes"},
	{"UBTOB", "https://www.nubc.org/CodeSystem/TypeOfBill"},
	{"POS", "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"},
	{"HSLOC", "https://www.cdc.gov/nhsn/cdaportal/terminology/codesystem/hsloc.html"},
	{"AdministrativeGender", "http://hl7.org/fhir/administrative-gender"},
	{"ActCode", "http://terminology.hl7.org/CodeSystem/v3-ActCode"},
	{"DischargeDisposition", "http://terminology.hl7.org/CodeSystem/discharge-disposition"},
	{NULL, NULL}
};

static const char *
code_system_uri(const char *name)
{
	if (strchr(name, ':') != NULL)
		return name;			/* already a URI */
	for (int i = 0; code_systems[i].name; i++)
		if (pg_strcasecmp(code_systems[i].name, name) == 0)
			return code_systems[i].uri;
	return NULL;
}

static bool
is_oid(const char *s)
{
	if (!(s[0] >= '0' && s[0] <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || *s == '.'))
			return false;
	return true;
}

/* canonical url of the value set column, NULL if it is neither OID nor url */
static char *
valueset_url(const char *s)
{
	if (is_oid(s))
		return psprintf("http://cts.nlm.nih.gov/fhir/ValueSet/%s", s);
	if (strncmp(s, "urn:oid:", 8) == 0 && is_oid(s + 8))
		return psprintf("http://cts.nlm.nih.gov/fhir/ValueSet/%s", s + 8);
	if (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0)
		return pstrdup(s);
	return NULL;
}

/* libcsv allocates through these: its buffers live in a memory context */
static MemoryContext csv_alloc_cxt = NULL;

static void *
csv_palloc_realloc(void *ptr, size_t size)
{
	if (ptr == NULL)
		return MemoryContextAlloc(csv_alloc_cxt, size);
	return repalloc(ptr, size);
}

static void
csv_pfree(void *ptr)
{
	if (ptr)
		pfree(ptr);
}

static void
csv_on_field(void *data, size_t len, void *arg)
{
	CsvState   *st = (CsvState *) arg;

	if (st->nfields < CSV_MAX_FIELDS)
		st->fields[st->nfields] = data ? pnstrdup((char *) data, len) : pstrdup("");
	st->nfields++;
}

static void
csv_on_record(int c, void *arg)
{
	((CsvState *) arg)->nrecords++;
}

static void
csv_reset_parser(CsvState *st)
{
	MemoryContext old = csv_alloc_cxt;

	csv_alloc_cxt = st->parser_cxt;
	csv_free(&st->parser);
	csv_init(&st->parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL);
	csv_set_realloc_func(&st->parser, csv_palloc_realloc);
	csv_set_free_func(&st->parser, csv_pfree);
	csv_alloc_cxt = old;
}

static char *
trimmed(char *s)
{
	char	   *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

static void
csv_line(StoreBulkLoad *load, char *line, int len, void *arg)
{
	CsvState   *st = (CsvState *) arg;
	size_t		parsed;
	int			rc;
	char	   *vs_url;
	const char *system;
	char	   *code;
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	if (len == 0)
		return;
	if (load->check_encoding &&
		!pg_verify_mbstr(GetDatabaseEncoding(), line, len, true))
	{
		store_bulk_reject(load, line, len,
						  psprintf("invalid byte sequence for encoding \"%s\"",
								   GetDatabaseEncodingName()));
		return;
	}

	st->nfields = 0;
	st->nrecords = 0;
	csv_alloc_cxt = st->parser_cxt;
	parsed = csv_parse(&st->parser, line, len, csv_on_field, csv_on_record, st);
	rc = (parsed < (size_t) len) ? CSV_EPARSE :
		csv_fini(&st->parser, csv_on_field, csv_on_record, st);
	csv_alloc_cxt = NULL;
	if (rc != 0)
	{
		csv_reset_parser(st);
		store_bulk_reject(load, line, len,
						  parsed < (size_t) len ?
						  "broken quote: a quote inside an unquoted field or text after a closing quote" :
						  "broken quote: quoted field not closed at the end of the line");
		return;
	}
	if (st->nrecords == 0 || (st->nfields == 0))
		return;
	if (st->nrecords > 1)
	{
		store_bulk_reject(load, line, len, "more than one record on the line (stray carriage return)");
		return;
	}
	if (st->nfields != CSV_COLUMNS)
	{
		store_bulk_reject(load, line, len,
						  psprintf("expected %d columns (value set, name, code, code system, version), found %d",
								   CSV_COLUMNS, st->nfields));
		return;
	}

	vs_url = valueset_url(trimmed(st->fields[0]));
	if (!st->seen_first_row)
	{
		st->seen_first_row = true;
		if (vs_url == NULL)
			return;				/* header row */
	}
	if (vs_url == NULL)
	{
		store_bulk_reject(load, line, len,
						  psprintf("value set \"%s\" is neither an OID nor a canonical url",
								   st->fields[0]));
		return;
	}
	code = trimmed(st->fields[2]);
	if (code[0] == '\0')
	{
		store_bulk_reject(load, line, len, "empty code");
		return;
	}
	system = code_system_uri(trimmed(st->fields[3]));
	if (system == NULL)
	{
		store_bulk_reject(load, line, len,
						  psprintf("unknown code system \"%s\"", st->fields[3]));
		return;
	}

	values[0] = CStringGetTextDatum(vs_url);
	values[1] = CStringGetTextDatum(trimmed(st->fields[4]));
	values[2] = CStringGetTextDatum(trimmed(st->fields[1]));
	values[3] = CStringGetTextDatum(system);
	values[4] = CStringGetTextDatum(code);
	if (SPI_execute_plan(st->stage_plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "value-set staging insert failed");
	load->loaded++;
}

static Datum
csv_load(FunctionCallInfo fcinfo, const char *source, text *data, const char *path)
{
	StoreBulkLoad load;
	CsvState   *st;
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	bool		isnull;
	bool		changed;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("CREATE TEMPORARY TABLE IF NOT EXISTS hedis_valueset_stage "
					"(url text, version text, name text, system text, code text) "
					"ON COMMIT DROP", false, 0) != SPI_OK_UTILITY ||
		SPI_execute("TRUNCATE pg_temp.hedis_valueset_stage", false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create the value-set staging table");

	st = palloc0(sizeof(CsvState));
	st->parser_cxt = AllocSetContextCreate(CurrentMemoryContext, "hedis csv parser",
										   ALLOCSET_DEFAULT_SIZES);
	st->stage_plan = SPI_prepare("INSERT INTO pg_temp.hedis_valueset_stage "
								 "(url, version, name, system, code) VALUES ($1, $2, $3, $4, $5)",
								 5, types);
	if (st->stage_plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	csv_alloc_cxt = st->parser_cxt;
	csv_init(&st->parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL);
	csv_set_realloc_func(&st->parser, csv_palloc_realloc);
	csv_set_free_func(&st->parser, csv_pfree);
	csv_alloc_cxt = NULL;

	store_bulk_begin(&load, "valueset-csv", source, path != NULL);
	if (path)
		store_bulk_read_file(&load, path, csv_line, st);
	else
		store_bulk_read_text(&load, data, csv_line, st);

	if (SPI_execute("SELECT hedis._merge_valueset_stage()", false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "value-set merge failed");
	changed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (!isnull && changed)
		store_knowledge_bump_generation();
	store_bulk_end(&load);
	SPI_finish();
	return store_bulk_result(fcinfo, &load);
}

PG_FUNCTION_INFO_V1(hedis_load_valueset_csv);

Datum
hedis_load_valueset_csv(PG_FUNCTION_ARGS)
{
	return csv_load(fcinfo, "valueset csv text", PG_GETARG_TEXT_PP(0), NULL);
}

PG_FUNCTION_INFO_V1(hedis_load_valueset_csv_file);

Datum
hedis_load_valueset_csv_file(PG_FUNCTION_ARGS)
{
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(0));

	store_check_file_privilege(path);
	return csv_load(fcinfo, path, NULL, path);
}
