/*
 * cql_arena.h
 *		Bump allocation of the evaluator's small values.
 *
 * An evaluation makes hundreds of small values per patient (lists, FHIR
 * element wrappers, intervals, tuples) and frees them all at once when its
 * memory context is reset.  palloc into the generation context already
 * bumps a pointer, but through two calls and a chunk header per value;
 * cql_alloc takes them from a block of that context with an inline pointer
 * bump instead.
 *
 * The arena serves only the context registered with cql_arena_begin (the
 * evaluation's) and only while it is the current context: values made
 * elsewhere (compiled literals in the library cache, nested evaluations)
 * come from palloc as before.  cql_arena_end must be called before that
 * context is reset or deleted.  Arena memory is never pfree'd or
 * repalloc'ed: callers that grow a value allocate the larger copy.
 */
#ifndef CQL_ARENA_H
#define CQL_ARENA_H

#include "postgres.h"

typedef struct CqlArena
{
	MemoryContext owner;		/* the evaluation's context, or NULL */
	char	   *next;
	char	   *end;
} CqlArena;

extern CqlArena cql_arena;

extern void cql_arena_begin(MemoryContext owner);
extern void cql_arena_end(MemoryContext owner);
extern void *cql_arena_refill(Size size);

static inline void *
cql_alloc(Size size)
{
	size = MAXALIGN(size);
	if (likely(CurrentMemoryContext == cql_arena.owner &&
			   (Size) (cql_arena.end - cql_arena.next) >= size))
	{
		void	   *p = cql_arena.next;

		cql_arena.next += size;
		return p;
	}
	return cql_arena_refill(size);
}

static inline void *
cql_alloc0(Size size)
{
	void	   *p = cql_alloc(size);

	memset(p, 0, size);
	return p;
}

/* a copy of len bytes of s, NUL-terminated */
static inline char *
cql_strndup(const char *s, Size len)
{
	char	   *p = cql_alloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* an array of n elements of size each, grown to cap elements (a copy) */
static inline void *
cql_grow(void *items, Size n, Size cap, Size size)
{
	void	   *p = cql_alloc(cap * size);

	if (n > 0)
		memcpy(p, items, n * size);
	return p;
}

#endif							/* CQL_ARENA_H */
