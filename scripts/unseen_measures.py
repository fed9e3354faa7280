#!/usr/bin/env python3
"""
scripts/unseen_measures.py: pg_hedis on an eCQM content package it was not
built against (docs/unseen-measures.md).

    pg_virtualenv -o shared_preload_libraries=pg_hedis \\
        python3 scripts/unseen_measures.py PKGDIR [--out DIR] [--jobs N] [--only TEXT] [--population]

PKGDIR is an extracted cqframework ecqm-content-qicore-YYYY repository: its
input/resources/{library,measure}/*.json, input/vocabulary/valueset/**.json
and bundles/measure/<M>/<M>-files/tests-*-bundle.json (one patient and its
expected MeasureReport each).  The package is not in this repository (fetch
github:cqframework/ecqm-content-qicore-2024 and check out its files).

Against the cluster of PGHOST/PGPORT (pg_hedis preloaded): one template
database with every value set, library and measure; then per measure a copy
holding its test bundles (hedis.load_bundle(b, patient_bundle => true)), and
each case evaluated with hedis.evaluate for its expected report's period and
compared group by group, population by population.  Writes DIR/<measure>.txt
(PASS/FAIL/ERROR lines: file, patient, what differs) and prints the totals:
strict, and without the rows MADiE writes for measure observations (each
observation's value as the count of a population of its own, under codes FHIR
does not define); those values are compared apart, as multisets per group,
with the engine's (the observation-value extensions).
"""
import argparse
import collections
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

OBSERVATION_URL = 'https://pg-hedis.dev/fhir/StructureDefinition/observation-value'


def psql(db, script, what):
    """run script; a statement that fails is reported (the script goes on: one
    unreadable file must not hide the rest), a psql that fails stops the run"""
    with tempfile.NamedTemporaryFile('w', suffix='.sql', delete=False) as f:
        f.write(script)
        name = f.name
    try:
        r = subprocess.run(['psql', '-X', '-q', '--no-psqlrc', '-d', db, '-f', name,
                            '-A', '-t', '-F', '\x1f', '-R', '\x1e'],
                           capture_output=True, text=True)
    finally:
        os.unlink(name)
    if r.returncode:
        sys.exit(f'{what}: psql failed: {r.stderr[:2000]}')
    errors = [l for l in r.stderr.splitlines() if 'ERROR' in l]
    if errors:
        print(f'{what}: {len(errors)} statement(s) failed, first: {errors[0][:300]}', file=sys.stderr, flush=True)
    return r


def quote(s):
    return "'" + s.replace("'", "''") + "'"


# files are read by psql (\set from `cat`), so the server needs no access to them
def staging(files):
    out = ["CREATE TEMP TABLE staging (file text, res jsonb);"]
    for f in files:
        out.append("\\set content `cat %s`" % shlex.quote(f))
        out.append("INSERT INTO staging VALUES (%s, :'content'::jsonb);" % quote(f))
    return "\n".join(out) + "\n"


LOADER = r"""
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS unseen_load (file text, kind text, error text);
CREATE FUNCTION pg_temp.ld(b jsonb, patient boolean, OUT error text) LANGUAGE plpgsql AS $fn$
DECLARE d text;
BEGIN PERFORM hedis.load_bundle(b, patient_bundle => patient);
EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
  error := SQLERRM || coalesce(' | ' || d, ''); END $fn$;
"""
AS_BUNDLE = ("CASE WHEN res->>'resourceType' = 'Bundle' THEN res ELSE jsonb_build_object("
             "'resourceType', 'Bundle', 'type', 'collection', 'entry', "
             "jsonb_build_array(jsonb_build_object('resource', res))) END")

EVALUATOR = r"""
SET statement_timeout = '120s';
CREATE TABLE unseen_result (file text, patient text, expected jsonb, report jsonb, error text);
CREATE FUNCTION pg_temp.ev(m text, p text, s date, e date, OUT report jsonb, OUT error text) LANGUAGE plpgsql AS $fn$
DECLARE d text;
BEGIN report := hedis.evaluate(m, p, s, e);
EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
  error := SQLERRM || coalesce(' | ' || d, ''); END $fn$;
"""


