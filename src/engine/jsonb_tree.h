/*
 * jsonb_tree.h
 *		Build a jsonb document as a JsonbValue tree and convert it once.
 *
 * The engine's results (the compact per-patient result, the individual
 * MeasureReport) are written once per patient.  Writing JSON text and
 * parsing it back with jsonb_in, or feeding pushJsonbValue token by token,
 * cost more than the evaluation of a simple measure; a tree whose objects
 * are sorted once at the end costs a fraction of either.
 */
#ifndef HEDIS_JSONB_TREE_H
#define HEDIS_JSONB_TREE_H

#include "utils/jsonb.h"

extern JsonbValue *jt_object(void);
extern JsonbValue *jt_array(void);
/* add a member; keys must be distinct within one object (checked at the end) */
extern void jt_put(JsonbValue *object, const char *key, JsonbValue *value);
extern void jt_push(JsonbValue *array, JsonbValue *value);

extern JsonbValue *jt_string(const char *s);	/* NULL: JSON null */
extern JsonbValue *jt_int(int64 n);
extern JsonbValue *jt_bool(bool b);
extern JsonbValue *jt_null(void);
/* a copy, as a tree, of a stored jsonb document (to nest it) */
extern JsonbValue *jt_from_jsonb(Jsonb *jb);
/*
 * A stored jsonb document nested as it is: jt_finish copies its bytes (the
 * document must outlive the tree).  Parts that are the same in every
 * document written are built once so.
 */
extern JsonbValue *jt_binary(Jsonb *jb);

/* the jsonb of a tree (its objects sorted as jsonb requires) */
extern Jsonb *jt_finish(JsonbValue *root);

#endif
