/*
 * elm_validate.c
 *		Load-time check of a Library's ELM: every expression node must be one
 *		the engine evaluates.
 *
 * Called by the loader for each Library it stores, so that a measure using
 * an unimplemented ELM node is refused when it is loaded — naming the node
 * type, library, definition and locator — rather than failing on the first
 * patient.  References are not resolved here (included libraries may load
 * later); hedis.compile_library() does the full compile.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "engine/elm.h"

/* "type" values that are not expressions: specifiers, clauses, definitions */
static bool
is_structural_type(const char *t, int len)
{
	static const char *const structural[] = {
		"NamedTypeSpecifier", "ListTypeSpecifier", "IntervalTypeSpecifier",
		"ChoiceTypeSpecifier", "TupleTypeSpecifier", "ParameterTypeSpecifier",
		"Annotation", "ByDirection", "ByColumn", "ByExpression",
		"With", "Without", "FunctionDef", "ExpressionDef", "OperandDef",
		"ParameterDef", "ValueSetDef", "CodeSystemDef", "CodeDef", "ConceptDef"
	};

	for (int i = 0; i < lengthof(structural); i++)
		if ((int) strlen(structural[i]) == len && memcmp(structural[i], t, len) == 0)
			return true;
	return false;
}

typedef struct ValidateCtx
{
	const char *library;
	const char *definition;
	const char *source;			/* where the Library came from, for messages */
} ValidateCtx;

static char *
str_key(JsonbContainer *c, const char *key)
{
	JsonbValue	v;

	if (!JsonContainerIsObject(c) ||
		getKeyJsonValueFromContainer(c, key, strlen(key), &v) == NULL || v.type != jbvString)
		return NULL;
	return pnstrdup(v.val.string.val, v.val.string.len);
}

static void
validate_node(ValidateCtx *vc, JsonbContainer *c, int depth)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *type;
	char		key[64] = "";

	check_stack_depth();
	if (JsonContainerIsObject(c) && (type = str_key(c, "type")) != NULL &&
		!is_structural_type(type, strlen(type)) && elm_op_lookup(type) == NULL)
	{
		char	   *locator = str_key(c, "locator");

		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ELM node type \"%s\" is not implemented", type),
				 errdetail("%s%slibrary \"%s\", definition \"%s\", locator %s.",
						   vc->source ? vc->source : "", vc->source ? ": " : "",
						   vc->library, vc->definition ? vc->definition : "(none)",
						   locator ? locator : "(none)"),
				 errhint("See docs/elm-coverage.md for the node types the engine evaluates.")));
	}
	it = JsonbIteratorInit(c);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			int			n = Min(v.val.string.len, (int) sizeof(key) - 1);

			memcpy(key, v.val.string.val, n);
			key[n] = '\0';
			continue;
		}
		if ((tok != WJB_VALUE && tok != WJB_ELEM) || v.type != jbvBinary)
			continue;
		/* annotations carry the CQL source as nested "s" objects, not nodes */
		if (strcmp(key, "annotation") == 0 || strcmp(key, "signature") == 0)
			continue;
		if (depth == 0 && tok == WJB_VALUE)
		{
			/* a statement: remember its name for messages */
			char	   *name = str_key(v.val.binary.data, "name");

			if (name)
				vc->definition = name;
		}
		validate_node(vc, v.val.binary.data, depth + 1);
	}
}

/* every definition of the library, with its name for messages */
static void
validate_section(ValidateCtx *vc, JsonbContainer *lib, const char *section)
{
	JsonbValue	v,
				defs;

	if (getKeyJsonValueFromContainer(lib, section, strlen(section), &v) == NULL ||
		v.type != jbvBinary ||
		getKeyJsonValueFromContainer(v.val.binary.data, "def", 3, &defs) == NULL ||
		defs.type != jbvBinary || !JsonContainerIsArray(defs.val.binary.data))
		return;
	for (int i = 0; i < (int) JsonContainerSize(defs.val.binary.data); i++)
	{
		JsonbValue *d = getIthJsonbValueFromContainer(defs.val.binary.data, i);

		if (d == NULL || d->type != jbvBinary)
			continue;
		vc->definition = str_key(d->val.binary.data, "name");
		validate_node(vc, d->val.binary.data, 1);
	}
}

PG_FUNCTION_INFO_V1(hedis_check_elm);
Datum
hedis_check_elm(PG_FUNCTION_ARGS)
{
	Jsonb	   *elm = PG_GETARG_JSONB_P(0);
	ValidateCtx vc = {0};
	JsonbValue	lib,
				ident;

	vc.source = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (getKeyJsonValueFromContainer(&elm->root, "library", 7, &lib) == NULL || lib.type != jbvBinary)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s%sELM JSON has no \"library\" object",
						vc.source ? vc.source : "", vc.source ? ": " : "")));
	vc.library = "(unnamed)";
	if (getKeyJsonValueFromContainer(lib.val.binary.data, "identifier", 10, &ident) != NULL &&
		ident.type == jbvBinary)
	{
		char	   *id = str_key(ident.val.binary.data, "id");

		if (id)
			vc.library = id;
	}
	validate_section(&vc, lib.val.binary.data, "parameters");
	validate_section(&vc, lib.val.binary.data, "statements");
	PG_RETURN_VOID();
}
