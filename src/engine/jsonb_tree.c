/*
 * jsonb_tree.c
 *		A JsonbValue tree, built directly, then converted to jsonb.
 *
 * JsonbValueToJsonb lays out arrays and objects exactly as given, so the
 * members of every object must first be in jsonb's key order (shorter keys
 * first, then bytewise) for look-ups in the result to find them; jt_finish
 * does that, and refuses a key given twice (a bug of the caller).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "engine/cql_arena.h"
#include "engine/jsonb_tree.h"

/*
 * Nodes and member arrays come from the evaluation's bump allocator when
 * the tree is built in its context (a MeasureReport has hundreds of them);
 * nothing of a tree is freed before the tree, and a member array that
 * grows is copied, not reallocated.
 */
static JsonbValue *
jt_new(enum jbvType type)
{
	JsonbValue *v = cql_alloc(sizeof(JsonbValue));

	v->type = type;
	return v;
}

static void *
grown(void *items, Size used, Size size)
{
	void	   *copy = cql_alloc(size);

	memcpy(copy, items, used);
	return copy;
}

/*
 * Member arrays start with room for 4 and double when the count reaches a
 * power of two (4, 8, 16...), so the count alone tells when one is full.
 */
#define JT_FIRST_CAPACITY 4

static bool
full(int n)
{
	return n >= JT_FIRST_CAPACITY && (n & (n - 1)) == 0;
}

JsonbValue *
jt_object(void)
{
	JsonbValue *v = jt_new(jbvObject);

	v->val.object.nPairs = 0;
	v->val.object.pairs = cql_alloc(sizeof(JsonbPair) * JT_FIRST_CAPACITY);
	return v;
}

JsonbValue *
jt_array(void)
{
	JsonbValue *v = jt_new(jbvArray);

	v->val.array.nElems = 0;
	v->val.array.rawScalar = false;
	v->val.array.elems = cql_alloc(sizeof(JsonbValue) * JT_FIRST_CAPACITY);
	return v;
}

void
jt_put(JsonbValue *object, const char *key, JsonbValue *value)
{
	int			n = object->val.object.nPairs;
	JsonbPair  *p;

	if (full(n))
		object->val.object.pairs = grown(object->val.object.pairs, sizeof(JsonbPair) * n,
										 sizeof(JsonbPair) * n * 2);
	p = &object->val.object.pairs[n];
	p->key.type = jbvString;
	p->key.val.string.val = (char *) key;
	p->key.val.string.len = strlen(key);
	p->value = *value;
	p->order = n;
	object->val.object.nPairs = n + 1;
}

void
jt_push(JsonbValue *array, JsonbValue *value)
{
	int			n = array->val.array.nElems;

	if (full(n))
		array->val.array.elems = grown(array->val.array.elems, sizeof(JsonbValue) * n,
									   sizeof(JsonbValue) * n * 2);
	array->val.array.elems[n] = *value;
	array->val.array.nElems = n + 1;
}

JsonbValue *
jt_string(const char *s)
{
	JsonbValue *v;

	if (s == NULL)
		return jt_null();
	v = jt_new(jbvString);
	v->val.string.val = (char *) s;
	v->val.string.len = strlen(s);
	return v;
}

JsonbValue *
jt_int(int64 n)
{
	/* counts are mostly 0 and 1: their numerics are made once per backend */
	static Numeric small[16];
	JsonbValue *v = jt_new(jbvNumeric);

	if (n >= 0 && n < lengthof(small))
	{
		if (small[n] == NULL)
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			small[n] = int64_to_numeric(n);
			MemoryContextSwitchTo(old);
		}
		v->val.numeric = small[n];
	}
	else
		v->val.numeric = int64_to_numeric(n);
	return v;
}

JsonbValue *
jt_bool(bool b)
{
	JsonbValue *v = jt_new(jbvBool);

	v->val.boolean = b;
	return v;
}

JsonbValue *
jt_null(void)
{
	return jt_new(jbvNull);
}

/* the tree of the container an iterator is at (after its BEGIN token) */
static JsonbValue *
tree_of(JsonbIterator **it, JsonbIteratorToken begin)
{
	JsonbValue *node = begin == WJB_BEGIN_OBJECT ? jt_object() : jt_array();
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	while ((tok = JsonbIteratorNext(it, &v, false)) != WJB_DONE)
	{
		JsonbValue *item;

		if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			break;
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
			item = tree_of(it, tok);
		else
		{
			item = jt_new(v.type);
			*item = v;
		}
		if (node->type == jbvObject)
			jt_put(node, key, item);
		else
			jt_push(node, item);
	}
	return node;
}

