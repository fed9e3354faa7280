/*
 * jsonb_access.c
 *		Members and elements of stored jsonb documents (see jsonb_access.h).
 */
#include "postgres.h"

#include "common/jsonb_access.h"

/*
 * jsonb.h documents the layout: an object of n pairs has n key entries,
 * then n value entries, then their data in that order; an entry holds its
 * end offset (every JB_OFFSET_STRIDE-th) or its length.  Numbers and
 * containers start at an int-aligned offset.  getKeyJsonValueFromContainer
 * binary-searches the keys, recomputing each probed entry's offset by walking
 * back to the last stored offset; for the small objects of FHIR resources
 * one forward walk is about half the work, and property look-ups are the
 * engine's most frequent operation.
 */
/* the value of an entry whose data lies at [off, end) of base (fillJsonbValue's rules) */
static void
fill_value(const char *base, JEntry je, uint32 off, uint32 end, JsonbValue *out)
{
	if (JBE_ISSTRING(je))
	{
		out->type = jbvString;
		out->val.string.val = (char *) base + off;
		out->val.string.len = (int) (end - off);
	}
	else if (JBE_ISNUMERIC(je))
	{
		out->type = jbvNumeric;
		out->val.numeric = (Numeric) (base + INTALIGN(off));
	}
	else if (JBE_ISBOOL_TRUE(je) || JBE_ISBOOL_FALSE(je))
	{
		out->type = jbvBool;
		out->val.boolean = JBE_ISBOOL_TRUE(je);
	}
	else if (JBE_ISNULL(je))
		out->type = jbvNull;
	else
	{
		Assert(JBE_ISCONTAINER(je));
		out->type = jbvBinary;
		out->val.binary.data = (JsonbContainer *) (base + INTALIGN(off));
		out->val.binary.len = (int) (end - INTALIGN(off));
	}
}

bool
jb_object_get(JsonbContainer *obj, const char *key, int keylen, JsonbValue *out)
{
	int			n;
	const char *base;
	uint32		off = 0;
	uint32		end;
	int			found = -1;
	JEntry		je;

	if (obj == NULL || !JsonContainerIsObject(obj))
		return false;
	n = JsonContainerSize(obj);
	base = (const char *) &obj->children[n * 2];
	for (int i = 0; i < n; i++)
	{
		int			len;

		je = obj->children[i];
		end = JBE_HAS_OFF(je) ? JBE_OFFLENFLD(je) : off + JBE_OFFLENFLD(je);
		len = (int) (end - off);
		if (len == keylen)
		{
			int			c = memcmp(base + off, key, keylen);

			if (c == 0)
			{
				found = i;
				off = end;
				break;
			}
			if (c > 0)
				return false;
		}
		else if (len > keylen)
			return false;
		off = end;
	}
	if (found < 0)
		return false;
	/* on to the start of value number "found": the other keys, the values before it */
	for (int i = found + 1; i < n + found; i++)
		JBE_ADVANCE_OFFSET(off, obj->children[i]);
	je = obj->children[n + found];
	end = JBE_HAS_OFF(je) ? JBE_OFFLENFLD(je) : off + JBE_OFFLENFLD(je);
	fill_value(base, je, off, end, out);
	return true;
}

static bool
member(JsonbContainer *obj, const char *key, JsonbValue *out)
{
	return obj != NULL && JsonContainerIsObject(obj) &&
		getKeyJsonValueFromContainer(obj, key, strlen(key), out) != NULL;
}

JsonbContainer *
jb_member_container(JsonbContainer *obj, const char *key)
{
	JsonbValue	v;

	if (!member(obj, key, &v) || v.type != jbvBinary)
		return NULL;
	return v.val.binary.data;
}

char *
jb_member_string(JsonbContainer *obj, const char *key)
{
	JsonbValue	v;

	if (!member(obj, key, &v) || v.type != jbvString)
		return NULL;
	return pnstrdup(v.val.string.val, v.val.string.len);
}

int
jb_array_length(JsonbContainer *arr)
{
	return (arr != NULL && JsonContainerIsArray(arr)) ? (int) JsonContainerSize(arr) : 0;
}

JsonbContainer *
jb_array_item(JsonbContainer *arr, int i)
{
	JsonbValue *v;

	if (i < 0 || i >= jb_array_length(arr))
		return NULL;
	v = getIthJsonbValueFromContainer(arr, i);
	return (v != NULL && v->type == jbvBinary) ? v->val.binary.data : NULL;
}

void
jb_object_walk_begin(JbObjectWalk *w, JsonbContainer *obj)
{
	w->obj = (obj != NULL && JsonContainerIsObject(obj)) ? obj : NULL;
	w->n = w->obj ? (int) JsonContainerSize(obj) : 0;
	w->i = 0;
	w->base = w->obj ? (const char *) &obj->children[w->n * 2] : NULL;
	w->key_off = 0;
	w->value_off = 0;
	w->values = false;
}

bool
jb_object_walk_next(JbObjectWalk *w, const char **key, int *keylen, JsonbValue *value)
{
	JEntry		kje,
				vje;
	uint32		kend,
				vend;

	if (w->i >= w->n)
		return false;
	if (value && !w->values)
	{
		/* the values' data starts where the keys' ends (walks of keys alone skip this) */
		Assert(w->i == 0);
		for (int k = 0; k < w->n; k++)
			JBE_ADVANCE_OFFSET(w->value_off, w->obj->children[k]);
		w->values = true;
	}
	kje = w->obj->children[w->i];
	kend = JBE_HAS_OFF(kje) ? JBE_OFFLENFLD(kje) : w->key_off + JBE_OFFLENFLD(kje);
	*key = w->base + w->key_off;
	*keylen = (int) (kend - w->key_off);
	w->key_off = kend;
	if (value)
	{
		vje = w->obj->children[w->n + w->i];
		vend = JBE_HAS_OFF(vje) ? JBE_OFFLENFLD(vje) : w->value_off + JBE_OFFLENFLD(vje);
		fill_value(w->base, vje, w->value_off, vend, value);
		w->value_off = vend;
	}
	w->i++;
	return true;
}
