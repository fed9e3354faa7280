/*
 * fhir_data.c
 *		The engine's side of the data store: one patient's resources read
 *		once, retrieves filtered by code before any property is touched,
 *		navigation of FHIR JSON (choice types, primitive extensions), and
 *		value-set membership from the terminology index.
 *
 * Resources stay in their stored jsonb form; a CK_FHIR value is a pointer
 * into it plus the FHIR type, so reading `Encounter.period.start` is three
 * binary searches in the jsonb, with no parsing.
 */
#include "postgres.h"

#include "access/genam.h"
#include "common/hashfn.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "executor/spi.h"
#include "nodes/pg_list.h"
#include "pgstat.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "engine/cql_arena.h"
#include "engine/elm_ops.h"
#include "common/jsonb_access.h"
#include "common/search_path.h"
#include "engine/fhir_data.h"

/* ---- navigation ------------------------------------------------------- */

typedef enum PrimKind
{
	PK_STRING,
	PK_BOOLEAN,
	PK_INTEGER,
	PK_DECIMAL,
	PK_DATE,
	PK_DATETIME,
	PK_TIME
} PrimKind;

/* the System type of a FHIR primitive type, memoised by its interned name */
static PrimKind
prim_kind_of_type(const char *type)
{
	static struct
	{
		const char *type;
		PrimKind	kind;
	}			memo[256];
	int			slot = (int) ((((uint64) (uintptr_t) type) * UINT64CONST(0x9E3779B97F4A7C15)) >> 56);
	const char *st;
	PrimKind	k = PK_STRING;

	if (memo[slot].type == type)
		return memo[slot].kind;
	st = fhir_primitive_system_type(type);
	if (st == NULL)
		k = PK_STRING;
	else if (strcmp(st, "Boolean") == 0)
		k = PK_BOOLEAN;
	else if (strcmp(st, "Integer") == 0)
		k = PK_INTEGER;
	else if (strcmp(st, "Decimal") == 0)
		k = PK_DECIMAL;
	else if (strcmp(st, "Date") == 0)
		k = PK_DATE;
	else if (strcmp(st, "DateTime") == 0)
		k = PK_DATETIME;
	else if (strcmp(st, "Time") == 0)
		k = PK_TIME;
	memo[slot].type = type;
	memo[slot].kind = k;
	return k;
}

CqlValue
fhir_primitive_value(const CqlFhir *f)
{
	PrimKind	k;
	CqlDateTime dt;
	char	   *s;

	if (f->jv.type == jbvNull || f->jv.type == jbvBinary)
		return CQL_NULL_VALUE;
	if (f->jv.type == jbvBool)
		return cql_bool(f->jv.val.boolean);
	/* an untyped primitive takes its JSON kind */
	k = f->type ? prim_kind_of_type(f->type) : (f->jv.type == jbvNumeric ? PK_DECIMAL : PK_STRING);
	if (f->jv.type == jbvNumeric)
	{
		if (k == PK_INTEGER)
			return cql_int(DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(f->jv.val.numeric))));
		return cql_dec(DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(f->jv.val.numeric))));
	}
	/* jbvString */
	switch (k)
	{
		case PK_DATETIME:
			if (!cql_dt_parse_datetime(f->jv.val.string.val, f->jv.val.string.len, &dt))
				return CQL_NULL_VALUE;
			cql_dt_apply_default_tz(&dt, (int16_t) cql_default_tz_minutes);
			return cql_temporal(CK_DATETIME, &dt);
		case PK_DATE:
			return cql_dt_parse_date(f->jv.val.string.val, f->jv.val.string.len, &dt)
				? cql_temporal(CK_DATE, &dt) : CQL_NULL_VALUE;
		case PK_TIME:
			return cql_dt_parse_time(f->jv.val.string.val, f->jv.val.string.len, &dt)
				? cql_temporal(CK_TIME, &dt) : CQL_NULL_VALUE;
		default:
			break;
	}
	s = cql_strndup(f->jv.val.string.val, f->jv.val.string.len);
	if (k == PK_INTEGER)
		return cql_int(strtoll(s, NULL, 10));
	if (k == PK_DECIMAL)
		return cql_dec(strtod(s, NULL));
	if (k == PK_BOOLEAN)
		return cql_bool(strcmp(s, "true") == 0);
	return cql_str(s);
}

static bool
obj_get(const CqlFhir *f, const char *key, int keylen, JsonbValue *out)
{
	if (f->jv.type != jbvBinary)
		return false;
	return jb_object_get(f->jv.val.binary.data, key, keylen, out);
}

static const char *
jv_string(const JsonbValue *v)
{
	return v->type == jbvString ? pnstrdup(v->val.string.val, v->val.string.len) : NULL;
}

typedef enum FhirKind
{
	FK_OTHER,
	FK_CODING,
	FK_CONCEPT,
	FK_QUANTITY,
	FK_PERIOD
} FhirKind;

/*
 * The conversion a FHIR complex type gets, memoised by the interned type
 * pointer (a small direct-mapped table: the same few types recur).
 */
static FhirKind
fhir_kind(const char *type)
{
	static struct
	{
		const char *type;
		FhirKind	kind;
	}			memo[256];
	int			slot = (int) ((((uint64) (uintptr_t) type) * UINT64CONST(0x9E3779B97F4A7C15)) >> 56);
	FhirKind	k;

	if (memo[slot].type == type)
		return memo[slot].kind;
	if (strcmp(type, "Coding") == 0)
		k = FK_CODING;
	else if (strcmp(type, "CodeableConcept") == 0)
		k = FK_CONCEPT;
	else if (strcmp(type, "Period") == 0)
		k = FK_PERIOD;
	else if (fhir_type_is_a(type, "Quantity"))
		k = FK_QUANTITY;
	else
		k = FK_OTHER;
	memo[slot].type = type;
	memo[slot].kind = k;
	return k;
}

/* Coding -> Code, CodeableConcept -> Concept, Quantity -> Quantity, primitive -> value */
CqlValue
fhir_to_system(CqlValue v)
{
	CqlFhir    *f;
	JsonbValue	jv;
	FhirKind	kind;

	if (v.kind == CK_LIST)
	{
		CqlValue	out = cql_list_new(v.u.list->n);

		for (int i = 0; i < v.u.list->n; i++)
			cql_list_append(&out, fhir_to_system(v.u.list->items[i]));
		return out;
	}
	if (v.kind != CK_FHIR)
		return v;
	f = v.u.fhir;
	if (f->jv.type != jbvBinary)
		return fhir_primitive_value(f);
	if (f->type == NULL)
		return v;
	kind = fhir_kind(f->type);
	if (kind == FK_CODING)
	{
		const char *code = obj_get(f, "code", 4, &jv) ? jv_string(&jv) : NULL;
		const char *system = obj_get(f, "system", 6, &jv) ? jv_string(&jv) : NULL;
		const char *version = obj_get(f, "version", 7, &jv) ? jv_string(&jv) : NULL;
		const char *display = obj_get(f, "display", 7, &jv) ? jv_string(&jv) : NULL;

		return cql_code_value(code, system, version, display);
	}
	if (kind == FK_CONCEPT)
	{
		CqlValue	c = {.kind = CK_CONCEPT};
		static const char *mt;
		static const void *me;
		CqlValue	codings = fhir_property_memo(v, "coding", &mt, &me);

		c.u.concept = palloc0(sizeof(CqlConcept));
		c.u.concept->codes = palloc0(sizeof(CqlCode) * Max(cql_list_len(codings), 1));
		for (int i = 0; i < cql_list_len(codings); i++)
		{
			CqlValue	code = fhir_to_system(codings.u.list->items[i]);

			if (code.kind == CK_CODE)
				c.u.concept->codes[c.u.concept->ncodes++] = *code.u.code;
		}
		c.u.concept->display = obj_get(f, "text", 4, &jv) ? jv_string(&jv) : NULL;
		return c;
	}
	if (kind == FK_QUANTITY)
	{
		static const char *mt;
		static const void *me;
		CqlValue	val = fhir_to_system(fhir_property_memo(v, "value", &mt, &me));
		const char *unit = obj_get(f, "code", 4, &jv) ? jv_string(&jv) : NULL;

		if (unit == NULL && obj_get(f, "unit", 4, &jv))
			unit = jv_string(&jv);
		if (val.kind == CK_NULL)
			return CQL_NULL_VALUE;
		return cql_quantity(val.kind == CK_INT ? (double) val.u.i : val.u.d, unit ? unit : "1");
	}
	if (kind == FK_PERIOD)
	{
		static const char *mts,
				   *mte;
		static const void *mes,
				   *mee;
		CqlValue	s = fhir_to_system(fhir_property_memo(v, "start", &mts, &mes));
		CqlValue	e = fhir_to_system(fhir_property_memo(v, "end", &mte, &mee));

		return cql_interval(s, e, s.kind != CK_NULL || e.kind == CK_NULL, true);
	}
	return v;
}

/* "valueQuantity" -> "Quantity", "effectiveDateTime" -> "dateTime" */
static const char *
choice_suffix_type(const char *suffix, int len)
{
	char		buf[NAMEDATALEN];
	const char *t;

	if (len <= 0 || len >= NAMEDATALEN)
		return NULL;
	memcpy(buf, suffix, len);
	buf[len] = '\0';
	buf[0] = pg_tolower((unsigned char) buf[0]);
	if ((t = fhir_type_intern(buf)) != NULL)
		return t;
	buf[0] = suffix[0];
	return fhir_type_intern(buf);
}