JsonbValue *
jt_from_jsonb(Jsonb *jb)
{
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbValue	v;
	JsonbIteratorToken tok = JsonbIteratorNext(&it, &v, false);

	if (tok == WJB_BEGIN_ARRAY && v.val.array.rawScalar)
	{
		JsonbValue *scalar = jt_new(jbvNull);

		(void) JsonbIteratorNext(&it, scalar, false);
		return scalar;
	}
	return tree_of(&it, tok);
}

JsonbValue *
jt_binary(Jsonb *jb)
{
	JsonbValue *v;

	if (JB_ROOT_IS_SCALAR(jb))
		return jt_from_jsonb(jb);
	v = jt_new(jbvBinary);
	v->val.binary.data = &jb->root;
	v->val.binary.len = VARSIZE(jb) - VARHDRSZ;
	return v;
}

static int
pair_cmp(const void *a, const void *b)
{
	const JsonbPair *pa = a;
	const JsonbPair *pb = b;

	if (pa->key.val.string.len != pb->key.val.string.len)
		return pa->key.val.string.len > pb->key.val.string.len ? 1 : -1;
	return memcmp(pa->key.val.string.val, pb->key.val.string.val, pa->key.val.string.len);
}

static inline bool
is_container(const JsonbValue *v)
{
	return v->type == jbvArray || v->type == jbvObject;
}

/* scalars have nothing to sort (most members are): only containers are visited */
static void
sort_objects(JsonbValue *v)
{
	check_stack_depth();
	if (v->type == jbvArray)
	{
		for (int i = 0; i < v->val.array.nElems; i++)
			if (is_container(&v->val.array.elems[i]))
				sort_objects(&v->val.array.elems[i]);
	}
	else if (v->type == jbvObject)
	{
		JsonbPair  *pairs = v->val.object.pairs;
		int			n = v->val.object.nPairs;

		/* objects here have a handful of members: insertion sort, no allocation (glibc's qsort mallocs) */
		for (int i = 1; i < n; i++)
		{
			JsonbPair	p = pairs[i];
			int			j = i;

			while (j > 0 && pair_cmp(&pairs[j - 1], &p) > 0)
			{
				pairs[j] = pairs[j - 1];
				j--;
			}
			pairs[j] = p;
		}
		for (int i = 0; i < n; i++)
		{
			if (i > 0 && pair_cmp(&pairs[i - 1], &pairs[i]) == 0)
				elog(ERROR, "key \"%s\" given twice in one object", pairs[i].key.val.string.val);
			if (is_container(&pairs[i].value))
				sort_objects(&pairs[i].value);
		}
	}
}

/*
 * The tree written as jsonb's binary format (utils/jsonb.h), as
 * JsonbValueToJsonb writes it, into one buffer sized beforehand: a
 * MeasureReport has hundreds of nodes, and growing a StringInfo node by node
 * was a fifth of hedis.evaluate.  Layout of a container: a header word
 * (count and kind), one JEntry per child (an object's keys first, then its
 * values) holding the child's type and the length of its data — or, every
 * JB_OFFSET_STRIDE-th child, the end offset of its data within the
 * container's — then the children's data in order.  Numbers and containers
 * start at a 4-byte boundary of the whole datum, the padding counting as
 * part of their data.  A nested stored container (jt_binary) is copied as
 * it is.  Anything else than strings, numbers, booleans, nulls, arrays,
 * objects and stored containers is left to JsonbValueToJsonb (which takes
 * no stored container: trees here never hold both).
 */

