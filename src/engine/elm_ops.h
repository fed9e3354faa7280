/*
 * elm_ops.h
 *		Shared between the evaluator core (elm_eval.c) and the operators
 *		(elm_ops*.c).
 */
#ifndef ELM_OPS_H
#define ELM_OPS_H

#include "engine/elm.h"

extern const ElmOpInfo elm_core_ops[];
extern const ElmOpInfo elm_value_ops[];
extern const ElmOpInfo elm_interval_ops[];
extern const ElmOpInfo elm_list_ops[];
extern const ElmOpInfo elm_more_ops[];

extern CqlValue elm_list_distinct(CqlValue list);

/* a FHIR primitive or Coding/CodeableConcept/Quantity as its System value */
extern CqlValue elm_system_value(CqlValue v);

/* successor / predecessor at the value's precision (null when none) */
extern CqlValue elm_successor(CqlValue v);
extern CqlValue elm_predecessor(CqlValue v);
extern CqlValue elm_min_value_of(CqlValue like);
extern CqlValue elm_max_value_of(CqlValue like);

/* v converted to the named System type (ToX, Convert); null when it does not convert */
extern CqlValue elm_convert(CqlValue v, const char *type);

/* temporal or numeric value + quantity (sign -1 subtracts) */
extern CqlValue elm_add_quantity(CqlValue a, const CqlQuantity *q, int sign);

/* point comparisons ('=', '[' same or before, ']' same or after, '<', '>') */
extern CqlValue elm_point_compare(CqlValue a, CqlValue b, int prec, char op);
extern CqlValue elm_interval_before_after(CqlValue a, CqlValue b, int prec, char op);
/* closed boundaries: Start/End of an interval (min/max for closed nulls) */
extern CqlValue elm_interval_start(const CqlInterval *iv);
extern CqlValue elm_interval_end(const CqlInterval *iv);
extern CqlValue elm_interval_union(const CqlInterval *a, const CqlInterval *b);
extern CqlValue elm_interval_intersect(const CqlInterval *a, const CqlInterval *b);
extern CqlValue elm_interval_except(const CqlInterval *a, const CqlInterval *b);

#endif							/* ELM_OPS_H */