/*
 * Has the object any "_name" key (a primitive's id or extensions)?  Most
 * have none, and then no element needs its "_name" looked up.  Remembered
 * in the value: a resource is asked for many elements.
 */
static bool
has_underscore_keys(CqlFhir *f)
{
	if (f->underscore_keys == 0)
	{
		JbObjectWalk w;
		const char *key;
		int			len;

		f->underscore_keys = -1;
		jb_object_walk_begin(&w, f->jv.val.binary.data);
		while (jb_object_walk_next(&w, &key, &len, NULL))
			if (len > 0 && key[0] == '_')
			{
				f->underscore_keys = 1;
				break;
			}
	}
	return f->underscore_keys > 0;
}

/* look up "_name" (name of nlen bytes), if the object has such keys */
static bool
obj_get_underscore(CqlFhir *f, const char *name, size_t nlen, JsonbValue *out)
{
	char		extkey[NAMEDATALEN + 1];

	if (nlen >= NAMEDATALEN || f->jv.type != jbvBinary ||
		!JsonContainerIsObject(f->jv.val.binary.data) || !has_underscore_keys(f))
		return false;
	extkey[0] = '_';
	memcpy(extkey + 1, name, nlen);
	return obj_get(f, extkey, (int) nlen + 1, out);
}

/*
 * The key a choice element was last found under (valueQuantity,
 * effectiveDateTime...), per element of the model: the resources of one
 * measure mostly use one type per choice, so one key probe usually finds
 * it without walking all the object's keys.
 */
#define CHOICE_MEMO_SIZE 128	/* power of two */

typedef struct ChoiceMemo
{
	const FhirElementInfo *elem;	/* NULL: empty */
	const char *type;			/* the suffix's interned type */
	int			klen;
	char		key[NAMEDATALEN];
} ChoiceMemo;

static ChoiceMemo choice_memo[CHOICE_MEMO_SIZE];

/* find "<name><Type>" among the object's keys (e: the choice element, or NULL) */
static bool
find_choice(const CqlFhir *f, const char *name, const FhirElementInfo *e,
			JsonbValue *out, const char **type, char *keybuf)
{
	size_t		nlen = strlen(name);
	ChoiceMemo *memo = NULL;

	if (f->jv.type != jbvBinary || !JsonContainerIsObject(f->jv.val.binary.data))
		return false;
	if (e)
	{
		memo = &choice_memo[((uintptr_t) e / sizeof(FhirElementInfo)) & (CHOICE_MEMO_SIZE - 1)];
		if (memo->elem == e && obj_get(f, memo->key, memo->klen, out))
		{
			memcpy(keybuf, memo->key, memo->klen + 1);
			*type = memo->type;
			return true;
		}
	}
	{
		JbObjectWalk w;
		const char *key;
		int			len;

		/* an absent choice element (Condition.abatement, mostly) walks them all */
		jb_object_walk_begin(&w, f->jv.val.binary.data);
		while (jb_object_walk_next(&w, &key, &len, NULL))
		{
			if (len > (int) nlen && memcmp(key, name, nlen) == 0 &&
				key[nlen] >= 'A' && key[nlen] <= 'Z')
			{
				const char *t = choice_suffix_type(key + nlen, len - nlen);
				int			klen = Min(len, NAMEDATALEN - 1);

				memcpy(keybuf, key, klen);
				keybuf[klen] = '\0';
				*type = t;
				if (memo)
				{
					memo->elem = e;
					memo->type = t;
					memo->klen = klen;
					memcpy(memo->key, keybuf, klen + 1);
				}
				return obj_get(f, keybuf, klen, out);
			}
		}
	}
	return false;
}

static CqlValue
wrap_element(const char *type, JsonbValue *jv, JsonbValue *ext, bool have_ext)
{
	if (jv->type == jbvBinary && JsonContainerIsArray(jv->val.binary.data))
	{
		JsonbContainer *arr = jv->val.binary.data;
		CqlValue	out = cql_list_new(JsonContainerSize(arr));
		JbArrayWalk items,
					exts;
		JsonbValue	item,
					e;

		/* "_name" is an array parallel to the array of primitives, if any */
		jb_array_walk_begin(&items, arr);
		jb_array_walk_begin(&exts, (have_ext && ext->type == jbvBinary) ? ext->val.binary.data : NULL);
		while (jb_array_walk_next(&items, &item))
		{
			JsonbContainer *ic = NULL;

			if (jb_array_walk_next(&exts, &e) && e.type == jbvBinary)
				ic = e.val.binary.data;
			if (item.type != jbvNull)
				cql_list_append(&out, cql_fhir_value(type, &item, ic));
		}
		return out;
	}
	return cql_fhir_value(type, jv,
						  (have_ext && ext->type == jbvBinary) ? ext->val.binary.data : NULL);
}

static CqlValue
fhir_property_one(CqlValue src, const char *name, const FhirElementInfo *e_given, bool have_e)
{
	CqlFhir    *f = src.u.fhir;
	const FhirElementInfo *e;
	JsonbValue	jv,
				ext;
	const char *type = NULL;
	char		keybuf[NAMEDATALEN];
	const char *key;
	size_t		klen;
	bool		found,
				have_ext;
	size_t		nlen = strlen(name);

	/* a primitive: its value, or the id/extension kept in "_name" */
	if (f->jv.type != jbvBinary)
	{
		if (strcmp(name, "value") == 0)
			return fhir_primitive_value(f);
		if (f->ext)
		{
			CqlFhir		holder = {NULL, {.type = jbvBinary}, NULL, 0};

			holder.jv.val.binary.data = f->ext;
			holder.jv.val.binary.len = VARSIZE_ANY(f->ext);
			if (obj_get(&holder, name, nlen, &jv))
				return wrap_element(strcmp(name, "extension") == 0 ? "Extension" : "string", &jv, &ext, false);
		}
		return strcmp(name, "extension") == 0 ? cql_list_new(0) : CQL_NULL_VALUE;
	}

	e = have_e ? e_given : (f->type ? fhir_element_lookup(f->type, name) : NULL);
	key = name;
	klen = nlen;
	found = obj_get(f, name, nlen, &jv);
	if (e && !e->is_choice)
		type = fhir_element_type(e);
	else if (!found && (found = find_choice(f, name, e, &jv, &type, keybuf)))
	{
		key = keybuf;
		klen = strlen(keybuf);
	}
	if (!found)
	{
		/* a primitive with only an extension ("_birthDate") */
		if (obj_get_underscore(f, name, nlen, &ext) && ext.type == jbvBinary)
		{
			JsonbValue	nullv = {.type = jbvNull};

			return cql_fhir_value(type, &nullv, ext.val.binary.data);
		}
		if (e && e->is_list)
			return cql_list_new(0);
		return CQL_NULL_VALUE;
	}
	if (jv.type == jbvNull)
		return CQL_NULL_VALUE;
	/* only primitives (or arrays of them) have "_name" siblings; an object's are its own */
	have_ext = !(jv.type == jbvBinary && JsonContainerIsObject(jv.val.binary.data)) &&
		obj_get_underscore(f, key, klen, &ext);
	return wrap_element(type, &jv, &ext, have_ext);
}

CqlValue
fhir_property(CqlValue src, const char *name)
{
	if (src.kind == CK_LIST)
	{
		CqlValue	out = cql_list_new(src.u.list->n);

		for (int i = 0; i < src.u.list->n; i++)
		{
			CqlValue	v = fhir_property(src.u.list->items[i], name);

			if (v.kind == CK_LIST)
				for (int k = 0; k < v.u.list->n; k++)
					cql_list_append(&out, v.u.list->items[k]);
			else if (v.kind != CK_NULL)
				cql_list_append(&out, v);
		}
		return out;
	}
	if (src.kind != CK_FHIR)
		return CQL_NULL_VALUE;
	return fhir_property_one(src, name, NULL, false);
}

/* the model's element name of type, remembered for the last type asked in *memo_* */
static const FhirElementInfo *
element_memo(const char *type, const char *name, const char **memo_type, const void **memo_elem)
{
	if (*memo_type != type)
	{
		*memo_elem = fhir_element_lookup(type, name);
		*memo_type = type;
	}
	return (const FhirElementInfo *) *memo_elem;
}

CqlValue
fhir_property_memo(CqlValue src, const char *name, const char **memo_type, const void **memo_elem)
{
	if (src.kind != CK_FHIR || src.u.fhir->type == NULL || src.u.fhir->jv.type != jbvBinary)
		return fhir_property(src, name);
	return fhir_property_one(src, name, element_memo(src.u.fhir->type, name, memo_type, memo_elem), true);
}

/*
 * src.name, where name is one element (not a list, not a choice) of the
 * FHIR object src: CHILD_ABSENT if it is absent or null, CHILD_PRIMITIVE
 * (its FHIR type and JSON value) if it holds a scalar; CHILD_OTHER when src
 * is not such an object or the element holds an array or an object.
 */
typedef enum ChildKind
{
	CHILD_OTHER,
	CHILD_ABSENT,
	CHILD_PRIMITIVE
} ChildKind;

