/*
 * store_bulk.c
 *		What the bulk loaders share: streaming line readers over a file or a
 *		text value, the rejected-line table, the load log, progress NOTICEs,
 *		the file privilege check and the hedis.load_progress_rows GUC.
 *
 * Memory does not grow with the input: a file is read in fixed-size chunks,
 * and every line is handled in a memory context reset after it.
 * The caller must be connected to SPI.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "common/hedis_init.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "store/store.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#define RAW_TEXT_MAX 8192		/* bytes of a rejected line kept */
#define READ_CHUNK 65536

int			hedis_load_progress_rows = 100000;

static SPIPlanPtr reject_plan = NULL;

void
hedis_store_init(void)
{
	DefineCustomIntVariable("hedis.load_progress_rows",
							"Bulk loaders report progress every this many input lines.",
							"0 turns the progress NOTICEs off.",
							&hedis_load_progress_rows,
							100000, 0, INT_MAX,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
}

void
store_check_file_privilege(const char *path)
{
	if (!superuser() && !has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to load server file \"%s\"", path),
				 errdetail("Loading a file of the database server requires superuser or the privileges of the pg_read_server_files role."),
				 errhint("Send the data from the client with the text variant of the function instead.")));
}

static int64
run_int8(const char *sql, int nargs, Oid *types, Datum *values)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 1);
	bool		isnull;
	Datum		d;

	if (rc < 0 || SPI_processed != 1)
		elog(ERROR, "load log statement failed: %s", SPI_result_code_string(rc));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	SPI_freetuptable(SPI_tuptable);
	return isnull ? 0 : DatumGetInt64(d);
}

void
store_bulk_begin(StoreBulkLoad *load, const char *kind, const char *source,
				 bool check_encoding)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	memset(load, 0, sizeof(StoreBulkLoad));
	load->source = pstrdup(source);
	load->check_encoding = check_encoding;
	values[0] = CStringGetTextDatum(source);
	values[1] = CStringGetTextDatum(kind);
	load->load_id = run_int8("INSERT INTO hedis.load_log (load_id, source, kind) "
							 "VALUES (nextval('hedis.load_id_seq'), $1, $2) RETURNING load_id",
							 2, types, values);
	load->line_cxt = AllocSetContextCreate(CurrentMemoryContext, "hedis load line",
										   ALLOCSET_DEFAULT_SIZES);
}

void
store_bulk_end(StoreBulkLoad *load)
{
	Oid			types[3] = {INT8OID, INT8OID, INT8OID};
	Datum		values[3];

	values[0] = Int64GetDatum(load->load_id);
	values[1] = Int64GetDatum(load->loaded);
	values[2] = Int64GetDatum(load->rejected);
	run_int8("UPDATE hedis.load_log SET loaded = $2, rejected = $3, "
			 "finished_at = clock_timestamp() WHERE load_id = $1 RETURNING load_id",
			 3, types, values);
	if (load->rejected > 0)
		ereport(NOTICE,
				(errmsg("%s: " INT64_FORMAT " line(s) rejected",
						load->source, load->rejected),
				 errhint("See SELECT * FROM hedis.load_error WHERE load_id = " INT64_FORMAT ".",
						 load->load_id)));
}

/* the line as text the database can store: invalid bytes become \xNN */
static char *
printable_raw_text(const char *line, int len)
{
	int			enc = GetDatabaseEncoding();
	StringInfoData buf;
	int			pos = 0;

	if (len > RAW_TEXT_MAX)
		len = RAW_TEXT_MAX;
	initStringInfo(&buf);
	while (pos < len)
	{
		int			l = pg_encoding_verifymbchar(enc, line + pos, len - pos);

		if (l < 0)
		{
			appendStringInfo(&buf, "\\x%02X", (unsigned char) line[pos]);
			pos++;
		}
		else
		{
			appendBinaryStringInfo(&buf, line + pos, l);
			pos += l;
		}
	}
	return buf.data;
}

