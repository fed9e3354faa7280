/*
 * fhir_model.c
 *		Look-ups in the generated FHIR R4 type table.
 *
 * The table is sorted at generation time, so every look-up is a binary
 * search.  The engine passes the table's own (interned) name pointers
 * almost always, and asks the same few questions for every resource of
 * every patient: small direct-mapped caches keyed by those pointers answer
 * them without the strcmp calls of a search (about 5 % of an evaluation
 * before them).  A cache hit is exact: the slot records the very pointer
 * (and, for elements, the name) it answers for.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "engine/fhir_model.h"

#define TYPE_CACHE_SIZE 256		/* power of two */

/* slot -> 1 + index of the type whose interned name hashes there (0: empty) */
static int	type_cache[TYPE_CACHE_SIZE];

static inline uint32
pointer_slot(const void *p, uint32 size)
{
	return (uint32) (((uint64) (uintptr_t) p * UINT64CONST(0x9E3779B97F4A7C15)) >> 40) & (size - 1);
}

static int
type_search(const char *name)
{
	int			lo = 0,
				hi = fhir_r4_ntypes - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strcmp(fhir_r4_types[mid].name, name);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static int
type_index(const char *name)
{
	uint32		slot = pointer_slot(name, TYPE_CACHE_SIZE);
	int			i = type_cache[slot] - 1;

	if (i >= 0 && fhir_r4_types[i].name == name)
		return i;
	i = type_search(name);
	/* only interned pointers are cached: another string may reuse its address */
	if (i >= 0 && fhir_r4_types[i].name == name)
		type_cache[slot] = i + 1;
	return i;
}

const char *
fhir_type_intern(const char *name)
{
	/*
	 * Names already interned (the table's own strings, which live as long
	 * as the backend) are most of what is asked: they are remembered by
	 * address and found without the binary search.
	 */
	static const char *interned_seen[64];
	const char **slot;
	int			i;

	if (name == NULL)
		return NULL;
	slot = &interned_seen[((uintptr_t) name >> 3) & (lengthof(interned_seen) - 1)];
	if (*slot == name)
		return name;
	i = type_index(name);
	if (i < 0)
		return NULL;
	if (fhir_r4_types[i].name == name)
		*slot = name;
	return fhir_r4_types[i].name;
}

/*
 * What is worked out once per type of the table: its base type's interned
 * name, and its System primitive type (asked for every primitive value read).
 */
typedef struct TypeFacts
{
	bool		base_done;
	const char *base;
	bool		primitive_done;
	const char *primitive;		/* System type of its "value", or NULL */
} TypeFacts;

static TypeFacts *type_facts = NULL;

static TypeFacts *
facts_of(int i)
{
	if (type_facts == NULL)
		type_facts = MemoryContextAllocZero(TopMemoryContext, sizeof(TypeFacts) * fhir_r4_ntypes);
	return &type_facts[i];
}

/* the interned name of a type's base type */
const char *
fhir_type_base(const char *type)
{
	int			i = type ? type_index(type) : -1;
	TypeFacts  *tf;

	if (i < 0 || fhir_r4_types[i].base[0] == '\0')
		return NULL;
	tf = facts_of(i);
	if (!tf->base_done)
	{
		const char *b = fhir_type_intern(fhir_r4_types[i].base);

		tf->base = b ? b : fhir_r4_types[i].base;
		tf->base_done = true;
	}
	return tf->base;
}

/* the answers of fhir_type_is_a for pairs of interned names */
static struct
{
	const char *type;
	const char *anc;
	bool		is_a;
}			is_a_memo[512];

static uint32
is_a_slot(const char *type, const char *anc)
{
	return (pointer_slot(type, lengthof(is_a_memo)) ^ pointer_slot(anc, lengthof(is_a_memo)));
}

bool
fhir_type_is_a(const char *type, const char *ancestor)
{
	const char *anc;
	const char *known;
	int			guard = 0;
	uint32		slot = is_a_slot(type, ancestor);

	/* the memo holds interned names only: a hit means both are interned already */
	if (is_a_memo[slot].type == type && is_a_memo[slot].anc == ancestor && type != NULL)
		return is_a_memo[slot].is_a;
	anc = fhir_type_intern(ancestor);
	known = type ? fhir_type_intern(type) : NULL;

	/* a name the model lacks (a profile's, say) matches only itself */
	if (anc == NULL || known == NULL)
		return type != NULL && strcmp(type, ancestor) == 0;
	/*
	 * Interned names all the way up: pointers compare.  The answer is
	 * remembered per pair: a choice type (FHIRHelpers' ToValue takes one
	 * of fifty) tests a value against each of its types, each a walk up the
	 * value type's ancestors.
	 */
	{
		bool		is_a = false;

		slot = is_a_slot(known, anc);
		if (is_a_memo[slot].type == known && is_a_memo[slot].anc == anc)
			return is_a_memo[slot].is_a;
		for (type = known; type != NULL && guard++ < 16; type = fhir_type_base(type))
			if (type == anc)
			{
				is_a = true;
				break;
			}
		is_a_memo[slot].type = known;
		is_a_memo[slot].anc = anc;
		is_a_memo[slot].is_a = is_a;
		return is_a;
	}
}

static const FhirElementInfo *
element_own(const char *type, const char *name)
{
	int			lo = 0,
				hi = fhir_r4_nelements - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		const FhirElementInfo *e = &fhir_r4_elements[mid];
		int			c = strcmp(e->type, type);

		if (c == 0)
			c = strcmp(e->name, name);
		if (c == 0)
			return e;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

#define ELEMENT_CACHE_SIZE 512	/* power of two */
#define ELEMENT_CACHE_NAMELEN 48

typedef struct ElementCacheSlot
{
	const char *type;			/* interned type name; NULL: empty */
	char		name[ELEMENT_CACHE_NAMELEN];
	const FhirElementInfo *elem;	/* the answer (NULL: no such element) */
} ElementCacheSlot;

static ElementCacheSlot *element_cache = NULL;

static const FhirElementInfo *
element_search(const char *type, const char *name)
{
	int			guard = 0;

	while (type != NULL && guard++ < 16)
	{
		const FhirElementInfo *e = element_own(type, name);

		if (e)
			return e;
		type = fhir_type_base(type);
	}
	return NULL;
}

/* the element of a type (or of one of its base types), NULL if none */
const FhirElementInfo *
fhir_element_lookup(const char *type, const char *name)
{
	size_t		nlen;
	uint32		h;
	ElementCacheSlot *slot;
	const FhirElementInfo *e;
	int			ti;

	if (type == NULL)
		return NULL;
	nlen = strlen(name);
	ti = type_index(type);
	if (ti < 0 || fhir_r4_types[ti].name != type || nlen >= ELEMENT_CACHE_NAMELEN)
		return element_search(type, name);
	if (element_cache == NULL)
		element_cache = MemoryContextAllocZero(TopMemoryContext,
											   sizeof(ElementCacheSlot) * ELEMENT_CACHE_SIZE);
	h = pointer_slot(type, ELEMENT_CACHE_SIZE);
	for (size_t k = 0; k < nlen; k++)
		h = h * 31 + (unsigned char) name[k];
	slot = &element_cache[h & (ELEMENT_CACHE_SIZE - 1)];
	if (slot->type == type && strcmp(slot->name, name) == 0)
		return slot->elem;
	e = element_search(type, name);
	slot->type = type;
	memcpy(slot->name, name, nlen + 1);
	slot->elem = e;
	return e;
}

static const char *
primitive_system_type_search(const char *type)
{
	const FhirElementInfo *e = fhir_element_lookup(type, "value");

	if (e == NULL || e->is_list || e->is_choice)
		return NULL;
	/* System types are capitalised in the table ("Date"), FHIR ones are not */
	if (e->elem_type[0] >= 'A' && e->elem_type[0] <= 'Z' &&
		type_search(e->elem_type) < 0)
		return e->elem_type;
	return NULL;
}

const char *
fhir_primitive_system_type(const char *type)
{
	int			i;
	TypeFacts  *tf;

	if (type == NULL)
		return NULL;
	i = type_index(type);
	if (i < 0 || fhir_r4_types[i].name != type)
		return primitive_system_type_search(type);
	tf = facts_of(i);
	if (!tf->primitive_done)
	{
		tf->primitive = primitive_system_type_search(type);
		tf->primitive_done = true;
	}
	return tf->primitive;
}

/*
 * The table's interned name of an element's type (nested types such as
 * "Observation.Component" included), resolved once per element.
 */
const char *
fhir_element_type(const FhirElementInfo *e)
{
	static const char **resolved = NULL;
	static bool *done = NULL;
	int			i = (int) (e - fhir_r4_elements);

	if (e->elem_type[0] == '\0')
		return NULL;
	if (resolved == NULL)
	{
		resolved = MemoryContextAllocZero(TopMemoryContext, sizeof(char *) * fhir_r4_nelements);
		done = MemoryContextAllocZero(TopMemoryContext, sizeof(bool) * fhir_r4_nelements);
	}
	if (!done[i])
	{
		const char *t = fhir_type_intern(e->elem_type);

		resolved[i] = t ? t : e->elem_type;
		done[i] = true;
	}
	return resolved[i];
}

bool
fhir_type_is_primitive(const char *type)
{
	return fhir_primitive_system_type(type) != NULL;
}
