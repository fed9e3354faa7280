/*
 * bundle_index.c
 *		The entries of one FHIR Bundle by fullUrl, and the references of its
 *		resources resolved and stored as FHIR's bundle rules resolve them.
 *
 * FHIR R4 "Resolving references in Bundles": a reference that is a fullUrl
 * of the bundle (urn:uuid:..., an absolute URL) names that entry; a relative
 * reference Type/id is first made absolute against the base of the fullUrl
 * of the entry that holds it.  A transaction stores each entry under its
 * own Type/id and rewrites the references to it (FHIR RESTful API,
 * transaction processing rules).  Test-case bundles rely on both: some name
 * entries by urn:uuid, and MADiE's rename the resources (a uuid id) but
 * keep the old id in the fullUrl and in the references.  The logic of a
 * measure joins resources on ids (QICoreCommon's getId: the last segment
 * of the reference), so a reference stored as written would name nothing.
 */
#include "postgres.h"

#include "common/jsonb_access.h"
#include "store/store.h"
#include "utils/jsonb.h"

typedef struct BundleIndexItem
{
	char	   *full_url;
	char	   *type;
	char	   *id;
} BundleIndexItem;

struct StoreBundleIndex
{
	int			n;
	BundleIndexItem *items;
	bool		renames;		/* some entry's fullUrl does not end in its Type/id */
	char	   *base;			/* of the first RESTful fullUrl, for entries named by urn */
};

static int
bundle_item_cmp(const void *a, const void *b)
{
	return strcmp(((const BundleIndexItem *) a)->full_url,
				  ((const BundleIndexItem *) b)->full_url);
}

/* the id of an entry without one: the uuid of urn:uuid:X, else the last segment */
static char *
id_from_full_url(const char *full_url)
{
	const char *slash;

	if (full_url == NULL)
		return NULL;
	if (strncmp(full_url, "urn:uuid:", 9) == 0)
		return pstrdup(full_url + 9);
	slash = strrchr(full_url, '/');
	if (slash && slash[1])
		return pstrdup(slash + 1);
	return NULL;
}

/* the length of the base of a RESTful URL (http://x/fhir/Type/id: http://x/fhir), or -1 */
static int
base_length(const char *url)
{
	int			slashes = 0;

	if (url == NULL || strstr(url, "://") == NULL)
		return -1;
	for (const char *p = url + strlen(url); p > url; p--)
		if (*p == '/' && ++slashes == 2)
			return (int) (p - url);
	return -1;
}

/* does full_url end in "/type/id"? */
static bool
names_itself(const char *full_url, const char *type, const char *id)
{
	size_t		ul = strlen(full_url),
				tl = strlen(type),
				il = strlen(id);

	return ul > tl + il + 1 &&
		strcmp(full_url + ul - il, id) == 0 &&
		full_url[ul - il - 1] == '/' &&
		strncmp(full_url + ul - il - 1 - tl, type, tl) == 0 &&
		full_url[ul - il - 2 - tl] == '/';
}

static BundleIndexItem *
bundle_index_find(StoreBundleIndex *idx, const char *full_url)
{
	BundleIndexItem key;

	if (idx == NULL || idx->n == 0)
		return NULL;
	key.full_url = (char *) full_url;
	return bsearch(&key, idx->items, idx->n, sizeof(BundleIndexItem), bundle_item_cmp);
}

/*
 * The entry a reference names: itself a fullUrl of the bundle, or a relative
 * Type/id[/_history/v] made absolute against the base of the fullUrl of the
 * entry holding it (http://x/fhir/Encounter/1 has the base http://x/fhir);
 * an entry named by a urn has no base, and the bundle's is used.
 */
static BundleIndexItem *
resolve(StoreBundleIndex *idx, const char *ref, const char *entry_full_url)
{
	BundleIndexItem *item;
	const char *hist = strstr(ref, "/_history/");
	const char *base = entry_full_url;
	int			baselen = base_length(entry_full_url);

	if (ref[0] == '#' || ref[0] == '\0')
		return NULL;
	if ((item = bundle_index_find(idx, ref)) != NULL)
		return item;
	if (strncmp(ref, "urn:", 4) == 0)
		return NULL;
	if (strstr(ref, "://") != NULL)		/* absolute: a version of an entry's fullUrl */
		return hist ? bundle_index_find(idx, pnstrdup(ref, hist - ref)) : NULL;
	if (baselen < 0)
	{
		if (idx->base == NULL)
			return NULL;
		base = idx->base;
		baselen = (int) strlen(base);
	}
	return bundle_index_find(idx, psprintf("%.*s/%.*s", baselen, base,
										   hist ? (int) (hist - ref) : (int) strlen(ref), ref));
}