static ChildKind
child_primitive(CqlValue src, const char *name, const char **memo_type,
				const void **memo_elem, const char **type, JsonbValue *jv)
{
	CqlFhir    *f = src.u.fhir;
	const FhirElementInfo *e;

	if (src.kind != CK_FHIR || f->type == NULL || f->jv.type != jbvBinary ||
		!JsonContainerIsObject(f->jv.val.binary.data))
		return CHILD_OTHER;
	e = element_memo(f->type, name, memo_type, memo_elem);
	if (e == NULL || e->is_choice || e->is_list)
		return CHILD_OTHER;
	if (!obj_get(f, name, (int) strlen(name), jv) || jv->type == jbvNull)
		return CHILD_ABSENT;
	if (jv->type == jbvBinary)
		return CHILD_OTHER;
	*type = fhir_element_type(e);
	return CHILD_PRIMITIVE;
}

/*
 * src.name.value for such an element: the System value of the primitive,
 * read in place.  Taking the two steps makes a wrapper for the primitive
 * and looks up its "_name" extensions, which a primitive's value does not
 * depend on; FHIR helpers (coding.code.value, quantity.value.value...) and
 * measures (Patient.birthDate.value) take this path by the dozen per
 * patient.  The result is what the two steps give: null when the element
 * is absent or null, the primitive's value otherwise.  false (the caller
 * takes the two steps): not such an element.
 */
bool
fhir_child_primitive_value(CqlValue src, const char *name,
						   const char **memo_type, const void **memo_elem, CqlValue *out)
{
	CqlFhir		prim = {NULL, {.type = jbvNull}, NULL, 0};

	switch (child_primitive(src, name, memo_type, memo_elem, &prim.type, &prim.jv))
	{
		case CHILD_ABSENT:
			*out = CQL_NULL_VALUE;
			return true;
		case CHILD_PRIMITIVE:
			*out = fhir_primitive_value(&prim);
			return true;
		default:
			return false;
	}
}

/* src.name when it is one primitive element present in src (see child_primitive) */
bool
fhir_child_primitive(CqlValue src, const char *name, const char **memo_type,
					 const void **memo_elem, CqlFhir *out)
{
	out->ext = NULL;
	out->underscore_keys = 0;
	return child_primitive(src, name, memo_type, memo_elem, &out->type, &out->jv) == CHILD_PRIMITIVE;
}

bool
fhir_deep_equal(const CqlFhir *a, const CqlFhir *b)
{
	if (a->jv.type == jbvBinary && b->jv.type == jbvBinary)
	{
		if (a->jv.val.binary.data == b->jv.val.binary.data)
			return true;
		return compareJsonbContainers(a->jv.val.binary.data, b->jv.val.binary.data) == 0;
	}
	if (a->jv.type != jbvBinary && b->jv.type != jbvBinary)
		return cql_equal(fhir_primitive_value(a), fhir_primitive_value(b)) == CQL_TRUE;
	return false;
}

int
fhir_sort_compare(const CqlFhir *a, const CqlFhir *b)
{
	if (a->jv.type == jbvBinary && b->jv.type == jbvBinary)
		return compareJsonbContainers(a->jv.val.binary.data, b->jv.val.binary.data);
	return (a->jv.type == jbvBinary) - (b->jv.type == jbvBinary);
}

const char *
fhir_resource_id(const CqlFhir *f)
{
	JsonbValue	jv;

	if (obj_get(f, "id", 2, &jv) && jv.type == jbvString)
		return pnstrdup(jv.val.string.val, jv.val.string.len);
	return NULL;
}

const char *
fhir_value_type(CqlValue v)
{
	return v.kind == CK_FHIR ? v.u.fhir->type : NULL;
}

/* ---- terminology ------------------------------------------------------ */

static int
cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
valueset_load(ElmValueSet *vs)
{
	int			pinned;
	/* the codes live as long as the compiled library that owns vs */
	MemoryContext owner = elm_cache_context();
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	int			rc;
	MemoryContext old;

	MemoryContext caller = CurrentMemoryContext;

	engine_spi_ensure();
	args[0] = CStringGetTextDatum(vs->url);
	pinned = search_path_pin();
	rc = SPI_execute_with_args(
							   "SELECT DISTINCT system || '|' || code FROM hedis.valueset_code "
							   "WHERE valueset_url = $1",
							   1, argtypes, args, NULL, true, 0);
	search_path_restore(pinned);
	MemoryContextSwitchTo(caller);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read hedis.valueset_code: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
	{
		bool		exists;

		pinned = search_path_pin();
		rc = SPI_execute_with_args("SELECT 1 FROM hedis.valueset WHERE url = $1",
								   1, argtypes, args, NULL, true, 1);
		search_path_restore(pinned);
		MemoryContextSwitchTo(caller);
		exists = rc == SPI_OK_SELECT && SPI_processed > 0;
		if (!exists)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("value set \"%s\" (%s) is not loaded", vs->name, vs->url),
					 errhint("Load the measure's ValueSet resources with hedis.load_bundle().")));
	}
	old = MemoryContextSwitchTo(owner);
	vs->ncodes = (int) SPI_processed;
	vs->codes = palloc(sizeof(char *) * Max(vs->ncodes, 1));
	for (int i = 0; i < vs->ncodes; i++)
		vs->codes[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);
	qsort(vs->codes, vs->ncodes, sizeof(char *), cmp_cstr);
	/* membership is the hot question: a hash table at most half full */
	vs->mask = 15;
	while (vs->mask + 1 < (uint32) vs->ncodes * 2)
		vs->mask = vs->mask * 2 + 1;
	vs->table = MemoryContextAllocZero(owner, sizeof(char *) * (vs->mask + 1));
	for (int i = 0; i < vs->ncodes; i++)
	{
		uint32		h = hash_bytes((const unsigned char *) vs->codes[i], strlen(vs->codes[i])) & vs->mask;

		while (vs->table[h] != NULL)
			h = (h + 1) & vs->mask;
		vs->table[h] = vs->codes[i];
	}
	vs->loaded_generation = 1;
}

/* is "system|code" (len bytes, hash h) in the value set's hash table */
static bool
valueset_has_hashed_key(ElmValueSet *vs, const char *key, int len, uint32 hash)
{
	uint32		h;

	if (vs->loaded_generation == 0)
		valueset_load(vs);
	h = hash & vs->mask;
	while (vs->table[h] != NULL)
	{
		if (strncmp(vs->table[h], key, len) == 0 && vs->table[h][len] == '\0')
			return true;
		h = (h + 1) & vs->mask;
	}
	return false;
}

static bool
valueset_has_key(ElmValueSet *vs, const char *key, int len)
{
	return valueset_has_hashed_key(vs, key, len, hash_bytes((const unsigned char *) key, len));
}

static void add_coding_key(JsonbContainer *coding, ResourceCodes *rc, int *cap);

/* append the "system|code" of every coding in a code-bearing FHIR value */
static void
collect_code_keys(CqlValue v, ResourceCodes *rc, int *cap)
{
	if (v.kind == CK_LIST)
	{
		for (int i = 0; i < v.u.list->n; i++)
			collect_code_keys(v.u.list->items[i], rc, cap);
		return;
	}
	if (v.kind == CK_NULL)
		return;
	if (v.kind != CK_FHIR || v.u.fhir->type == NULL || v.u.fhir->jv.type != jbvBinary)
	{
		rc->other = true;		/* a bare code, say: the general path decides */
		return;
	}
	if (fhir_kind(v.u.fhir->type) == FK_CONCEPT)
	{
		static const char *mt;
		static const void *me;

		collect_code_keys(fhir_property_memo(v, "coding", &mt, &me), rc, cap);
		return;
	}
	if (fhir_kind(v.u.fhir->type) == FK_CODING)
		add_coding_key(v.u.fhir->jv.val.binary.data, rc, cap);
}

/* the "system|code" of a Coding object, if it has both */
static void
add_coding_key(JsonbContainer *coding, ResourceCodes *rc, int *cap)
{
	JsonbValue	sys,
				code;
	int			len;

	if (!jb_object_get(coding, "system", 6, &sys) || sys.type != jbvString ||
		!jb_object_get(coding, "code", 4, &code) || code.type != jbvString)
		return;
	if (rc->n == *cap)
	{
		*cap = *cap ? *cap * 2 : 4;
		rc->keys = cql_grow(rc->keys, rc->n, *cap, sizeof(char *));
		rc->lens = cql_grow(rc->lens, rc->n, *cap, sizeof(int));
		rc->system_lens = cql_grow(rc->system_lens, rc->n, *cap, sizeof(int));
		rc->hashes = cql_grow(rc->hashes, rc->n, *cap, sizeof(uint32));
	}
	len = sys.val.string.len + 1 + code.val.string.len;
	rc->keys[rc->n] = cql_alloc(len + 1);
	memcpy(rc->keys[rc->n], sys.val.string.val, sys.val.string.len);
	rc->keys[rc->n][sys.val.string.len] = '|';
	memcpy(rc->keys[rc->n] + sys.val.string.len + 1, code.val.string.val, code.val.string.len);
	rc->keys[rc->n][len] = '\0';
	rc->lens[rc->n] = len;
	rc->system_lens[rc->n] = sys.val.string.len;
	rc->hashes[rc->n] = hash_bytes((const unsigned char *) rc->keys[rc->n], len);
	rc->n++;
}

/*
 * The codes of one CodeableConcept or Coding object (coding arrays walked
 * in place); false at anything else, with rc partly filled.
 */
