/*
 * jsonb_access.h
 *		Reading members of stored jsonb documents (FHIR resources, ELM,
 *		results) without building JsonbValues for what is not asked.
 *
 * Every function accepts NULL and containers of the wrong kind, and answers
 * NULL / 0 for them: callers walk documents whose shape they do not control.
 */
#ifndef HEDIS_JSONB_ACCESS_H
#define HEDIS_JSONB_ACCESS_H

#include "utils/jsonb.h"

/*
 * The member key (keylen bytes) of an object, as getKeyJsonValueFromContainer
 * gives it, but found by one forward walk of the stored entries: jsonb
 * sorts keys by length first, so the walk stops at the first longer key,
 * and no offset is ever recomputed backwards (see jsonb_access.c).
 */
extern bool jb_object_get(JsonbContainer *obj, const char *key, int keylen, JsonbValue *out);
/*
 * The members of an object in their stored order (keys by length, then
 * bytes), without the iterator API's copies:
 *		jb_object_walk_begin(&w, obj);
 *		while (jb_object_walk_next(&w, &key, &keylen, &value)) ...
 * key is not NUL-terminated; value may be NULL (keys only: then on every
 * call of the walk).
 */
typedef struct JbObjectWalk
{
	JsonbContainer *obj;
	int			n;
	int			i;
	const char *base;
	uint32		key_off;
	uint32		value_off;
	bool		values;			/* value_off is set (values were asked for) */
} JbObjectWalk;

/*
 * Inline, because the engine walks keys alone in hot paths and the value
 * work then drops out.  jb_fill_value: the value of an entry whose data lies
 * at [off, end) of base, by fillJsonbValue's rules.
 */
static inline void
jb_fill_value(const char *base, JEntry je, uint32 off, uint32 end, JsonbValue *out)
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

static inline void
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

static inline bool
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
		jb_fill_value(w->base, vje, w->value_off, vend, value);
		w->value_off = vend;
	}
	w->i++;
	return true;
}

/*
 * The elements of an array in order, without getIthJsonbValueFromContainer's
 * palloc and offset recomputation per element:
 *		jb_array_walk_begin(&w, arr);
 *		while (jb_array_walk_next(&w, &value)) ...
 */
typedef struct JbArrayWalk
{
	JsonbContainer *arr;
	int			n;
	int			i;
	const char *base;
	uint32		off;
} JbArrayWalk;

static inline void
jb_array_walk_begin(JbArrayWalk *w, JsonbContainer *arr)
{
	w->arr = (arr != NULL && JsonContainerIsArray(arr)) ? arr : NULL;
	w->n = w->arr ? (int) JsonContainerSize(arr) : 0;
	w->i = 0;
	w->base = w->arr ? (const char *) &arr->children[w->n] : NULL;
	w->off = 0;
}

static inline bool
jb_array_walk_next(JbArrayWalk *w, JsonbValue *value)
{
	JEntry		je;
	uint32		end;

	if (w->i >= w->n)
		return false;
	je = w->arr->children[w->i];
	end = JBE_HAS_OFF(je) ? JBE_OFFLENFLD(je) : w->off + JBE_OFFLENFLD(je);
	jb_fill_value(w->base, je, w->off, end, value);
	w->off = end;
	w->i++;
	return true;
}

/* the member key of an object (NUL-terminated key); false if absent or not an object */
extern bool jb_member(JsonbContainer *obj, const char *key, JsonbValue *out);
/* the object or array member key of an object, or NULL */
extern JsonbContainer *jb_member_container(JsonbContainer *obj, const char *key);
/* the string member key of an object (palloc'd), or NULL (absent, not a string) */
extern char *jb_member_string(JsonbContainer *obj, const char *key);
/* the number of elements of an array (0 for anything else) */
extern int	jb_array_length(JsonbContainer *arr);
/* the i-th element of an array when it is an object or array, else NULL */
extern JsonbContainer *jb_array_item(JsonbContainer *arr, int i);

#endif
