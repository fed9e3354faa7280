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

extern void jb_object_walk_begin(JbObjectWalk *w, JsonbContainer *obj);
extern bool jb_object_walk_next(JbObjectWalk *w, const char **key, int *keylen, JsonbValue *value);

/* the object or array member key of an object, or NULL */
extern JsonbContainer *jb_member_container(JsonbContainer *obj, const char *key);
/* the string member key of an object (palloc'd), or NULL (absent, not a string) */
extern char *jb_member_string(JsonbContainer *obj, const char *key);
/* the number of elements of an array (0 for anything else) */
extern int	jb_array_length(JsonbContainer *arr);
/* the i-th element of an array when it is an object or array, else NULL */
extern JsonbContainer *jb_array_item(JsonbContainer *arr, int i);

#endif