static bool
concept_codes_in_place(const JsonbValue *v, bool concept, ResourceCodes *rc, int *cap)
{
	JsonbValue	coding;
	JbArrayWalk w;
	JsonbValue	item;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		return false;
	if (!concept)
	{
		add_coding_key(v->val.binary.data, rc, cap);
		return true;
	}
	if (!jb_object_get(v->val.binary.data, "coding", 6, &coding) || coding.type == jbvNull)
		return true;
	if (coding.type != jbvBinary || !JsonContainerIsArray(coding.val.binary.data))
		return false;
	jb_array_walk_begin(&w, coding.val.binary.data);
	while (jb_array_walk_next(&w, &item))
	{
		if (item.type == jbvNull)
			continue;
		if (item.type != jbvBinary || !JsonContainerIsObject(item.val.binary.data))
			return false;
		add_coding_key(item.val.binary.data, rc, cap);
	}
	return true;
}

/*
 * A resource's codes for r's code property read straight from its jsonb
 * when the property is a CodeableConcept or Coding element (or a list of
 * them) present in the usual shape: what collect_code_keys finds through
 * the element's wrappers, without making them.  false: take that way.
 */
static bool
codes_in_place(CqlValue res, const ElmRetrieve *r, ResourceCodes *rc, int *cap)
{
	CqlFhir    *f = res.u.fhir;
	const FhirElementInfo *e;
	FhirKind	kind;
	JsonbValue	v;

	if (res.kind != CK_FHIR || f->type == NULL || f->jv.type != jbvBinary)
		return false;
	e = element_memo(f->type, r->code_property,
					 (const char **) &r->memo_type, (const void **) &r->memo_elem);
	if (e == NULL || e->is_choice)
		return false;
	kind = fhir_kind(fhir_element_type(e));
	if ((kind != FK_CONCEPT && kind != FK_CODING) ||
		!obj_get(f, r->code_property, (int) strlen(r->code_property), &v))
		return false;
	if (v.type == jbvNull)
		return true;
	if (v.type == jbvBinary && JsonContainerIsArray(v.val.binary.data))
	{
		JbArrayWalk w;
		JsonbValue	item;

		jb_array_walk_begin(&w, v.val.binary.data);
		while (jb_array_walk_next(&w, &item))
			if (item.type != jbvNull && !concept_codes_in_place(&item, kind == FK_CONCEPT, rc, cap))
				return false;
		return true;
	}
	return concept_codes_in_place(&v, kind == FK_CONCEPT, rc, cap);
}

/*
 * The codes of every resource of a group for one code property, extracted
 * once per patient: a patient's Encounters are filtered by many value sets
 * ("Office Visit", "Home Healthcare Services", ...) and each retrieve then
 * only probes hash tables.
 */
static ResourceCodes *
group_codes(PatientData *pd, PatientTypeGroup *grp, const ElmRetrieve *r)
{
	MemoryContext old;

	if (grp->codes != NULL && (grp->codes_property == r->code_property ||
								strcmp(grp->codes_property, r->code_property) == 0))
		return grp->codes;
	old = MemoryContextSwitchTo(pd->mcxt);
	grp->codes = cql_alloc0(sizeof(ResourceCodes) * Max(grp->n, 1));
	for (int i = 0; i < grp->n; i++)
	{
		int			cap = 0;

		if (codes_in_place(grp->resources[i], r, &grp->codes[i], &cap))
			continue;
		grp->codes[i].n = 0;
		collect_code_keys(fhir_property_memo(grp->resources[i], r->code_property,
											 (const char **) &r->memo_type,
											 (const void **) &r->memo_elem),
						  &grp->codes[i], &cap);
	}
	grp->codes_property = r->code_property;
	MemoryContextSwitchTo(old);
	return grp->codes;
}

static bool
codes_in_valueset(const ResourceCodes *rc, ElmValueSet *vs)
{
	for (int i = 0; i < rc->n; i++)
		if (valueset_has_hashed_key(vs, rc->keys[i], rc->lens[i], rc->hashes[i]))
			return true;
	return false;
}

/*
 * A retrieve's code filter given as codes rather than a value set (a Code,
 * a Concept, or a list of them: the translator's [Observation: "Hospice
 * care [Minimum Data Set]"]), as (system, code) pairs matched against the
 * codes group_codes extracted, as value sets are: a resource's coding
 * matches a code when both its system and its code are equal to the
 * code's, which is Code equivalence (cql_equivalent; codes_match ignores
 * the comparator too).  Before, every resource's code element was
 * converted to a Concept for every such retrieve.
 */
typedef struct FilterCode
{
	const char *system;
	int			system_len;
	const char *code;
	int			code_len;
} FilterCode;

/* the codes a Code or Concept holds, or -1 for a value of another kind */
static int
value_ncodes(CqlValue v)
{
	return v.kind == CK_CODE ? 1 : v.kind == CK_CONCEPT ? v.u.concept->ncodes : -1;
}

/* false for a code without system or code: codes_match compares it */
static bool
filter_code_add(const CqlCode *c, FilterCode *fc, int *n)
{
	if (c->system == NULL || c->code == NULL)
		return false;
	fc[*n].system = c->system;
	fc[*n].system_len = strlen(c->system);
	fc[*n].code = c->code;
	fc[*n].code_len = strlen(c->code);
	(*n)++;
	return true;
}

/* the filter's codes (*fc palloc'd), or false for codes_match to decide */
static bool
filter_codes(CqlValue filter, FilterCode **fc, int *n)
{
	const CqlValue *items = filter.kind == CK_LIST ? filter.u.list->items : &filter;
	int			nitems = filter.kind == CK_LIST ? filter.u.list->n : 1;
	int			cap = 0;

	for (int i = 0; i < nitems; i++)
	{
		int			k = value_ncodes(items[i]);

		if (k < 0)
			return false;
		cap += k;
	}
	*fc = palloc(sizeof(FilterCode) * Max(cap, 1));
	*n = 0;
	for (int i = 0; i < nitems; i++)
	{
		const CqlCode *codes = items[i].kind == CK_CODE ? items[i].u.code : items[i].u.concept->codes;

		for (int j = 0; j < value_ncodes(items[i]); j++)
			if (!filter_code_add(&codes[j], *fc, n))
				return false;
	}
	return true;
}

static bool
codes_have_filter_code(const ResourceCodes *rc, const FilterCode *fc, int nfc)
{
	for (int i = 0; i < rc->n; i++)
		for (int j = 0; j < nfc; j++)
			if (rc->system_lens[i] == fc[j].system_len &&
				rc->lens[i] == fc[j].system_len + 1 + fc[j].code_len &&
				memcmp(rc->keys[i], fc[j].system, fc[j].system_len) == 0 &&
				memcmp(rc->keys[i] + fc[j].system_len + 1, fc[j].code, fc[j].code_len) == 0)
				return true;
	return false;
}

bool
terminology_contains(ElmValueSet *vs, const char *system, const char *code)
{
	char		key[512];
	int			len;

	if (vs->loaded_generation == 0)
		valueset_load(vs);
	if (system == NULL || code == NULL)
		return false;
	len = snprintf(key, sizeof(key), "%s|%s", system, code);
	if (len >= (int) sizeof(key))
		return false;
	return valueset_has_key(vs, key, len);
}

static bool
code_in(const CqlCode *c, ElmValueSet *vs)
{
	return terminology_contains(vs, c->system, c->code);
}

/* a FHIR Coding's (system, code) straight from the jsonb, without building a Code */
static bool
coding_in(const CqlFhir *f, ElmValueSet *vs)
{
	JsonbValue	sys,
				code;
	char		key[512];
	int			len;

	if (!obj_get(f, "system", 6, &sys) || sys.type != jbvString ||
		!obj_get(f, "code", 4, &code) || code.type != jbvString ||
		sys.val.string.len + code.val.string.len + 2 > (int) sizeof(key))
		return false;
	memcpy(key, sys.val.string.val, sys.val.string.len);
	key[sys.val.string.len] = '|';
	memcpy(key + sys.val.string.len + 1, code.val.string.val, code.val.string.len);
	len = sys.val.string.len + 1 + code.val.string.len;
	key[len] = '\0';
	return valueset_has_key(vs, key, len);
}

CqlTri
terminology_value_in(CqlValue v, ElmValueSet *vs)
{
	if (v.kind == CK_FHIR && v.u.fhir->type && v.u.fhir->jv.type == jbvBinary)
	{
		FhirKind	k = fhir_kind(v.u.fhir->type);

		if (k == FK_CODING)
			return coding_in(v.u.fhir, vs) ? CQL_TRUE : CQL_FALSE;
		if (k == FK_CONCEPT)
		{
			JsonbValue	codings;

			if (obj_get(v.u.fhir, "coding", 6, &codings) && codings.type == jbvBinary &&
				JsonContainerIsArray(codings.val.binary.data))
			{
				int			n = JsonContainerSize(codings.val.binary.data);

				for (int i = 0; i < n; i++)
				{
					JsonbValue *c = getIthJsonbValueFromContainer(codings.val.binary.data, i);
					CqlFhir		cf = {NULL, {0}, NULL, 0};

					if (c == NULL || c->type != jbvBinary)
						continue;
					cf.jv = *c;
					if (coding_in(&cf, vs))
						return CQL_TRUE;
				}
			}
			return CQL_FALSE;
		}
	}
	v = fhir_to_system(v);
	switch (v.kind)
	{
		case CK_NULL:
			return CQL_FALSE;
		case CK_CODE:
			return code_in(v.u.code, vs) ? CQL_TRUE : CQL_FALSE;
		case CK_CONCEPT:
			for (int i = 0; i < v.u.concept->ncodes; i++)
				if (code_in(&v.u.concept->codes[i], vs))
					return CQL_TRUE;
			return CQL_FALSE;
		case CK_LIST:
			for (int i = 0; i < v.u.list->n; i++)
				if (terminology_value_in(v.u.list->items[i], vs) == CQL_TRUE)
					return CQL_TRUE;
			return CQL_FALSE;
		case CK_STR:
			/* a bare code string matches a code of any system */
			if (vs->loaded_generation == 0)
				valueset_load(vs);
			for (int i = 0; i < vs->ncodes; i++)
			{
				const char *bar = strrchr(vs->codes[i], '|');

				if (bar && strcmp(bar + 1, v.u.s) == 0)
					return CQL_TRUE;
			}
			return CQL_FALSE;
		default:
			return CQL_UNKNOWN;
	}
}