/* an upper bound of the bytes v takes (padding included), or -1 if not written here */
static Size
written_size(const JsonbValue *v)
{
	Size		size;

	switch (v->type)
	{
		case jbvNull:
		case jbvBool:
			return 0;
		case jbvString:
			return v->val.string.len;
		case jbvNumeric:
			return VARSIZE_ANY(v->val.numeric) + 3;
		case jbvBinary:
			return v->val.binary.len + 3;
		case jbvArray:
			if (v->val.array.rawScalar)
				return -1;
			size = 3 + sizeof(uint32) + sizeof(JEntry) * v->val.array.nElems;
			for (int i = 0; i < v->val.array.nElems; i++)
			{
				Size		s = written_size(&v->val.array.elems[i]);

				if (s == (Size) -1)
					return -1;
				size += s;
			}
			return size;
		case jbvObject:
			size = 3 + sizeof(uint32) + sizeof(JEntry) * 2 * v->val.object.nPairs;
			for (int i = 0; i < v->val.object.nPairs; i++)
			{
				Size		s = written_size(&v->val.object.pairs[i].value);

				if (s == (Size) -1)
					return -1;
				size += v->val.object.pairs[i].key.val.string.len + s;
			}
			return size;
		default:
			return -1;
	}
}

static void write_value(char *buf, Size *pos, const JsonbValue *v, JEntry *type);

static void
pad_to_int(char *buf, Size *pos)
{
	while (*pos % sizeof(int32) != 0)
		buf[(*pos)++] = 0;
}

/* the JEntry of child i: its length, or its data's end offset every stride-th child */
static JEntry
child_entry(JEntry type, int i, uint32 len, uint32 end)
{
	return (i % JB_OFFSET_STRIDE) == 0 ? type | end | JENTRY_HAS_OFF : type | len;
}

static void
write_container(char *buf, Size *pos, const JsonbValue *v)
{
	bool		object = v->type == jbvObject;
	int			n = object ? v->val.object.nPairs : v->val.array.nElems;
	int			nentries = object ? 2 * n : n;
	Size		entries;
	Size		data;
	uint32		header = (uint32) n | (object ? JB_FOBJECT : JB_FARRAY);

	pad_to_int(buf, pos);
	memcpy(buf + *pos, &header, sizeof(uint32));
	*pos += sizeof(uint32);
	entries = *pos;
	*pos += sizeof(JEntry) * nentries;
	data = *pos;
	for (int i = 0; i < nentries; i++)
	{
		const JsonbValue *child = object
			? (i < n ? &v->val.object.pairs[i].key : &v->val.object.pairs[i - n].value)
			: &v->val.array.elems[i];
		Size		before = *pos;
		JEntry		type;
		JEntry		je;

		write_value(buf, pos, child, &type);
		je = child_entry(type, i, (uint32) (*pos - before), (uint32) (*pos - data));
		memcpy(buf + entries + sizeof(JEntry) * i, &je, sizeof(JEntry));
	}
}

static void
write_value(char *buf, Size *pos, const JsonbValue *v, JEntry *type)
{
	switch (v->type)
	{
		case jbvNull:
			*type = JENTRY_ISNULL;
			break;
		case jbvBool:
			*type = v->val.boolean ? JENTRY_ISBOOL_TRUE : JENTRY_ISBOOL_FALSE;
			break;
		case jbvString:
			memcpy(buf + *pos, v->val.string.val, v->val.string.len);
			*pos += v->val.string.len;
			*type = JENTRY_ISSTRING;
			break;
		case jbvNumeric:
			pad_to_int(buf, pos);
			memcpy(buf + *pos, v->val.numeric, VARSIZE_ANY(v->val.numeric));
			*pos += VARSIZE_ANY(v->val.numeric);
			*type = JENTRY_ISNUMERIC;
			break;
		case jbvBinary:

			/*
			 * A stored container's bytes, as they are: its offsets are its
			 * own, and its padding holds at any int-aligned start, as it
			 * was written at one.
			 */
			pad_to_int(buf, pos);
			memcpy(buf + *pos, v->val.binary.data, v->val.binary.len);
			*pos += v->val.binary.len;
			*type = JENTRY_ISCONTAINER;
			break;
		default:				/* arrays and objects: written_size let nothing else through */
			write_container(buf, pos, v);
			*type = JENTRY_ISCONTAINER;
			break;
	}
}

Jsonb *
jt_finish(JsonbValue *root)
{
	Size		bound;
	char	   *buf;
	Size		pos = VARHDRSZ;

	sort_objects(root);
	bound = (root->type == jbvArray || root->type == jbvObject) ? written_size(root) : (Size) -1;
	if (bound == (Size) -1 || bound > JENTRY_OFFLENMASK)
		return JsonbValueToJsonb(root);
	buf = palloc(VARHDRSZ + bound);
	write_container(buf, &pos, root);
	SET_VARSIZE(buf, pos);
	return (Jsonb *) buf;
}
