/*
 * fhir_model.h
 *		The FHIR R4 data model as the engine navigates it: type hierarchy,
 *		element types, choice elements, and conversion of FHIR primitives to
 *		CQL System values.
 */
#ifndef FHIR_MODEL_H
#define FHIR_MODEL_H

#include <stdbool.h>

typedef struct FhirTypeInfo
{
	const char *name;
	const char *base;
} FhirTypeInfo;

typedef struct FhirElementInfo
{
	const char *type;
	const char *name;
	const char *elem_type;		/* "" for a choice */
	bool		is_list;
	bool		is_choice;
} FhirElementInfo;

/* generated table (fhir_model_r4.c), sorted by name / (type, name) */
extern const FhirTypeInfo fhir_r4_types[];
extern const int fhir_r4_ntypes;
extern const FhirElementInfo fhir_r4_elements[];
extern const int fhir_r4_nelements;

/* the table's own copy of a type name (pointer-comparable), NULL if unknown */
extern const char *fhir_type_intern(const char *name);
extern const char *fhir_type_base(const char *type);
/* type is ancestor or derives from it */
extern bool fhir_type_is_a(const char *type, const char *ancestor);
/* element of a type or of one of its base types; NULL if none */
extern const FhirElementInfo *fhir_element_lookup(const char *type, const char *name);
/* the interned name of an element's declared type; NULL for a choice */
extern const char *fhir_element_type(const FhirElementInfo *e);
/* a primitive type ("date", "code", "EncounterStatus"...): has a System value */
extern bool fhir_type_is_primitive(const char *type);
/* the System type of a primitive's value ("Date", "String"...), NULL if not primitive */
extern const char *fhir_primitive_system_type(const char *type);

#endif							/* FHIR_MODEL_H */