/* ---- profiles --------------------------------------------------------- */

/*
 * QI-Core profiles whose definition adds a criterion a retrieve must apply.
 * Model data (the QI-Core 6 profile definitions), not measure logic.
 */
typedef struct ProfileCriterion
{
	const char *suffix;			/* template id ends with this */
	const char *element;		/* element tested */
	const char *const *values;	/* acceptable codes (CodeableConcept/code) */
	bool		boolean_true;	/* element must be boolean true */
} ProfileCriterion;

static const char *const encounter_dx[] = {"encounter-diagnosis", NULL};
static const char *const problem_list[] = {"problem-list-item", "health-concern", NULL};
static const char *const not_done[] = {"not-done", NULL};
static const char *const cancelled[] = {"cancelled", NULL};

static const ProfileCriterion profile_criteria[] = {
	{"qicore-condition-encounter-diagnosis", "category", encounter_dx, false},
	{"qicore-condition-problems-health-concerns", "category", problem_list, false},
	{"qicore-procedurenotdone", "status", not_done, false},
	{"qicore-observationnotdone", "status", cancelled, false},
	{"qicore-observationcancelled", "status", cancelled, false},
	{"qicore-medicationnotrequested", "doNotPerform", NULL, true},
	{"qicore-servicenotrequested", "doNotPerform", NULL, true},
	{"qicore-devicenotrequested", "doNotPerform", NULL, true},
};

/* GUC hedis.profile_matching: how a retrieve's QI-Core profile selects resources */
int			hedis_profile_matching = PROFILE_MATCH_DECLARED;

int
fhir_profile_lookup(const char *template_id)
{
	size_t		tl = strlen(template_id);

	for (int i = 0; i < lengthof(profile_criteria); i++)
	{
		size_t		sl = strlen(profile_criteria[i].suffix);

		if (tl >= sl && strcmp(template_id + tl - sl, profile_criteria[i].suffix) == 0)
			return i;
	}
	return -1;
}

static bool
value_has_code(CqlValue v, const char *const *values)
{
	v = fhir_to_system(v);
	if (v.kind == CK_LIST)
	{
		for (int i = 0; i < v.u.list->n; i++)
			if (value_has_code(v.u.list->items[i], values))
				return true;
		return false;
	}
	for (const char *const *p = values; *p; p++)
	{
		if (v.kind == CK_STR && strcmp(v.u.s, *p) == 0)
			return true;
		if (v.kind == CK_CODE && v.u.code->code && strcmp(v.u.code->code, *p) == 0)
			return true;
		if (v.kind == CK_CONCEPT)
			for (int i = 0; i < v.u.concept->ncodes; i++)
				if (v.u.concept->codes[i].code && strcmp(v.u.concept->codes[i].code, *p) == 0)
					return true;
	}
	return false;
}

static bool
profile_criteria_accept(int profile, CqlValue resource)
{
	const ProfileCriterion *pc;
	CqlValue	v;

	if (profile < 0)
		return true;
	pc = &profile_criteria[profile];
	v = fhir_property(resource, pc->element);
	if (pc->boolean_true)
	{
		v = fhir_to_system(v);
		return v.kind == CK_BOOL && v.u.b;
	}
	return value_has_code(v, pc->values);
}

#define QICORE_PREFIX "http://hl7.org/fhir/us/qicore/"

/*
 * Does the resource meet the retrieve's profile?  The base profile of the
 * resource type (http://hl7.org/fhir/StructureDefinition/Observation) takes
 * every resource of its type; other FHIR profiles (the vital-sign "bmi")
 * are profiles like any other.  Otherwise (the default, "declared"): a
 * resource that declares QI-Core profiles in meta.profile is taken at its
 * word, as the reference engine does; one that declares none (data from a
 * plain EHR export) is judged by what the profile requires of its content
 * (category, status, doNotPerform).  "strict" only trusts meta.profile;
 * "none" matches on resource type alone.
 */
static bool
profile_accepts(const ElmRetrieve *r, CqlValue resource)
{
	JsonbValue	meta,
				declared;
	bool		any_qicore = false;

	if (hedis_profile_matching == PROFILE_MATCH_NONE || r->base_profile)
		return true;
	/* the strings of meta.profile, read in place (every resource passing a filter asks) */
	if (resource.kind == CK_FHIR && resource.u.fhir->jv.type == jbvBinary &&
		jb_object_get(resource.u.fhir->jv.val.binary.data, "meta", 4, &meta) &&
		meta.type == jbvBinary &&
		jb_object_get(meta.val.binary.data, "profile", 7, &declared) &&
		declared.type == jbvBinary)
	{
		JbArrayWalk w;
		JsonbValue	p;
		size_t		tlen = strlen(r->template_id);
		size_t		plen = strlen(QICORE_PREFIX);

		jb_array_walk_begin(&w, declared.val.binary.data);
		while (jb_array_walk_next(&w, &p))
		{
			if (p.type != jbvString)
				continue;
			if (p.val.string.len == tlen && memcmp(p.val.string.val, r->template_id, tlen) == 0)
				return true;
			if (p.val.string.len >= plen && memcmp(p.val.string.val, QICORE_PREFIX, plen) == 0)
				any_qicore = true;
		}
	}
	if (hedis_profile_matching == PROFILE_MATCH_STRICT || any_qicore)
		return false;
	return profile_criteria_accept(r->profile, resource);
}

/* ---- patient data and retrieve --------------------------------------- */

/*
 * Resource types that belong to no patient: a patient's data references
 * them (MedicationRequest.medicationReference -> Medication).
 */
bool
fhir_type_in_patient_compartment(const char *type)
{
	static const char *const shared[] = {
		"Medication", "Location", "Practitioner", "PractitionerRole",
		"Organization", "Substance", "HealthcareService", "Endpoint", "Device"
	};

	for (int i = 0; i < lengthof(shared); i++)
		if (strcmp(type, shared[i]) == 0)
			return false;
	return true;
}

/*
 * A table of the extension's schema and one of its indexes, looked up by name
 * (syscache hits) once per transaction, and again after any relcache
 * invalidation: the extension cannot be dropped under a transaction that
 * uses it, but a DBA may recreate an index in it.
 */
typedef struct StoreRelation
{
	LocalTransactionId lxid;	/* looked up in this transaction */
	uint64		generation;		/* ... and since this relcache invalidation */
	Oid			heap;
	Oid			index;
} StoreRelation;

/*
 * Counts relcache invalidations: an index dropped and created again in the
 * transaction that evaluates (the same name, another OID) must be looked up
 * again.  Any relation's invalidation counts; a look-up is cheap.
 */
static uint64 relcache_generation = 1;

static void
count_relcache_invalidation(Datum arg, Oid relid)
{
	relcache_generation++;
}

/* bring r up to date for this transaction; true if it was looked up again */
static bool
store_relation(StoreRelation *r, const char *table, const char *index)
{
	static bool callback_registered = false;
	Oid			nsp;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(count_relcache_invalidation, (Datum) 0);
		callback_registered = true;
	}
	if (r->lxid == MyProc->lxid && r->generation == relcache_generation && OidIsValid(r->heap))
		return false;
	nsp = get_namespace_oid("hedis", false);
	r->heap = get_relname_relid(table, nsp);
	r->index = get_relname_relid(index, nsp);
	if (!OidIsValid(r->heap) || !OidIsValid(r->index))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("hedis.%s or its index %s is missing", table, index)));
	r->lxid = MyProc->lxid;
	r->generation = relcache_generation;
	return true;
}

/* the store's resource table and its (patient_key, resource_type, fhir_id) index */
typedef struct ResourceRels
{
	StoreRelation rel;
	AttrNumber	att_id;
	AttrNumber	att_resource;
} ResourceRels;

static const ResourceRels *
resource_relations(void)
{
	static ResourceRels rels = {{InvalidLocalTransactionId}};

	if (store_relation(&rels.rel, "resource", "resource_patient_idx"))
	{
		/* not to be used until its index is checked: an error leaves it to be looked up again */
		rels.rel.lxid = InvalidLocalTransactionId;
		rels.att_id = get_attnum(rels.rel.heap, "fhir_id");
		rels.att_resource = get_attnum(rels.rel.heap, "resource");
		fhir_check_patient_index(rels.rel.heap, rels.rel.index);
		rels.rel.lxid = MyProc->lxid;
	}
	return &rels;
}

void
fhir_resource_relation_ids(Oid *heap, Oid *index)
{
	const ResourceRels *rels = resource_relations();

	*heap = rels->rel.heap;
	*index = rels->rel.index;
}

