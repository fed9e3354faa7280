/*
 * measure_prescreen.c
 *		Patients a measure's initial population cannot hold, told from their
 *		birth date alone.
 *
 * Owner: the measure engine.  Most quality measures open their initial
 * population with an age range:
 *
 *   define "Initial Population":
 *     AgeInYearsAt(date from end of "Measurement Period") in Interval[42, 74]
 *       and Patient.sex = '248152002' and exists "Qualifying Encounters"
 *
 * (or a bound: AgeInYearsAt(date from start of "Measurement Period") >= 18).
 * Many members fail it (two thirds of a generated population for CMS125's
 * 42 to 74), and evaluating them costs a call, their index entries, their
 * Patient row and the age criterion: a population query written by hand
 * reads a birth-date column and drops them at once.  When every group of a
 * measure is patient-based and its initial population is an And (through
 * definitions) with such a conjunct, a population evaluation
 * (hedis.evaluate_population, population runs) first tests the range on
 * hedis.patient.birth_date, which the loaders write from the same Patient
 * resource's birthDate: a patient the range excludes in every group is
 * outside every initial population, and its result is the one the full
 * evaluation gives such a patient (all populations 0, no stratum), made by
 * the same code (measure_eval_group).
 *
 * The test is the ELM's own, on the same values: the age is cql_dt_age_at
 * of the birth date at the as-of date the conjunct computes (a subtree the
 * same for every patient, elm_invariant.c), compared with the interval it
 * evaluates or the bound it compares the age with.  A partial birthDate
 * ("1970", "1970-05") is stored as its first day, one of the days it
 * stands for: when that day's age is outside the range, the range does not
 * hold the patient's age for certain, and the conjunct is not true (false,
 * or null for CQL's uncertain age), nor is the initial population.  A NULL
 * birth date is not screened.
 *
 * hedis.prescreen = off evaluates every patient in full (to compare; or
 * when Patient resources are changed without the loaders, which would leave
 * hedis.patient.birth_date behind).
 */
#include "postgres.h"

#include "utils/datetime.h"

#include "engine/elm.h"
#include "engine/elm_ops.h"
#include "engine/measure.h"

bool		hedis_prescreen = true;

/* the node a wrapper (a kept invariant, a shared call) computes with */
static const ElmNode *
unwrapped(const ElmNode *n)
{
	while (n != NULL && n->wrapper)
		n = n->args[0];
	return n;
}

static bool
is_type(const ElmNode *n, const char *type)
{
	return n != NULL && n->type != NULL && strcmp(n->type, type) == 0;
}

/* an ExpressionRef to the patient's own Patient resource: singleton from [Patient] */
static bool
is_patient_ref(const ElmNode *n)
{
	const ElmDef *def;
	const ElmNode *e;
	const ElmNode *r;

	n = unwrapped(n);
	if (!is_type(n, "ExpressionRef") || n->ref == NULL)
		return false;
	def = (const ElmDef *) n->ref;
	e = unwrapped(def->expr);
	if (!def->patient_context || !is_type(e, "SingletonFrom") || e->nargs != 1)
		return false;
	r = unwrapped(e->args[0]);
	return is_type(r, "Retrieve") && r->retrieve != NULL &&
		strcmp(r->retrieve->data_type, "Patient") == 0 &&
		r->retrieve->codes == NULL && r->retrieve->date_range == NULL;
}

/* Patient.birthDate (the FHIR element) */
static bool
is_birth_date_element(const ElmNode *n)
{
	n = unwrapped(n);
	return is_type(n, "Property") && n->str != NULL &&
		strcmp(n->str, "birthDate") == 0 && is_patient_ref(n->source);
}

/*
 * The birth date's value as the translators write it: Patient.birthDate.value,
 * the dotted path "birthDate.value", or FHIRHelpers.ToDate(Patient.birthDate)
 * (a function whose body is "operand.value").
 */
static bool
is_birth_date(const ElmNode *n)
{
	n = unwrapped(n);
	if (is_type(n, "Property") && n->str != NULL)
	{
		if (strcmp(n->str, "value") == 0)
			return is_birth_date_element(n->source);
		if (strcmp(n->str, "birthDate.value") == 0)
			return is_patient_ref(n->source);
		return false;
	}
	if (is_type(n, "FunctionRef") && n->nargs == 1 && n->noverloads == 1 &&
		n->overloads[0]->body != NULL && n->overloads[0]->value_of_operand)
		return is_birth_date_element(n->args[0]);
	return false;
}

/*
 * The CalculateAgeAt(birth date, <the same for every patient>) n computes,
 * itself or as the definition it names ("Age at End of Measurement
 * Period"); NULL if it is not one.
 */
static const ElmNode *
age_at(const ElmNode *n)
{
	n = unwrapped(n);
	if (is_type(n, "ExpressionRef") && n->ref != NULL &&
		((const ElmDef *) n->ref)->patient_context)
		n = unwrapped(((const ElmDef *) n->ref)->expr);
	if (is_type(n, "CalculateAgeAt") && n->nargs == 2 &&
		is_birth_date(n->args[0]) && elm_node_is_invariant(n->args[1]))
		return n;
	return NULL;
}

/* the comparisons of an age with a bound: age >= 18, 65 > age... */
static const char *const age_comparisons[] = {"GreaterOrEqual", "Greater", "LessOrEqual", "Less"};

