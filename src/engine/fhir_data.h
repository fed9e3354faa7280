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
#include "executor/tuptable.h"
#include "utils/rel.h"
#include "utils/snapshot.h"

/* One patient's resources, grouped by type, read in one index scan. */
/* the "system|code" keys of one resource's code property, with their hashes */
typedef struct ResourceCodes
{
	bool		other;			/* the property holds something else than codings */
	int			n;
	char	  **keys;			/* "system|code" */
	int		   *lens;
	int		   *system_lens;	/* where the system ends in the key */
	uint32	   *hashes;
} ResourceCodes;

typedef struct PatientTypeGroup
{
	const char *type;
	int			n;
	int			cap;
	CqlValue   *resources;		/* CK_FHIR values */
	/* codes of every resource for the code property last asked (value-set retrieves) */
	const char *codes_property;
	ResourceCodes *codes;
	int8		ids_distinct;	/* no two resources alike: 1 yes, -1 no, 0 not known */
} PatientTypeGroup;

/* a patient's index entry read ahead by fhir_prefetch.c */
typedef struct PrefetchedRow
{
	const char *type;			/* interned when the model knows the type */
	ItemPointerData tid;
} PrefetchedRow;

struct PatientData
{
	MemoryContext mcxt;			/* where its resources live */
	int64		patient_key;
	const char *fhir_id;
	CqlValue	patient;		/* the Patient resource, or null */
	int			ngroups;
	int			capgroups;
	PatientTypeGroup *groups;	/* the types read so far (possibly empty) */
	bool		loaded_all;		/* every wanted type has been read */
	const char **wanted;		/* the types the measure retrieves (NULL: all) */
	int			nwanted;
	/* open while the patient is evaluated (fhir_patient_release) */
	Relation	heap;
	Relation	index;
	TupleTableSlot *slot;
	struct IndexFetchTableData *fetch;	/* heap fetches by TID */
	bool		shared_reader;	/* slot and fetch are the transaction's (fhir_data.c) */
	Snapshot	snapshot;
	/* its index entries: read ahead for a batch, or on opening (fhir_prefetch.c) */
	const PrefetchedRow *pre_rows;
	int			pre_n;
};

extern bool fhir_type_in_patient_compartment(const char *type);

/* hedis.resource and its patient index */
extern void fhir_resource_relation_ids(Oid *heap, Oid *index);
/* the patient index is the one read_leaf_entries can read, or an error (fhir_prefetch.c) */
extern void fhir_check_patient_index(Oid heap, Oid index);

/* the index entries of one patient: prefetched, read ahead or read now */
extern int	fhir_patient_entries(Relation index, Snapshot snapshot,
								 int64 patient_key, bool may_read_ahead,
								 const PrefetchedRow **rows);

/*
 * Start reading a patient (in CurrentMemoryContext): its Patient resource
 * now, other types on their first retrieve.  wanted: the resource types to
 * read (NULL: all).  fhir_patient_release closes what it opened.
 */
extern PatientData *fhir_patient_load(int64 patient_key, const char **wanted, int nwanted);
extern void fhir_patient_release(PatientData *pd);
extern PatientTypeGroup *fhir_patient_group(PatientData *pd, const char *type);
extern PatientTypeGroup *fhir_patient_group_find(PatientData *pd, const char *type);
extern int64 fhir_patient_key(const char *fhir_id, bool missing_ok);

/* Retrieve: resources of r->data_type for the patient, filtered */
extern CqlValue fhir_retrieve(EvalCtx *cx, ElmRetrieve *r, const ElmNode *node);

/*
 * A Union whose leaves are retrieves of one type by value sets, read in
 * one pass over the type's resources (fhir_retrieves_union): the leaves in
 * the order the nested unions list them.
 */
typedef struct FusedRetrieves
{
	int			n;
	ElmRetrieve *leaves[FLEXIBLE_ARRAY_MEMBER];
} FusedRetrieves;

extern FusedRetrieves *fhir_retrieves_fused(const ElmNode *union_node);
extern bool fhir_retrieves_union(EvalCtx *cx, const FusedRetrieves *fr, CqlValue *out);

/* navigation */
extern CqlValue fhir_property(CqlValue src, const char *name);
/* the same, remembering the element look-up for the last type in *memo */
extern CqlValue fhir_property_memo(CqlValue src, const char *name,
								   const char **memo_type, const void **memo_elem);
extern CqlValue fhir_primitive_value(const CqlFhir *f);
/* src.name.value for a single non-choice element name: false if not such */
extern bool fhir_child_primitive_value(CqlValue src, const char *name,
									   const char **memo_type, const void **memo_elem,
									   CqlValue *out);
/* src.name as a primitive (type, JSON value) when it is one and present */
extern bool fhir_child_primitive(CqlValue src, const char *name, const char **memo_type,
								 const void **memo_elem, CqlFhir *out);
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