/*
 * Is the type (len bytes, from the index row) one the measure reads?  The
 * wanted entry's name, or NULL.  wanted NULL means all types: then the
 * type's interned name (or a copy, for a type the model does not know).
 */
static const char *
type_wanted(PatientData *pd, const char *type, int len)
{
	char		buf[NAMEDATALEN];
	const char *itype;

	if (pd->wanted != NULL)
	{
		for (int i = 0; i < pd->nwanted; i++)
			if (strncmp(pd->wanted[i], type, len) == 0 && pd->wanted[i][len] == '\0')
				return pd->wanted[i];
		return NULL;
	}
	memcpy(buf, type, len);
	buf[len] = '\0';
	itype = fhir_type_intern(buf);
	return itype ? itype : pstrdup(buf);
}

static PatientTypeGroup *
new_group(PatientData *pd, const char *type, const char *itype)
{
	PatientTypeGroup *grp;

	if (pd->ngroups == pd->capgroups)
	{
		pd->capgroups = pd->capgroups ? pd->capgroups * 2 : 8;
		pd->groups = cql_grow(pd->groups, pd->ngroups, pd->capgroups, sizeof(PatientTypeGroup));
	}
	grp = &pd->groups[pd->ngroups++];
	memset(grp, 0, sizeof(PatientTypeGroup));
	grp->type = itype ? itype : pstrdup(type);
	grp->cap = 8;
	grp->resources = cql_alloc(sizeof(CqlValue) * grp->cap);
	return grp;
}

/*
 * Where the rows of a type (len bytes) go when every wanted type is read: a
 * new group, or NULL for a type the measure does not read or one read before
 * (the Patient resource).
 */
static PatientTypeGroup *
group_for_rows(PatientData *pd, const char *type, int len)
{
	const char *wanted = type_wanted(pd, type, len);

	if (wanted == NULL || fhir_patient_group_find(pd, wanted) != NULL)
		return NULL;
	return new_group(pd, wanted, fhir_type_intern(wanted));
}

/*
 * The resource in pd->slot, appended to grp (and remembered if it is the
 * Patient).  The slot's buffer is released at the next row, so the jsonb is
 * copied.
 */
static void
keep_row(PatientData *pd, PatientTypeGroup *grp)
{
	const ResourceRels *rels = resource_relations();
	bool		isnull;
	Datum		d = slot_getattr(pd->slot, rels->att_resource, &isnull);
	Jsonb	   *jb;
	JsonbValue	jv;
	CqlValue	r;

	/* a plain (not compressed, not toasted) value is copied as it is */
	if (!VARATT_IS_EXTENDED(DatumGetPointer(d)))
	{
		jb = cql_alloc(VARSIZE(DatumGetPointer(d)));
		memcpy(jb, DatumGetPointer(d), VARSIZE(DatumGetPointer(d)));
	}
	else
		jb = DatumGetJsonbPCopy(d);

	jv.type = jbvBinary;
	jv.val.binary.data = &jb->root;
	jv.val.binary.len = VARSIZE(jb) - VARHDRSZ;
	r = cql_fhir_value(grp->type, &jv, NULL);
	if (grp->n == grp->cap)
	{
		grp->cap *= 2;
		grp->resources = cql_grow(grp->resources, grp->n, grp->cap, sizeof(CqlValue));
	}
	grp->resources[grp->n++] = r;
	if (pd->patient.kind == CK_NULL && strcmp(grp->type, "Patient") == 0)
	{
		pd->patient = r;
		pd->fhir_id = TextDatumGetCString(slot_getattr(pd->slot, rels->att_id, &isnull));
	}
}

/*
 * Fetch the patient's resources of one type (type not NULL) or of every
 * wanted type from the heap, by the TIDs of its index entries, appending
 * them to their groups (entries come sorted by type); the type's group, if
 * one type was asked.  A dead or invisible version is skipped, as an index
 * scan would.
 */
static PatientTypeGroup *
scan_patient(PatientData *pd, const char *type)
{
	MemoryContext old = MemoryContextSwitchTo(pd->mcxt);
	PatientTypeGroup *grp = NULL;
	const char *seen = NULL;
	bool		type_interned = false;

	if (type)
	{
		const char *itype = fhir_type_intern(type);

		grp = new_group(pd, type, itype);	/* even when empty: asked once */
		type_interned = itype != NULL;
	}
	for (int i = 0; i < pd->pre_n; i++)
	{
		const PrefetchedRow *row = &pd->pre_rows[i];
		bool		call_again = false;
		bool		all_dead = false;

		if (type != NULL)
		{
			/* an interned name is the only copy of its type's name */
			if (row->type != grp->type && (type_interned || strcmp(row->type, type) != 0))
				continue;
		}
		else
		{
			if (row->type != seen)
			{
				seen = row->type;
				grp = group_for_rows(pd, row->type, strlen(row->type));
			}
			if (grp == NULL)
				continue;
		}
		if (table_index_fetch_tuple(pd->fetch, (ItemPointer) &row->tid, pd->snapshot, pd->slot,
									&call_again, &all_dead))
			keep_row(pd, grp);
	}
	MemoryContextSwitchTo(old);
	return type ? grp : NULL;
}

PatientTypeGroup *
fhir_patient_group_find(PatientData *pd, const char *type)
{
	for (int i = 0; i < pd->ngroups; i++)
		if (pd->groups[i].type == type)
			return &pd->groups[i];
	/* groups of types the model knows keep the interned name: no other match */
	if (fhir_type_intern(type) == type)
		return NULL;
	for (int i = 0; i < pd->ngroups; i++)
		if (strcmp(pd->groups[i].type, type) == 0)
			return &pd->groups[i];
	return NULL;
}

/*
 * A patient's resources of one type, read on the first retrieve of that
 * type: most patients of a population leave the initial population on
 * their Patient resource alone (age, sex), and then nothing else is read.
 */
static void fhir_patient_load_all(PatientData *pd);

PatientTypeGroup *
fhir_patient_group(PatientData *pd, const char *type)
{
	const char *wanted = NULL;

	/* retrieves name their types by interned pointer, as groups and wanted lists do */
	for (int i = 0; i < pd->ngroups; i++)
		if (pd->groups[i].type == type)
			return &pd->groups[i];
	if (pd->loaded_all)
		return fhir_patient_group_find(pd, type);
	for (int i = 0; i < pd->nwanted && wanted == NULL; i++)
		if (pd->wanted[i] == type)
			wanted = type;
	if (wanted == NULL)
	{
		PatientTypeGroup *grp = fhir_patient_group_find(pd, type);

		if (grp != NULL || (wanted = type_wanted(pd, type, strlen(type))) == NULL)
			return grp;
	}

	/*
	 * Fetched from the heap on the first retrieve of the type, by the TIDs
	 * of its index entries (known since the patient was opened): a patient
	 * who leaves the initial population on its encounters, say, fetches
	 * none of its conditions or observations.
	 */
	return scan_patient(pd, wanted);
}

/* every wanted type (to follow references out of the patient's resources) */
static void
fhir_patient_load_all(PatientData *pd)
{
	if (!pd->loaded_all)
	{
		scan_patient(pd, NULL);
		pd->loaded_all = true;
	}
}

/* patients being evaluated (nested evaluations open more than one) */
static int	patients_open = 0;

/*
 * Open the store's relations for one patient.  Their locks are kept until
 * the transaction ends (fhir_patient_release closes with NoLock), so after
 * the first patient relation_open would only find the lock held locally,
 * a hash probe and a resource-owner entry for every patient; then the
 * relcache reference is all that is needed.  A lock taken in a
 * subtransaction is gone if that subtransaction aborts, so the shortcut is
 * taken only in the subtransaction that took it.
 */
static void
open_store(PatientData *pd, const ResourceRels *rels)
{
	static LocalTransactionId locked_lxid = InvalidLocalTransactionId;
	static SubTransactionId locked_subxid = InvalidSubTransactionId;
	static Oid	locked_heap = InvalidOid;

	if (locked_lxid == MyProc->lxid && locked_subxid == GetCurrentSubTransactionId() &&
		locked_heap == rels->rel.heap)
	{
		pd->heap = RelationIdGetRelation(rels->rel.heap);
		pd->index = RelationIdGetRelation(rels->rel.index);
		if (!RelationIsValid(pd->heap) || !RelationIsValid(pd->index))
			elog(ERROR, "could not open the store's relations %u, %u",
				 rels->rel.heap, rels->rel.index);
		pgstat_init_relation(pd->heap);
		pgstat_init_relation(pd->index);
		return;
	}
	pd->heap = table_open(rels->rel.heap, AccessShareLock);
	pd->index = index_open(rels->rel.index, AccessShareLock);
	locked_lxid = MyProc->lxid;
	locked_subxid = GetCurrentSubTransactionId();
	locked_heap = rels->rel.heap;
}

/*
 * The slot and index-fetch state a patient's rows are read with, made once
 * per transaction for the outermost patient (nested ones make their own):
 * making and dropping them for every patient pinned and unpinned the
 * table's descriptor in the resource owner each time.  The slot has its own
 * copy of the descriptor, so nothing is pinned across statements; a
 * released patient leaves both holding no buffer.  A new descriptor of the
 * table (ALTER TABLE in the transaction) gets a new slot, and so does the
 * patient after one that failed before it could be released: its buffer
 * pins went with the aborted (sub)transaction's resource owner, and the old
 * slot still names them.
 */