void
store_bulk_reject(StoreBulkLoad *load, const char *line, int len, const char *reason)
{
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int			rc;

	if (reject_plan == NULL)
	{
		Oid			types[5] = {INT8OID, TEXTOID, INT8OID, TEXTOID, TEXTOID};

		reject_plan = SPI_prepare("INSERT INTO hedis.load_error "
								  "(load_id, source, line_number, raw_text, reason) "
								  "VALUES ($1, $2, $3, $4, $5)", 5, types);
		if (reject_plan == NULL || SPI_keepplan(reject_plan) != 0)
			elog(ERROR, "could not prepare the load_error insert");
	}
	values[0] = Int64GetDatum(load->load_id);
	values[1] = CStringGetTextDatum(load->source);
	values[2] = Int64GetDatum(load->line_number);
	values[3] = CStringGetTextDatum(printable_raw_text(line, len));
	values[4] = CStringGetTextDatum(reason);
	rc = SPI_execute_plan(reject_plan, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "load_error insert failed: %s", SPI_result_code_string(rc));
	load->rejected++;
}

void
store_bulk_progress(StoreBulkLoad *load)
{
	if (hedis_load_progress_rows > 0 && load->line_number % hedis_load_progress_rows == 0)
		ereport(NOTICE,
				(errmsg("%s: " INT64_FORMAT " lines read, " INT64_FORMAT " loaded, "
						INT64_FORMAT " rejected",
						load->source, load->line_number, load->loaded, load->rejected)));
}

static void
handle_line(StoreBulkLoad *load, char *line, int len, StoreLineFn fn, void *arg)
{
	MemoryContext old;

	load->line_number++;
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	old = MemoryContextSwitchTo(load->line_cxt);
	fn(load, line, len, arg);
	MemoryContextSwitchTo(old);
	MemoryContextReset(load->line_cxt);
	store_bulk_progress(load);
	CHECK_FOR_INTERRUPTS();
}

void
store_bulk_read_text(StoreBulkLoad *load, text *data, StoreLineFn fn, void *arg)
{
	char	   *p = VARDATA_ANY(data);
	char	   *end = p + VARSIZE_ANY_EXHDR(data);
	StringInfoData line;

	initStringInfo(&line);
	while (p < end)
	{
		char	   *nl = memchr(p, '\n', end - p);
		int			len = (nl ? nl : end) - p;

		resetStringInfo(&line);
		appendBinaryStringInfo(&line, p, len);
		handle_line(load, line.data, line.len, fn, arg);
		p += len + 1;
	}
}

void
store_bulk_read_file(StoreBulkLoad *load, const char *path, StoreLineFn fn, void *arg)
{
	FILE	   *file = AllocateFile(path, PG_BINARY_R);
	char	   *chunk;
	StringInfoData line;
	size_t		n;

	if (file == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\" for reading: %m", path)));
	chunk = palloc(READ_CHUNK);
	initStringInfo(&line);
	while ((n = fread(chunk, 1, READ_CHUNK, file)) > 0)
	{
		char	   *p = chunk;
		char	   *end = chunk + n;

		while (p < end)
		{
			char	   *nl = memchr(p, '\n', end - p);

			if (nl == NULL)
			{
				appendBinaryStringInfo(&line, p, end - p);
				break;
			}
			appendBinaryStringInfo(&line, p, nl - p);
			handle_line(load, line.data, line.len, fn, arg);
			/* a huge line must not keep its buffer for the rest of the file */
			if (line.maxlen > 4 * READ_CHUNK)
			{
				pfree(line.data);
				initStringInfo(&line);
			}
			else
				resetStringInfo(&line);
			p = nl + 1;
		}
	}
	if (ferror(file))
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read file \"%s\": %m", path)));
	FreeFile(file);
	if (line.len > 0)
		handle_line(load, line.data, line.len, fn, arg);
	pfree(chunk);
}

/* (loaded bigint, rejected bigint) */
Datum
store_bulk_result(FunctionCallInfo fcinfo, StoreBulkLoad *load)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = Int64GetDatum(load->loaded);
	values[1] = Int64GetDatum(load->rejected);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}