def build_template(db, pkg):
    subprocess.run(['dropdb', '--if-exists', db], check=True, stderr=subprocess.DEVNULL)
    subprocess.run(['createdb', db], check=True)
    psql(db, "CREATE EXTENSION pg_hedis;", 'template')
    kinds = (('valueset', sorted(glob.glob(pkg + '/input/vocabulary/valueset/**/*.json', recursive=True))),
             ('library', sorted(glob.glob(pkg + '/input/resources/library/*.json'))),
             ('measure', sorted(glob.glob(pkg + '/input/resources/measure/*.json'))))
    for kind, files in kinds:
        for i in range(0, len(files), 200):
            psql(db, staging(files[i:i + 200]) + LOADER +
                 "INSERT INTO unseen_load SELECT file, %s, pg_temp.ld(%s, false) FROM staging ORDER BY file;"
                 % (quote(kind), AS_BUNDLE), 'template ' + kind)
    r = psql(db, "SELECT kind, count(*), count(error) FROM unseen_load GROUP BY 1 ORDER BY 1;", 'template')
    for row in filter(None, r.stdout.split('\x1e')):
        kind, n, bad = row.strip().split('\x1f')
        print(f"template {db}: {kind} {n} loaded, {bad} refused", flush=True)


def test_cases(pkg):
    """(measure folder name, Measure url, [test bundle files]) per measure with tests"""
    measures = {}
    for f in glob.glob(pkg + '/input/resources/measure/*.json'):
        m = json.load(open(f))
        measures[m['url']] = m
    for d in sorted(glob.glob(pkg + '/bundles/measure/*/')):
        name = os.path.basename(d.rstrip('/'))
        tests = sorted(glob.glob(d + '*-files/tests-*-bundle.json'))
        if not tests:
            continue
        url = None
        for t in tests:
            for e in json.load(open(t)).get('entry', []):
                r = e.get('resource', {})
                if r.get('resourceType') == 'MeasureReport' and r.get('measure'):
                    url = r['measure'].split('|')[0]
                    break
            if url:
                break
        if url not in measures:
            named = [u for u, m in measures.items() if m.get('name') == name or u.rstrip('/').endswith('/' + name)]
            url = named[0] if named else url
        yield name, url, tests


# --population: hedis.evaluate_population's rows against the full evaluation
# of every patient (hedis.evaluate_patient_result), and whether the
# birth-date screen is in use for the measure (every birth date moved out of
# any age range, rolled back: no patient left in an initial population by
# evaluate_population while the full evaluation finds some)
POPULATION_CHECK = r"""
SET statement_timeout = '300s';
CREATE FUNCTION pg_temp.differing(m text, s date, e date) RETURNS text LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN (SELECT count(*) FROM hedis.evaluate_population(m, s, e) p
           WHERE p.result IS DISTINCT FROM hedis.evaluate_patient_result(m, p.patient_key, s, e) - 'patient');
EXCEPTION WHEN OTHERS THEN
  BEGIN
    PERFORM hedis.evaluate_patient_result(m, patient_key, s, e) FROM hedis.patient;
    RETURN 'evaluate_population fails where the full evaluation does not: ' || SQLERRM;
  EXCEPTION WHEN OTHERS THEN
    RETURN 'both fail';
  END;
END $fn$;
CREATE FUNCTION pg_temp.screened_with(m text, s date, e date, born date) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE screened_ip bigint; full_ip bigint;
BEGIN
  UPDATE hedis.patient SET birth_date = born;
  SELECT count(*) FILTER (WHERE p.result::text ~ '"initial-population": [1-9]'),
         count(*) FILTER (WHERE hedis.evaluate_patient_result(m, p.patient_key, s, e)::text ~ '"initial-population": [1-9]')
    INTO screened_ip, full_ip FROM hedis.evaluate_population(m, s, e) p;
  RAISE EXCEPTION USING MESSAGE = CASE WHEN full_ip = 0 THEN 'no patient in an initial population'
                                       WHEN screened_ip = 0 THEN 'screened' ELSE 'not screened' END;
EXCEPTION WHEN OTHERS THEN
  RETURN SQLERRM;
END $fn$;
-- every birth date 200 years before the period, then at its start: an age
-- range or an upper bound leaves out the first, a lower bound the second
CREATE FUNCTION pg_temp.screened(m text, s date, e date) RETURNS text LANGUAGE sql AS $fn$
  SELECT CASE WHEN 'screened' IN (a, b) THEN 'screened' ELSE a END
    FROM pg_temp.screened_with(m, s, e, (s - interval '200 years')::date) a,
         pg_temp.screened_with(m, s, e, s) b
$fn$;
SELECT 'rows differing: ' || pg_temp.differing(:'m', :'s', :'e') || '; ' || pg_temp.screened(:'m', :'s', :'e');
"""