static struct
{
	LocalTransactionId lxid;
	TupleDesc	of;				/* the relcache descriptor the slot copies */
	TupleTableSlot *slot;
	struct IndexFetchTableData *fetch;
	bool		in_use;
}			reader = {InvalidLocalTransactionId};

static void
reader_take(PatientData *pd)
{
	if (patients_open > 0)
	{
		pd->slot = table_slot_create(pd->heap, NULL);
		pd->fetch = table_index_fetch_begin(pd->heap);
		pd->shared_reader = false;
		return;
	}
	if (reader.lxid != MyProc->lxid || reader.of != RelationGetDescr(pd->heap) || reader.in_use)
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		reader.slot = MakeSingleTupleTableSlot(CreateTupleDescCopy(RelationGetDescr(pd->heap)),
											   table_slot_callbacks(pd->heap));
		reader.fetch = table_index_fetch_begin(pd->heap);
		reader.of = RelationGetDescr(pd->heap);
		reader.lxid = MyProc->lxid;
		MemoryContextSwitchTo(old);
	}
	reader.fetch->rel = pd->heap;
	reader.in_use = true;
	pd->slot = reader.slot;
	pd->fetch = reader.fetch;
	pd->shared_reader = true;
}

static void
reader_give_back(PatientData *pd)
{
	if (!pd->shared_reader)
	{
		table_index_fetch_end(pd->fetch);
		ExecDropSingleTupleTableSlot(pd->slot);
		return;
	}
	table_index_fetch_reset(pd->fetch);
	ExecClearTuple(pd->slot);
	reader.in_use = false;
}

/*
 * Start reading a patient: the store's relations stay open until
 * fhir_patient_release (one open per patient, however many types are
 * read), and the Patient resource is read now.  wanted (NULL: all) limits
 * the types read to those the measure retrieves.
 */
PatientData *
fhir_patient_load(int64 patient_key, const char **wanted, int nwanted)
{
	PatientData *pd;
	const ResourceRels *rels = resource_relations();

	pd = palloc0(sizeof(PatientData));
	pd->mcxt = CurrentMemoryContext;
	pd->patient_key = patient_key;
	pd->patient = CQL_NULL_VALUE;
	pd->wanted = wanted;
	pd->nwanted = nwanted;
	pd->snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
	open_store(pd, rels);
	reader_take(pd);
	pd->pre_n = fhir_patient_entries(pd->index, pd->snapshot, patient_key,
									 patients_open == 0, &pd->pre_rows);
	{
		static const char *patient_type = NULL;	/* interned once: the model's name */

		if (patient_type == NULL)
			patient_type = fhir_type_intern("Patient");
		scan_patient(pd, patient_type);
	}
	patients_open++;			/* fhir_patient_release counts it out */
	return pd;
}

void
fhir_patient_release(PatientData *pd)
{
	if (pd == NULL || pd->heap == NULL)
		return;
	patients_open--;
	reader_give_back(pd);
	/*
	 * The locks stay until the end of the transaction, as the executor keeps
	 * those of the relations it reads: the next patient's open then finds
	 * them held locally instead of taking and releasing them in shared
	 * memory for every patient.
	 */
	index_close(pd->index, NoLock);
	table_close(pd->heap, NoLock);
	pd->heap = NULL;
}

/* hedis.patient and its fhir_id index (the UNIQUE constraint's) */
typedef struct PatientRels
{
	StoreRelation rel;
	AttrNumber	att_key;
} PatientRels;

static const PatientRels *
patient_relations(void)
{
	static PatientRels rels = {{InvalidLocalTransactionId}};

	if (store_relation(&rels.rel, "patient", "patient_fhir_id_key"))
		rels.att_key = get_attnum(rels.rel.heap, "patient_key");
	return &rels;
}

/*
 * The patient key of a FHIR patient id (-1 if missing_ok and absent), by one
 * probe of the fhir_id index: hedis.evaluate asks it on every call, and a
 * prepared SPI query cost five times as much (executor start and end).
 * Like the store's reads, it is a direct read of the extension's table.
 */
int64
fhir_patient_key(const char *fhir_id, bool missing_ok)
{
	const PatientRels *rels = patient_relations();
	Relation	heap = table_open(rels->rel.heap, AccessShareLock);
	Relation	index = index_open(rels->rel.index, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	Snapshot	snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
	ScanKeyData key;
	IndexScanDesc scan;
	int64		patient_key = -1;
	bool		isnull;

	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   index->rd_indcollation[0], F_TEXTEQ, CStringGetTextDatum(fhir_id));
	scan = index_beginscan(heap, index, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
		patient_key = DatumGetInt64(slot_getattr(slot, rels->att_key, &isnull));
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	/* locks kept to the end of the transaction (see fhir_patient_release) */
	index_close(index, NoLock);
	table_close(heap, NoLock);
	if (patient_key < 0 && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("patient \"%s\" is not loaded", fhir_id)));
	return patient_key;
}

static bool
codes_match(CqlValue codeval, CqlValue filter, const char *comparator)
{
	if (filter.kind == CK_VALUESET)
		return terminology_value_in(codeval, filter.u.vs) == CQL_TRUE;
	/* a code, concept or list of codes: any equivalent coding matches */
	codeval = fhir_to_system(codeval);
	if (filter.kind == CK_LIST)
	{
		for (int i = 0; i < filter.u.list->n; i++)
			if (codes_match(codeval, filter.u.list->items[i], comparator))
				return true;
		return false;
	}
	if (codeval.kind == CK_LIST)
	{
		for (int i = 0; i < codeval.u.list->n; i++)
			if (codes_match(codeval.u.list->items[i], filter, comparator))
				return true;
		return false;
	}
	return cql_equivalent(codeval, filter);
}

/* ids in "Type/id" references to resources of `type` anywhere in a resource */
static void
collect_reference_ids(JsonbContainer *c, const char *type, List **ids)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		after_reference_key = false;
	size_t		tlen = strlen(type);

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			after_reference_key = v.val.string.len == 9 &&
				memcmp(v.val.string.val, "reference", 9) == 0;
			continue;
		}
		if (tok == WJB_VALUE && after_reference_key && v.type == jbvString)
		{
			const char *s = v.val.string.val;
			int			len = v.val.string.len;

			/* relative "Medication/123" or absolute ".../Medication/123" */
			for (int i = 0; i + (int) tlen + 1 < len; i++)
				if ((i == 0 || s[i - 1] == '/') && memcmp(s + i, type, tlen) == 0 &&
					s[i + tlen] == '/' && memchr(s + i + tlen + 1, '/', len - i - tlen - 1) == NULL)
				{
					*ids = lappend(*ids, pnstrdup(s + i + tlen + 1, len - i - tlen - 1));
					break;
				}
		}
		after_reference_key = false;
	}
}

/*
 * Resources outside any patient compartment (Medication, say) that the
 * patient's resources reference: read on first retrieve of their type and
 * kept as one more group of the patient's data.
 */
static PatientTypeGroup *
load_referenced_group(PatientData *pd, const char *type)
{
	List	   *ids = NIL;
	PatientTypeGroup *grp;
	MemoryContext caller = CurrentMemoryContext;
	Oid			argtypes[2] = {TEXTOID, TEXTARRAYOID};
	Datum		args[2];
	Datum	   *elems;
	int			n = 0,
				rc;
	ListCell   *lc;
	char	   *pattern;

	fhir_patient_load_all(pd);
	pattern = psprintf("%s/", type);
	for (int g = 0; g < pd->ngroups; g++)
		for (int i = 0; i < pd->groups[g].n; i++)
		{
			CqlFhir    *f = pd->groups[g].resources[i].u.fhir;

			/*
			 * jsonb stores strings verbatim: a resource whose bytes do not
			 * contain "Medication/" references no Medication, and is not
			 * walked (most of a patient's resources).
			 */
			if (memmem(f->jv.val.binary.data, f->jv.val.binary.len, pattern, strlen(pattern)) == NULL)
				continue;
			collect_reference_ids(f->jv.val.binary.data, type, &ids);
		}
	grp = new_group(pd, type, fhir_type_intern(type));
	if (list_length(ids) > grp->cap)
	{
		grp->cap = list_length(ids);
		grp->resources = cql_alloc(sizeof(CqlValue) * grp->cap);
	}
	if (ids == NIL)
		return grp;
	engine_spi_ensure();
	elems = palloc(sizeof(Datum) * list_length(ids));
	foreach(lc, ids)
		elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
	args[0] = CStringGetTextDatum(type);
	args[1] = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
	rc = SPI_execute_with_args("SELECT resource FROM hedis.resource "
							   "WHERE resource_type OPERATOR(pg_catalog.=) $1"
							   "  AND fhir_id OPERATOR(pg_catalog.=) ANY ($2) ORDER BY fhir_id",
							   2, argtypes, args, NULL, true, 0);
	MemoryContextSwitchTo(caller);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read hedis.resource: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Jsonb	   *jb = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		JsonbValue	jv;
		const char *itype = fhir_type_intern(type);

		jv.type = jbvBinary;
		jv.val.binary.data = &jb->root;
		jv.val.binary.len = VARSIZE(jb) - VARHDRSZ;
		if (grp->n < list_length(ids))
			grp->resources[grp->n++] = cql_fhir_value(itype ? itype : grp->type, &jv, NULL);
	}
	SPI_freetuptable(SPI_tuptable);
	return grp;
}

