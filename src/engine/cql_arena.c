/*
 * cql_arena.c
 *		Blocks for the evaluator's bump allocation (see cql_arena.h).
 */
#include "postgres.h"

#include "engine/cql_arena.h"

/* blocks taken from the owner context; larger values are palloc'ed alone */
#define ARENA_BLOCK (32 * 1024)
#define ARENA_LARGE (ARENA_BLOCK / 8)

CqlArena	cql_arena;

void
cql_arena_begin(MemoryContext owner)
{
	cql_arena.owner = owner;
	cql_arena.next = cql_arena.end = NULL;
}

/* the owner is about to be reset: its blocks must not be handed out again */
void
cql_arena_end(MemoryContext owner)
{
	if (cql_arena.owner == owner)
	{
		cql_arena.owner = NULL;
		cql_arena.next = cql_arena.end = NULL;
	}
}

void *
cql_arena_refill(Size size)
{
	if (CurrentMemoryContext != cql_arena.owner || size > ARENA_LARGE)
		return palloc(size);
	/* the rest of the old block is left unused: at most ARENA_LARGE bytes */
	cql_arena.next = MemoryContextAlloc(cql_arena.owner, ARENA_BLOCK);
	cql_arena.end = cql_arena.next + ARENA_BLOCK;
	cql_arena.next += size;
	return cql_arena.next - size;
}