def run_measure(template, name, url, tests, outdir, check_population=False):
    db = ('unseen_' + re.sub('[^a-z0-9]', '', name.lower()))[:60]
    subprocess.run(['dropdb', '--if-exists', db], check=True, stderr=subprocess.DEVNULL)
    subprocess.run(['createdb', '-T', template, db], check=True)
    cases = []
    for f in tests:
        b = json.load(open(f))
        pats = [e['resource'] for e in b.get('entry', []) if e.get('resource', {}).get('resourceType') == 'Patient']
        mrs = [e['resource'] for e in b.get('entry', []) if e.get('resource', {}).get('resourceType') == 'MeasureReport']
        full_urls = [e.get('fullUrl', '') for e in b.get('entry', [])
                     if e.get('resource', {}).get('resourceType') == 'Patient']
        # a Patient without id takes the uuid of its urn:uuid fullUrl, as the loader does
        pid = pats[0].get('id') if pats else None
        if pats and not pid and full_urls and full_urls[0].startswith('urn:uuid:'):
            pid = full_urls[0][9:]
        if pid and mrs:
            cases.append((f, pid, mrs[0]))
    psql(db, staging([c[0] for c in cases]) + LOADER +
         "INSERT INTO unseen_load SELECT file, 'test', pg_temp.ld(res, true) FROM staging ORDER BY file;",
         name + ' tests')
    lines = [EVALUATOR]
    for f, pid, mr in cases:
        lines.append("INSERT INTO unseen_result SELECT %s, %s, %s::jsonb, r.report, r.error FROM pg_temp.ev(%s, %s, %s, %s) r;"
                     % (quote(f), quote(pid), quote(json.dumps(mr)), quote(url or name), quote(pid),
                        quote(mr['period']['start'][:10]), quote(mr['period']['end'][:10])))
    psql(db, "\n".join(lines), name + ' evaluation')
    population = None
    if check_population and cases:
        mr = cases[0][2]
        r = psql(db, "\\set m %s\n\\set s %s\n\\set e %s\n" % (url or name, mr['period']['start'][:10],
                                                             mr['period']['end'][:10])
                 + POPULATION_CHECK, name + ' population')
        population = r.stdout.strip().strip('\x1e').strip()
    r = psql(db, "SELECT file, patient, expected::text, coalesce(report::text, 'null'), coalesce(error, '') "
                 "FROM unseen_result ORDER BY file;", name)
    results = []
    with open(os.path.join(outdir, name + '.txt'), 'w') as out:
        for row in filter(lambda x: x.strip(), r.stdout.split('\x1e')):
            f, pid, exp, rep, err = row.lstrip('\n').split('\x1f')
            verdict = compare(json.loads(exp), json.loads(rep), err.strip())
            results.append(verdict)
            out.write('\t'.join([verdict['status'], os.path.basename(f), pid, verdict['detail']]) + '\n')
    subprocess.run(['dropdb', '--if-exists', db])
    return name, results, population


def counts(report):
    """{(group index, population code): [counts]} of a MeasureReport"""
    out = collections.defaultdict(list)
    for gi, g in enumerate(report.get('group', []) or []):
        for p in g.get('population', []) or []:
            out[(gi, p['code']['coding'][0]['code'])].append(p.get('count', 0))
    return out