/* ---- unions of value-set retrieves ----------------------------------- */

/*
 * Measures gather a type's resources by many value sets:
 * AdultOutpatientEncounters' qualifying encounters are the union of seven
 * Encounter retrieves.  Taken one by one, each retrieve walks the patient's
 * encounters again and each union compares every pair of what the two sides
 * hold.  In one pass, each resource is probed against the value sets in the
 * order of the leaves and goes to the first that has one of its codes; the
 * leaves' lists then follow each other, which is what the nested unions
 * give: each retrieve lists the resources in the group's order, and a union
 * keeps the first of equal items (two resources are equal only if alike in
 * everything, their ids too: a group where two ids coincide, or one is
 * missing, takes the union of the retrieves).
 */
static bool
same_retrieve_source(const ElmRetrieve *r, const ElmRetrieve *like)
{
	return r->data_type == like->data_type &&
		strcmp(r->code_property, like->code_property) == 0 &&
		(r->template_id == NULL) == (like->template_id == NULL) &&
		(r->template_id == NULL || strcmp(r->template_id, like->template_id) == 0);
}

static bool
fusable_retrieve(const ElmNode *n)
{
	const ElmRetrieve *r = n->retrieve;

	return strcmp(n->type, "Retrieve") == 0 && r != NULL && r->data_type != NULL &&
		r->codes != NULL && strcmp(r->codes->type, "ValueSetRef") == 0 &&
		r->date_range == NULL && r->date_property == NULL &&
		fhir_type_in_patient_compartment(r->data_type);
}

FusedRetrieves *
fhir_retrieves_fused(const ElmNode *union_node)
{
	ElmRetrieve *leaves[64];
	int			n = 0;
	FusedRetrieves *fr;

	for (int i = 0; i < union_node->nargs; i++)
	{
		const ElmNode *a = union_node->args[i];
		const FusedRetrieves *inner = strcmp(a->type, "Union") == 0 ? a->ref : NULL;

		if (inner != NULL && n + inner->n <= lengthof(leaves))
		{
			memcpy(&leaves[n], inner->leaves, sizeof(ElmRetrieve *) * inner->n);
			n += inner->n;
		}
		else if (inner == NULL && n < lengthof(leaves) && fusable_retrieve(a))
			leaves[n++] = a->retrieve;
		else
			return NULL;
	}
	if (n < 2)
		return NULL;
	for (int i = 1; i < n; i++)
		if (!same_retrieve_source(leaves[i], leaves[0]))
			return NULL;
	fr = palloc(offsetof(FusedRetrieves, leaves) + sizeof(ElmRetrieve *) * n);
	fr->n = n;
	memcpy(fr->leaves, leaves, sizeof(ElmRetrieve *) * n);
	return fr;
}

/* no two of the group's resources are alike: their ids are all there and differ */
static bool
group_ids_distinct(PatientTypeGroup *grp)
{
	if (grp->ids_distinct == 0)
	{
		JsonbValue *ids = palloc(sizeof(JsonbValue) * Max(grp->n, 1));

		grp->ids_distinct = grp->n <= 64 ? 1 : -1;
		for (int i = 0; i < grp->n && grp->ids_distinct > 0; i++)
		{
			if (!obj_get(grp->resources[i].u.fhir, "id", 2, &ids[i]) || ids[i].type != jbvString)
				grp->ids_distinct = -1;
			for (int k = 0; k < i && grp->ids_distinct > 0; k++)
				if (ids[k].val.string.len == ids[i].val.string.len &&
					memcmp(ids[k].val.string.val, ids[i].val.string.val, ids[i].val.string.len) == 0)
					grp->ids_distinct = -1;
		}
	}
	return grp->ids_distinct > 0;
}

/*
 * The union of fr's retrieves for the patient, in one pass; false when it
 * has to be taken retrieve by retrieve (a filter that is not a value set, a
 * code the hash probe cannot decide, resources that may be alike).
 */
bool
fhir_retrieves_union(EvalCtx *cx, const FusedRetrieves *fr, CqlValue *out)
{
	PatientData *pd = cx->patient;
	const ElmRetrieve *r0 = fr->leaves[0];
	PatientTypeGroup *grp;
	ElmValueSet **vs;
	ResourceCodes *codes;
	int		   *first;
	int			count = 0;

	if (pd == NULL)
		return false;
	grp = fhir_patient_group(pd, r0->data_type);
	if (grp == NULL || grp->n == 0)
	{
		*out = cql_list_new(0);
		return true;
	}
	vs = cql_alloc(sizeof(ElmValueSet *) * fr->n);
	for (int k = 0; k < fr->n; k++)
	{
		CqlValue	f = elm_eval(cx, fr->leaves[k]->codes);

		if (f.kind != CK_NULL && f.kind != CK_VALUESET)
			return false;
		vs[k] = f.kind == CK_VALUESET ? f.u.vs : NULL;
	}
	if (!group_ids_distinct(grp))
		return false;
	codes = group_codes(pd, grp, r0);
	first = cql_alloc(sizeof(int) * grp->n);
	for (int i = 0; i < grp->n; i++)
	{
		if (codes[i].other)
			return false;
		first[i] = -1;
		for (int k = 0; k < fr->n && first[i] < 0; k++)
			if (vs[k] != NULL && codes_in_valueset(&codes[i], vs[k]))
				first[i] = k;
		/* the leaves name one profile: it accepts a resource for all or none */
		if (first[i] >= 0 && !profile_accepts(r0, grp->resources[i]))
			first[i] = -1;
		count += first[i] >= 0;
	}
	*out = cql_list_new(count);
	for (int k = 0; k < fr->n && out->u.list->n < count; k++)
		for (int i = 0; i < grp->n; i++)
			if (first[i] == k)
				cql_list_append(out, grp->resources[i]);
	return true;
}

static CqlValue fhir_retrieve_filtered(EvalCtx *cx, ElmRetrieve *r, PatientData *pd);

CqlValue
fhir_retrieve(EvalCtx *cx, ElmRetrieve *r, const ElmNode *node)
{
	PatientData *pd = cx->patient;
	CqlValue	out;

	if (pd == NULL)
		elm_error_at(node, "a retrieve needs a patient context");
	if (r->per_patient && r->cache_epoch == cx->epoch)
		return r->cached;
	out = fhir_retrieve_filtered(cx, r, pd);
	if (r->per_patient)
	{
		r->cached = out;
		r->cache_epoch = cx->epoch;
	}
	return out;
}

static CqlValue
fhir_retrieve_filtered(EvalCtx *cx, ElmRetrieve *r, PatientData *pd)
{
	PatientTypeGroup *grp = NULL;
	ResourceCodes *codes;
	CqlValue	out;
	CqlValue	filter = CQL_NULL_VALUE;
	CqlValue	range = CQL_NULL_VALUE;
	bool		by_code = false;
	FilterCode *fcodes = NULL;
	int			nfcodes = 0;

	if (r->compartment == 0)
		r->compartment = fhir_type_in_patient_compartment(r->data_type) ? 1 : -1;
	if (r->compartment > 0)
		grp = fhir_patient_group(pd, r->data_type);
	else
		grp = fhir_patient_group_find(pd, r->data_type);
	if (grp == NULL && r->compartment < 0)
	{
		MemoryContext old = MemoryContextSwitchTo(pd->mcxt);

		grp = load_referenced_group(pd, r->data_type);
		MemoryContextSwitchTo(old);
	}
	out = cql_list_new(grp ? grp->n : 0);
	if (grp == NULL || grp->n == 0)
		return out;
	if (r->codes)
	{
		filter = elm_eval(cx, r->codes);
		if (filter.kind == CK_NULL)
			return out;
	}
	if (r->date_range)
		range = elm_eval(cx, r->date_range);
	/* value-set and code filters use the codes extracted once per patient and type */
	if (r->codes && filter.kind != CK_VALUESET)
		by_code = filter_codes(filter, &fcodes, &nfcodes);
	codes = (r->codes && (filter.kind == CK_VALUESET || by_code)) ? group_codes(pd, grp, r) : NULL;
	for (int i = 0; i < grp->n; i++)
	{
		CqlValue	res = grp->resources[i];

		if (codes && !codes[i].other &&
			!(by_code ? codes_have_filter_code(&codes[i], fcodes, nfcodes)
			  : codes_in_valueset(&codes[i], filter.u.vs)))
			continue;
		if (r->codes && (codes == NULL || codes[i].other) &&
			!codes_match(fhir_property_memo(res, r->code_property,
											(const char **) &r->memo_type, (const void **) &r->memo_elem),
						 filter, r->code_comparator))
			continue;
		if (!profile_accepts(r, res))
			continue;
		if (r->date_range && r->date_property && range.kind == CK_INTERVAL)
		{
			CqlValue	d = fhir_to_system(fhir_property(res, r->date_property));
			CqlValue	ok;

			if (d.kind == CK_NULL)
				continue;
			/* the date (or period) overlaps the range: neither before nor after it */
			ok = cql_bool(!elm_truthy(elm_interval_before_after(d, range, CQL_PREC_ALL, '<')) &&
						  !elm_truthy(elm_interval_before_after(d, range, CQL_PREC_ALL, '>')));
			if (!elm_truthy(ok))
				continue;
		}
		cql_list_append(&out, res);
	}
	return out;
}
