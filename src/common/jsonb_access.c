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
	if (n + found <= JB_OFFSET_STRIDE)
	{
		/*
		 * No entry of the range holds an offset (only entry 0 and every
		 * JB_OFFSET_STRIDE-th after it do): a plain sum of lengths, which the
		 * compiler unrolls.  FHIR objects have a handful of members.
		 */
		uint32		sum = 0;

		for (int i = found + 1; i < n + found; i++)
			sum += JBE_OFFLENFLD(obj->children[i]);
		off += sum;
	}
	else
		for (int i = found + 1; i < n + found; i++)
			JBE_ADVANCE_OFFSET(off, obj->children[i]);
	je = obj->children[n + found];
	end = JBE_HAS_OFF(je) ? JBE_OFFLENFLD(je) : off + JBE_OFFLENFLD(je);
	jb_fill_value(base, je, off, end, out);
	return true;
}

bool
jb_member(JsonbContainer *obj, const char *key, JsonbValue *out)
{
	return jb_object_get(obj, key, (int) strlen(key), out);
}

JsonbContainer *
jb_member_container(JsonbContainer *obj, const char *key)
{
	JsonbValue	v;

	if (!jb_member(obj, key, &v) || v.type != jbvBinary)
		return NULL;
	return v.val.binary.data;
}

char *
jb_member_string(JsonbContainer *obj, const char *key)
{
	JsonbValue	v;

	if (!jb_member(obj, key, &v) || v.type != jbvString)
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

