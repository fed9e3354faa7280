/*
 * load_ndjson.c
 *		hedis.load_ndjson(text) and hedis.load_ndjson_file(path): one FHIR
 *		resource per line, streamed.
 *
 * A line that cannot be stored (bad encoding, bad JSON, no resourceType, no
 * patient, ...) goes to hedis.load_error with its number and the reason, and
 * the load goes on.  JSON is validated with the non-throwing parser first so
 * that a bad line costs no subtransaction; only Library/Measure/ValueSet
 * lines, whose SQL helper may raise, run in a subtransaction.
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/jsonapi.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "common/jsonb_access.h"
#include "store/store.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

typedef struct NdjsonState
{
	StoreWriter *writer;
	bool		knowledge_changed;
} NdjsonState;

static bool
is_blank(const char *s, int len)
{
	for (int i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* store a knowledge resource; on error reject the line instead of aborting */
static void
ndjson_knowledge(StoreBulkLoad *load, NdjsonState *st, Jsonb *resource,
				 const char *line, int len)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	char	   *where = psprintf("line " INT64_FORMAT, load->line_number);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		if (store_knowledge_store(resource, where))
			st->knowledge_changed = true;
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		load->loaded++;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		store_bulk_reject(load, line, len, edata->message);
	}
	PG_END_TRY();
}

static void
ndjson_line(StoreBulkLoad *load, char *line, int len, void *arg)
{
	NdjsonState *st = (NdjsonState *) arg;
	JsonLexContext *lex;
	JsonParseErrorType err;
	Jsonb	   *resource;
	char	   *type;

	if (is_blank(line, len))
		return;
	if (load->check_encoding &&
		!pg_verify_mbstr(GetDatabaseEncoding(), line, len, true))
	{
		store_bulk_reject(load, line, len,
						  psprintf("invalid byte sequence for encoding \"%s\"",
								   GetDatabaseEncodingName()));
		return;
	}
	lex = makeJsonLexContextCstringLen(line, len, GetDatabaseEncoding(), true);
	err = pg_parse_json(lex, &nullSemAction);
	if (err != JSON_SUCCESS)
	{
		store_bulk_reject(load, line, len,
						  psprintf("invalid JSON: %s", json_errdetail(err, lex)));
		return;
	}
	resource = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(line)));
	if (!JB_ROOT_IS_OBJECT(resource))
	{
		store_bulk_reject(load, line, len, "line is not a JSON object");
		return;
	}
	type = jb_member_string(&resource->root, "resourceType");
	if (type == NULL || type[0] == '\0')
	{
		store_bulk_reject(load, line, len, "resource has no resourceType");
		return;
	}
	switch (store_resource_kind(type))
	{
		case STORE_KIND_BUNDLE:
			store_bulk_reject(load, line, len,
							  "a Bundle is not a line of NDJSON: load it with hedis.load_bundle()");
			break;
		case STORE_KIND_KNOWLEDGE:
			ndjson_knowledge(load, st, resource, line, len);
			break;
		case STORE_KIND_CLINICAL:
			{
				StoreRow	row;
				const char *reason = store_extract(resource, &resource->root, NULL, NULL, &row);

				if (reason)
					store_bulk_reject(load, line, len, reason);
				else
				{
					store_writer_add(st->writer, &row);
					load->loaded++;
				}
			}
			break;
	}
}

static Datum
ndjson_load(FunctionCallInfo fcinfo, const char *source, text *data, const char *path)
{
	StoreBulkLoad load;
	NdjsonState st;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	store_bulk_begin(&load, "ndjson", source, path != NULL);
	st.writer = store_writer_begin();
	st.knowledge_changed = false;
	if (path)
		store_bulk_read_file(&load, path, ndjson_line, &st);
	else
		store_bulk_read_text(&load, data, ndjson_line, &st);
	store_writer_flush(st.writer);
	if (st.knowledge_changed)
		store_knowledge_bump_generation();
	store_bulk_end(&load);
	SPI_finish();
	return store_bulk_result(fcinfo, &load);
}

PG_FUNCTION_INFO_V1(hedis_load_ndjson);

Datum
hedis_load_ndjson(PG_FUNCTION_ARGS)
{
	text	   *data = PG_GETARG_TEXT_PP(0);

	return ndjson_load(fcinfo, "ndjson text", data, NULL);
}

PG_FUNCTION_INFO_V1(hedis_load_ndjson_file);

Datum
hedis_load_ndjson_file(PG_FUNCTION_ARGS)
{
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(0));

	store_check_file_privilege(path);
	return ndjson_load(fcinfo, path, NULL, path);
}