static int
comparison_index(const ElmNode *n)
{
	for (int i = 0; i < lengthof(age_comparisons); i++)
		if (is_type(n, age_comparisons[i]))
			return i;
	return -1;
}

/*
 * In(an age at, <the same for every patient>), or a comparison of an age
 * at with <the same for every patient>, on either side
 */
static bool
is_age_range(const ElmNode *n)
{
	n = unwrapped(n);
	if (n == NULL || n->nargs != 2)
		return false;
	if (is_type(n, "In"))
		return !n->flag &&		/* flag: the list overload */
			age_at(n->args[0]) != NULL && elm_node_is_invariant(n->args[1]);
	if (comparison_index(n) < 0)
		return false;
	return (age_at(n->args[0]) != NULL && elm_node_is_invariant(n->args[1])) ||
		(age_at(n->args[1]) != NULL && elm_node_is_invariant(n->args[0]));
}

/* the first age-range conjunct of an And tree, through definitions */
static const ElmNode *
age_conjunct(const ElmNode *n, int depth)
{
	n = unwrapped(n);
	if (n == NULL || depth > 16)
		return NULL;
	if (is_age_range(n))
		return unwrapped(n);
	if (is_type(n, "And"))
	{
		for (int i = 0; i < n->nargs; i++)
		{
			const ElmNode *found = age_conjunct(n->args[i], depth + 1);

			if (found)
				return found;
		}
		return NULL;
	}
	if (is_type(n, "ExpressionRef") && n->ref != NULL &&
		((const ElmDef *) n->ref)->patient_context)
		return age_conjunct(((const ElmDef *) n->ref)->expr, depth + 1);
	return NULL;
}

void
measure_prescreen_compile(MeasureDef *m)
{
	m->prescreen = true;
	for (int g = 0; g < m->ngroups; g++)
	{
		MeasureGroup *mg = &m->groups[g];

		mg->age_range = mg->patient_based && mg->pop[HEDIS_POP_IP] != NULL
			? age_conjunct(mg->pop[HEDIS_POP_IP]->expr, 0) : NULL;
		if (mg->age_range == NULL)
			m->prescreen = false;
	}
}

/*
 * What the age range of every group compares, for the evaluation's
 * measurement period: false if a group's range cannot be screened by (its
 * as-of date or its bounds are not a date and two integers).
 */
bool
measure_prescreen_prepare(EvalCtx *cx, MeasureDef *m, MeasureAgeRange *ranges)
{
	if (!m->prescreen)
		return false;
	for (int g = 0; g < m->ngroups; g++)
	{
		const ElmNode *test = unwrapped(m->groups[g].age_range);
		bool		age_left = age_at(test->args[0]) != NULL;
		const ElmNode *calc = age_at(test->args[age_left ? 0 : 1]);
		CqlValue	as_of = elm_system_value(elm_eval(cx, calc->args[1]));
		CqlValue	bound = elm_system_value(elm_eval(cx, test->args[age_left ? 1 : 0]));
		MeasureAgeRange *r = &ranges[g];
		int			cmp = comparison_index(test);

		if (as_of.kind != CK_DATE && as_of.kind != CK_DATETIME)
			return false;
		r->as_of = as_of.u.dt;
		r->precision = calc->prec == CQL_PREC_ALL ? CQL_PREC_YEAR : calc->prec;
		if (cmp < 0)
		{
			/* In: both bounds */
			if (bound.kind != CK_INTERVAL || bound.u.iv->low.kind != CK_INT ||
				bound.u.iv->high.kind != CK_INT)
				return false;
			r->has_low = r->has_high = true;
			r->low = bound.u.iv->low.u.i;
			r->high = bound.u.iv->high.u.i;
			r->low_closed = bound.u.iv->low_closed;
			r->high_closed = bound.u.iv->high_closed;
			continue;
		}
		if (bound.kind != CK_INT)
			return false;
		/* the comparison as "age >= k", "age > k", "age <= k" or "age < k" */
		if (!age_left)
			cmp ^= 2;			/* k >= age is age <= k, k > age is age < k... */
		r->has_low = cmp < 2;
		r->has_high = !r->has_low;
		r->low = r->high = bound.u.i;
		r->low_closed = r->high_closed = cmp % 2 == 0;
	}
	return true;
}

/* is the age at the birth date outside the range (or on the wrong side of the bound)? */
static bool
range_excludes(const MeasureAgeRange *r, const CqlDateTime *birth)
{
	int64_t		lo,
				hi;

	if (!cql_dt_age_at(birth, &r->as_of, (CqlPrecision) r->precision, &lo, &hi))
		return false;
	return (r->has_low && (hi < r->low || (hi == r->low && !r->low_closed))) ||
		(r->has_high && (lo > r->high || (lo == r->high && !r->high_closed)));
}

bool
measure_prescreen_outside(const MeasureDef *m, const MeasureAgeRange *ranges, DateADT birth_date)
{
	CqlDateTime birth;
	int			y,
				mo,
				day;

	/* the birth date as a CQL Date */
	j2date(birth_date + POSTGRES_EPOCH_JDATE, &y, &mo, &day);
	memset(&birth, 0, sizeof(birth));
	birth.year = y;
	birth.month = mo;
	birth.day = day;
	birth.prec = CQL_PREC_DAY;
	for (int g = 0; g < m->ngroups; g++)
		if (!range_excludes(&ranges[g], &birth))
			return false;
	return true;
}
