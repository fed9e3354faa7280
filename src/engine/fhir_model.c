/*
 * fhir_model.c
 *		Look-ups in the generated FHIR R4 type table.
 *
 * The table is sorted at generation time, so every look-up is a binary
 * search; no state, no allocation.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "engine/fhir_model.h"

static int
type_index(const char *name)
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

const char *
fhir_type_intern(const char *name)
{
	int			i;

	if (name == NULL)
		return NULL;
	i = type_index(name);
	return i < 0 ? NULL : fhir_r4_types[i].name;
}

const char *
fhir_type_base(const char *type)
{
	int			i = type ? type_index(type) : -1;

	if (i < 0 || fhir_r4_types[i].base[0] == '\0')
		return NULL;
	return fhir_r4_types[i].base;
}

bool
fhir_type_is_a(const char *type, const char *ancestor)
{
	int			guard = 0;

	while (type != NULL && guard++ < 16)
	{
		if (strcmp(type, ancestor) == 0)
			return true;
		type = fhir_type_base(type);
	}
	return false;
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

const FhirElementInfo *
fhir_element_lookup(const char *type, const char *name)
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

const char *
fhir_primitive_system_type(const char *type)
{
	const FhirElementInfo *e;

	if (type == NULL)
		return NULL;
	e = fhir_element_lookup(type, "value");
	if (e == NULL || e->is_list || e->is_choice)
		return NULL;
	/* System types are capitalised in the table ("Date"), FHIR ones are not */
	if (e->elem_type[0] >= 'A' && e->elem_type[0] <= 'Z' &&
		type_index(e->elem_type) < 0)
		return e->elem_type;
	return NULL;
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
