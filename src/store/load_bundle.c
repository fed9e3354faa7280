/*
 * load_bundle.c
 *		hedis.load_bundle(jsonb, boolean): store every resource of a FHIR Bundle.
 *
 * All or nothing: the first malformed entry raises an ERROR naming its index
 * (0-based, as in the JSON entry array) and what is wrong, and the whole
 * call is rolled back with the statement.  Nested Bundle resources are
 * skipped (the test decks nest a copy of each bundle inside itself).
 *
 * References that name another entry of the bundle by its fullUrl are
 * stored as that entry's Type/id (bundle_index.c).
 *
 * A patient bundle (second argument true: a test-case bundle, an $everything
 * export) is one patient's record: it must hold exactly one Patient, and
 * every other clinical resource is stored as that patient's, whatever its
 * references say.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "common/jsonb_access.h"
#include "store/store.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

static void
bundle_error(int index, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("bundle entry %d: %s", index, what),
			 errdetail("Entries are numbered from 0 in the order of the Bundle's entry array; nothing of this bundle was stored.")));
}

/*
 * The FHIR id of the one Patient of a patient bundle (its id, else the uuid
 * of a urn:uuid fullUrl); an ERROR unless there is exactly one.
 */
static char *
bundle_patient_id(JsonbContainer *entries)
{
	int			n = JsonContainerSize(entries);
	int			found = 0;
	char	   *id = NULL;

	for (int i = 0; i < n; i++)
	{
		JsonbValue *entry = getIthJsonbValueFromContainer(entries, i);
		JsonbValue	res;
		char	   *type;

		/* malformed entries are reported by the load itself */
		if (entry == NULL || entry->type != jbvBinary ||
			!JsonContainerIsObject(entry->val.binary.data) ||
			getKeyJsonValueFromContainer(entry->val.binary.data, "resource", 8, &res) == NULL ||
			res.type != jbvBinary || !JsonContainerIsObject(res.val.binary.data))
			continue;
		type = jb_member_string(res.val.binary.data, "resourceType");
		if (type == NULL || strcmp(type, "Patient") != 0)
			continue;
		if (found++ == 0)
		{
			char	   *full_url = jb_member_string(entry->val.binary.data, "fullUrl");

			id = jb_member_string(res.val.binary.data, "id");
			if ((id == NULL || id[0] == '\0') && full_url &&
				strncmp(full_url, "urn:uuid:", 9) == 0)
				id = full_url + 9;
			if (id == NULL || id[0] == '\0')
				bundle_error(i, "Patient resource has no id");
		}
	}
	if (found != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a patient bundle must hold exactly one Patient, found %d", found),
				 errhint("Load bundles of several patients with patient_bundle => false; their references then decide.")));
	return id;
}

static int
load_bundle_entries(JsonbContainer *entries, bool patient_bundle)
{
	int			n = JsonContainerSize(entries);
	int			stored = 0;
	int			rewritten = 0;
	bool		knowledge_changed = false;
	char	   *owner = patient_bundle ? bundle_patient_id(entries) : NULL;
	StoreBundleIndex *idx = store_bundle_index_build(entries);
	StoreWriter *writer = store_writer_begin();
	MemoryContext entry_cxt = AllocSetContextCreate(CurrentMemoryContext,
													"hedis bundle entry",
													ALLOCSET_DEFAULT_SIZES);

	for (int i = 0; i < n; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(entry_cxt);
		JsonbValue *entry = getIthJsonbValueFromContainer(entries, i);
		JsonbValue	res;
		Jsonb	   *resource;
		char	   *type;

		if (entry == NULL || entry->type != jbvBinary ||
			!JsonContainerIsObject(entry->val.binary.data))
			bundle_error(i, "entry is not a JSON object");
		if (getKeyJsonValueFromContainer(entry->val.binary.data, "resource", 8, &res) == NULL)
			bundle_error(i, "entry has no resource");
		if (res.type != jbvBinary || !JsonContainerIsObject(res.val.binary.data))
			bundle_error(i, "entry resource is not a JSON object");

		resource = JsonbValueToJsonb(&res);
		type = jb_member_string(&resource->root, "resourceType");
		if (type == NULL || type[0] == '\0')
			bundle_error(i, "resource has no resourceType");

		switch (store_resource_kind(type))
		{
			case STORE_KIND_BUNDLE:
				break;
			case STORE_KIND_KNOWLEDGE:
				if (store_knowledge_store(resource, psprintf("bundle entry %d", i)))
					knowledge_changed = true;
				stored++;
				break;
			case STORE_KIND_CLINICAL:
				{
					StoreRow	row;
					char	   *full_url = jb_member_string(entry->val.binary.data, "fullUrl");
					char	   *fallback_id = NULL;
					const char *reason;

					if (full_url && strncmp(full_url, "urn:uuid:", 9) == 0)
						fallback_id = full_url + 9;
					resource = store_bundle_rewrite_references(idx, resource, full_url, &rewritten);
					reason = store_extract_owned(resource, &resource->root, fallback_id, idx,
												 owner, &row);
					if (reason)
						bundle_error(i, reason);
					store_writer_add(writer, &row);
					stored++;
				}
				break;
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(entry_cxt);
	}
	store_writer_flush(writer);
	if (rewritten > 0)
		ereport(DEBUG1,
				(errmsg_internal("load_bundle: %d references rewritten to the Type/id of the entries they name", rewritten)));
	if (knowledge_changed)
		store_knowledge_bump_generation();
	return stored;
}

PG_FUNCTION_INFO_V1(hedis_load_bundle);

Datum
hedis_load_bundle(PG_FUNCTION_ARGS)
{
	Jsonb	   *bundle = PG_GETARG_JSONB_P(0);
	bool		patient_bundle = PG_NARGS() > 1 && PG_GETARG_BOOL(1);
	char	   *type;
	JsonbValue	entries;
	int			stored;

	if (!JB_ROOT_IS_OBJECT(bundle))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a FHIR Bundle must be a JSON object")));
	type = jb_member_string(&bundle->root, "resourceType");
	if (type == NULL || strcmp(type, "Bundle") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expected a FHIR Bundle, got resourceType %s",
						type ? type : "(none)"),
				 errhint("Load single resources with hedis.load_ndjson().")));
	if (getKeyJsonValueFromContainer(&bundle->root, "entry", 5, &entries) == NULL)
		PG_RETURN_INT32(0);
	if (entries.type != jbvBinary || !JsonContainerIsArray(entries.val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("Bundle.entry must be a JSON array")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	stored = load_bundle_entries(entries.val.binary.data, patient_bundle);
	SPI_finish();
	PG_RETURN_INT32(stored);
}
