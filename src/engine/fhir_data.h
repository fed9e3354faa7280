/*
 * fhir_data.h
 *		FHIR data as the engine reads it: a patient's resources loaded once
 *		from the data store, retrieves with code and profile filters,
 *		property navigation over stored jsonb, and value-set membership.
 */
#ifndef FHIR_DATA_H
#define FHIR_DATA_H

#include "engine/elm.h"
#include "engine/fhir_model.h"

/* One patient's resources, grouped by type, read in one index scan. */
typedef struct PatientTypeGroup
{
	const char *type;
	int			n;
	int			cap;
	CqlValue   *resources;		/* CK_FHIR values */
} PatientTypeGroup;

struct PatientData
{
	MemoryContext mcxt;			/* where its resources live */
	int64		patient_key;
	const char *fhir_id;
	CqlValue	patient;		/* the Patient resource, or null */
	int			ngroups;
	PatientTypeGroup *groups;
};

extern bool fhir_type_in_patient_compartment(const char *type);

/* load in CurrentMemoryContext; wanted: the resource types to read (NULL: all) */
extern PatientData *fhir_patient_load(int64 patient_key, const char **wanted, int nwanted);
extern int64 fhir_patient_key(const char *fhir_id, bool missing_ok);

/* Retrieve: resources of r->data_type for the patient, filtered */
extern CqlValue fhir_retrieve(EvalCtx *cx, const ElmRetrieve *r, const ElmNode *node);

/* navigation */
extern CqlValue fhir_property(CqlValue src, const char *name);
/* the same, remembering the element look-up for the last type in *memo */
extern CqlValue fhir_property_memo(CqlValue src, const char *name,
								   const char **memo_type, const void **memo_elem);
extern CqlValue fhir_primitive_value(const CqlFhir *f);
extern CqlValue fhir_to_system(CqlValue v);
extern bool fhir_deep_equal(const CqlFhir *a, const CqlFhir *b);
extern int	fhir_sort_compare(const CqlFhir *a, const CqlFhir *b);
extern const char *fhir_resource_id(const CqlFhir *f);
extern const char *fhir_value_type(CqlValue v);

/* terminology: is (system, code) in the value set; loads it on first use */
extern bool terminology_contains(ElmValueSet *vs, const char *system, const char *code);
/* does the code-bearing value (Code, Concept, Coding, CodeableConcept, list) hit the set */
extern CqlTri terminology_value_in(CqlValue codes, ElmValueSet *vs);

/* hedis.profile_matching */
typedef enum ProfileMatching
{
	PROFILE_MATCH_DECLARED,
	PROFILE_MATCH_STRICT,
	PROFILE_MATCH_NONE
} ProfileMatching;
extern int	hedis_profile_matching;

/* profile criteria of QI-Core profiles; -1 when the profile adds none */
extern int	fhir_profile_lookup(const char *template_id);

#endif							/* FHIR_DATA_H */