StoreBundleIndex *
store_bundle_index_build(JsonbContainer *entries)
{
	StoreBundleIndex *idx = palloc0(sizeof(StoreBundleIndex));
	int			n = jb_array_length(entries);

	if (n <= 0)
		return idx;
	idx->items = palloc(sizeof(BundleIndexItem) * n);
	for (int i = 0; i < n; i++)
	{
		JsonbContainer *e = jb_array_item(entries, i);
		JsonbContainer *res;
		char	   *full_url;
		char	   *type;
		char	   *id;

		if (e == NULL || !JsonContainerIsObject(e))
			continue;
		full_url = jb_member_string(e, "fullUrl");
		res = jb_member_container(e, "resource");
		if (full_url == NULL || res == NULL)
			continue;
		type = jb_member_string(res, "resourceType");
		id = jb_member_string(res, "id");
		if (id == NULL || id[0] == '\0')
			id = id_from_full_url(full_url);
		if (type == NULL || id == NULL)
			continue;
		idx->items[idx->n].full_url = full_url;
		idx->items[idx->n].type = type;
		idx->items[idx->n].id = id;
		if (!names_itself(full_url, type, id))
			idx->renames = true;
		if (idx->base == NULL && base_length(full_url) > 0)
			idx->base = pnstrdup(full_url, base_length(full_url));
		idx->n++;
	}
	qsort(idx->items, idx->n, sizeof(BundleIndexItem), bundle_item_cmp);
	return idx;
}

bool
store_bundle_lookup(StoreBundleIndex *idx, const char *full_url,
					const char **type, const char **id)
{
	BundleIndexItem *item = bundle_index_find(idx, full_url);

	if (item == NULL)
		return false;
	*type = item->type;
	*id = item->id;
	return true;
}

/* the Type/id a reference string should read instead, or NULL when it stays */
static char *
renamed_reference(StoreBundleIndex *idx, const JsonbValue *v, const char *entry_full_url)
{
	char	   *ref = pnstrdup(v->val.string.val, v->val.string.len);
	BundleIndexItem *item = resolve(idx, ref, entry_full_url);
	char	   *name;
	char	   *hist;

	if (item == NULL)
		return NULL;
	name = psprintf("%s/%s", item->type, item->id);
	/* a version of the entry named by its own Type/id stays as written */
	if ((hist = strstr(ref, "/_history/")) != NULL)
		*hist = '\0';
	return strcmp(name, ref) != 0 ? name : NULL;
}

/*
 * Walk the resource's tokens; with state, push them (renamed references
 * renamed) and return the tree; count the references to rename in *changed.
 */
static JsonbValue *
walk_references(StoreBundleIndex *idx, Jsonb *resource, const char *entry_full_url,
				JsonbParseState **state, int *changed)
{
	JsonbIterator *it = JsonbIteratorInit(&resource->root);
	JsonbValue	v;
	JsonbValue *out = NULL;
	JsonbIteratorToken tok;
	bool		reference_key = false;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			reference_key = v.val.string.len == 9 && memcmp(v.val.string.val, "reference", 9) == 0;
		else if (tok == WJB_VALUE && reference_key && v.type == jbvString)
		{
			char	   *name = renamed_reference(idx, &v, entry_full_url);

			if (name != NULL)
			{
				v.val.string.val = name;
				v.val.string.len = (int) strlen(name);
				(*changed)++;
			}
		}
		if (state)
			out = pushJsonbValue(state, tok, tok < WJB_BEGIN_ARRAY ? &v : NULL);
	}
	return out;
}

/*
 * The resource with every Reference.reference that names an entry of the
 * bundle by another name (its urn:uuid, its absolute URL, a relative
 * reference that only its fullUrl matches) rewritten to that entry's
 * Type/id, and their number added to *rewritten; the resource itself when
 * there is none (found by a walk that builds nothing: most resources of a
 * bundle keep their references).  A bundle whose every fullUrl ends in its
 * entry's own Type/id is not walked: a relative reference to an entry
 * already names it so, and an absolute one is left as written (it resolves
 * as it stands).
 */
Jsonb *
store_bundle_rewrite_references(StoreBundleIndex *idx, Jsonb *resource,
								const char *entry_full_url, int *rewritten)
{
	JsonbParseState *state = NULL;
	JsonbValue *out;
	int			changed = 0;

	if (idx == NULL || !idx->renames)
		return resource;
	walk_references(idx, resource, entry_full_url, NULL, &changed);
	if (changed == 0)
		return resource;
	changed = 0;
	out = walk_references(idx, resource, entry_full_url, &state, &changed);
	*rewritten += changed;
	return JsonbValueToJsonb(out);
}
