/*
 * store.h
 *		The FHIR data store's loaders: shared declarations of src/store.
 *
 * Owner: foundation (src/store).  Private to src/store: the engine reads the
 * store through SQL tables (docs/architecture.md), not through this header.
 */
#ifndef HEDIS_STORE_H
#define HEDIS_STORE_H

#include "postgres.h"
#include "datatype/timestamp.h"
#include "utils/date.h"
#include "fmgr.h"
#include "utils/jsonb.h"

/* what the loaders extract from one clinical resource */
typedef struct StoreRow
{
	char	   *resource_type;
	char	   *fhir_id;
	char	   *patient_ref;	/* FHIR id of its patient, NULL if none */
	char	   *codes;			/* 'system|code' joined by STORE_CODE_SEP */
	bool		has_start;
	bool		has_end;
	TimestampTz period_start;
	TimestampTz period_end;
	Jsonb	   *resource;
	/* Patient resources only */
	bool		is_patient;
	bool		has_birth_date;
	DateADT		birth_date;
	char	   *gender;
} StoreRow;

#define STORE_CODE_SEP '\x1f'

/* fullUrl -> (type, id) of the entries of one bundle (bundle_index.c) */
typedef struct StoreBundleIndex StoreBundleIndex;
extern StoreBundleIndex *store_bundle_index_build(JsonbContainer *entries);
extern bool store_bundle_lookup(StoreBundleIndex *idx, const char *full_url,
								const char **type, const char **id);
extern Jsonb *store_bundle_rewrite_references(StoreBundleIndex *idx, Jsonb *resource,
											  const char *entry_full_url, int *rewritten);

typedef enum StoreResourceKind
{
	STORE_KIND_CLINICAL,		/* hedis.resource */
	STORE_KIND_KNOWLEDGE,		/* Library, Measure, ValueSet */
	STORE_KIND_BUNDLE			/* a nested Bundle: not loaded */
} StoreResourceKind;

/* store_extract.c */
extern StoreResourceKind store_resource_kind(const char *resource_type);
extern const char *store_extract(Jsonb *resource, JsonbContainer *container,
								 const char *fallback_id,
								 StoreBundleIndex *index, StoreRow *row);
extern const char *store_extract_owned(Jsonb *resource, JsonbContainer *container,
									   const char *fallback_id, StoreBundleIndex *index,
									   const char *owner, StoreRow *row);

/* store_writer.c: batched upserts into hedis.patient / hedis.resource */
typedef struct StoreWriter StoreWriter;
extern StoreWriter *store_writer_begin(void);
extern void store_writer_add(StoreWriter *w, const StoreRow *row);
extern void store_writer_flush(StoreWriter *w);
extern bool store_knowledge_store(Jsonb *resource, const char *where);
extern void store_knowledge_bump_generation(void);

/* store_bulk.c: what the bulk loaders (NDJSON, CSV) share */
typedef struct StoreBulkLoad
{
	int64		load_id;
	const char *source;			/* file path or a description of the text */
	bool		check_encoding; /* input not yet verified (a file) */
	int64		line_number;
	int64		loaded;
	int64		rejected;
	MemoryContext line_cxt;		/* reset after every line */
} StoreBulkLoad;

typedef void (*StoreLineFn) (StoreBulkLoad *load, char *line, int len, void *arg);

extern void store_bulk_begin(StoreBulkLoad *load, const char *kind, const char *source,
							 bool check_encoding);
extern void store_bulk_end(StoreBulkLoad *load);
extern void store_bulk_reject(StoreBulkLoad *load, const char *line, int len,
							  const char *reason);
extern void store_bulk_progress(StoreBulkLoad *load);
extern void store_bulk_read_text(StoreBulkLoad *load, text *data, StoreLineFn fn, void *arg);
extern void store_bulk_read_file(StoreBulkLoad *load, const char *path, StoreLineFn fn, void *arg);
extern void store_check_file_privilege(const char *path);
extern Datum store_bulk_result(FunctionCallInfo fcinfo, StoreBulkLoad *load);

/* GUC hedis.load_progress_rows */
extern int	hedis_load_progress_rows;

#endif							/* HEDIS_STORE_H */