def observation_values(report, madie):
    """per group, the sorted observation values: MADiE's *-observation counts, or the engine's extensions"""
    out = {}
    for gi, g in enumerate(report.get('group', []) or []):
        vals = []
        for p in g.get('population', []) or []:
            code = p['code']['coding'][0]['code']
            if madie and code.endswith('observation'):
                vals.append(round(float(p.get('count', 0)), 6))
            if not madie and code == 'measure-observation':
                vals += [round(float(x['valueDecimal']), 6) for x in p.get('extension', [])
                         if x.get('url') == OBSERVATION_URL and 'valueDecimal' in x]
        if vals:
            out[gi] = sorted(vals)
    return out


def compare(expected, report, error):
    if error or report is None:
        return {'status': 'ERROR', 'detail': error.replace('\n', ' '), 'obs_only': False, 'obs': None}
    exp, got = counts(expected), counts(report)
    diffs = []
    for key in sorted(exp):
        if exp[key] != got.get(key, [])[:len(exp[key])]:
            diffs.append((key, exp[key], got.get(key)))
    detail = '; '.join(f"g{k[0]} {k[1]} exp {e} got {g}" for k, e, g in diffs)
    obs_only = all(k[1].endswith('observation') for k, e, g in diffs)
    ev, gv = observation_values(expected, True), observation_values(report, False)
    obs = None if not ev and not gv else (ev == gv)
    return {'status': 'FAIL' if diffs else 'PASS', 'detail': detail, 'obs_only': obs_only, 'obs': obs}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('pkgdir')
    ap.add_argument('--out', default='unseen-results')
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--only', default='', help='measures whose folder name contains this')
    ap.add_argument('--template', default='unseen_template')
    ap.add_argument('--population', action='store_true',
                    help="also compare hedis.evaluate_population's rows with the full evaluation, "
                         "and tell whether the birth-date screen is in use")
    a = ap.parse_args()
    pkg = os.path.abspath(a.pkgdir)
    os.makedirs(a.out, exist_ok=True)
    build_template(a.template, pkg)
    jobs = [(n, u, t) for n, u, t in test_cases(pkg) if a.only in n]
    total = collections.Counter()
    populations = collections.Counter()
    per_measure = []
    with ThreadPoolExecutor(a.jobs) as ex:
        for name, results, population in ex.map(lambda j: run_measure(a.template, *j, a.out, a.population),
                                                jobs):
            c = collections.Counter(r['status'] for r in results)
            c['noobs_pass'] = sum(1 for r in results if r['status'] == 'PASS' or (r['status'] == 'FAIL' and r['obs_only']))
            c['obs_same'] = sum(1 for r in results if r['obs'] is True)
            c['obs_differ'] = sum(1 for r in results if r['obs'] is False)
            total += c
            per_measure.append((name, c))
            print(f"{name:66s} strict {c['PASS']}/{c['FAIL']}/{c['ERROR']}  without observation rows "
                  f"{c['noobs_pass']}/{c['FAIL'] + c['PASS'] - c['noobs_pass']}/{c['ERROR']}"
                  + (f"  population: {population}" if population else ''), flush=True)
            if population:
                populations[population.split(';')[0] == 'rows differing: 0', population.split('; ')[-1]] += 1
    cases = total['PASS'] + total['FAIL'] + total['ERROR']
    print(f"TOTAL {cases} cases of {len(per_measure)} measures: strict matched {total['PASS']} "
          f"mismatched {total['FAIL']} error {total['ERROR']}; without observation rows matched "
          f"{total['noobs_pass']} mismatched {total['PASS'] + total['FAIL'] - total['noobs_pass']}")
    print(f"measures matching every case: strict {sum(1 for n, c in per_measure if c['FAIL'] == 0 and c['ERROR'] == 0)}, "
          f"without observation rows {sum(1 for n, c in per_measure if c['noobs_pass'] == c['PASS'] + c['FAIL'] and c['ERROR'] == 0)}")
    print(f"observation values: {total['obs_same']} cases agree, {total['obs_differ']} differ")
    for (same, screen), n in sorted(populations.items()):
        print(f"population: {n} measures with {'the same rows' if same else 'rows differing or failing'}, {screen}")
    subprocess.run(['dropdb', '--if-exists', a.template])


if __name__ == '__main__':
    main()
