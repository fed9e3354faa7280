#!/usr/bin/env python3
"""
test/robustness/typefuzz.py MEASURE_DIR DB [PATIENTS]: FHIR data of the wrong
shape must not crash the engine.  For the first PATIENTS (default 2) test
patients of the measure folder, every element of every resource (down to
depth 5, the first two items of a list) is replaced in turn by null, a
number, a string, [] and {}; each mutated bundle is loaded as a new patient
(hedis.load_bundle(..., patient_bundle => true)) and evaluated
(hedis.evaluate).  A case passes when the backend survives and any error has
a user-facing SQLSTATE (not XX000, internal error).  Prints one line per
failure and "N passed, M failed".  The measure's package must be loaded in DB.
"""
import copy
import glob
import json
import os
import subprocess
import sys
import tempfile

VALUES = [None, 7, "x", [], {}]


def element_paths(x, prefix, depth):
    if depth > 5:
        return
    if isinstance(x, dict):
        for k, v in x.items():
            if not prefix and k in ('resourceType', 'id'):
                continue
            yield prefix + [k]
            yield from element_paths(v, prefix + [k], depth + 1)
    elif isinstance(x, list):
        for i, v in enumerate(x[:2]):
            yield prefix + [i]
            yield from element_paths(v, prefix + [i], depth + 1)


def mutated(bundle, entry, path, value, n):
    """the bundle with one element replaced, its patient and resources renamed"""
    b = copy.deepcopy(bundle)
    pid = 'typefuzz-%d' % n
    old = None
    for e in b['entry']:
        r = e.get('resource', {})
        if r.get('resourceType') == 'Patient':
            old, r['id'] = r.get('id'), pid
        elif 'id' in r:
            r['id'] = '%s-%s' % (pid, r['id'])
    t = b['entry'][entry]['resource']
    for p in path[:-1]:
        t = t[p]
    t[path[-1]] = value
    text = json.dumps(b)
    return (text.replace('Patient/' + old, 'Patient/' + pid) if old else text), pid


TRY = r"""
SET client_min_messages = error;
CREATE FUNCTION pg_temp.try(b text, pid text, m text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
  BEGIN PERFORM hedis.load_bundle(b::jsonb, patient_bundle => true);
  EXCEPTION WHEN OTHERS THEN RETURN 'load ' || SQLSTATE; END;
  BEGIN PERFORM hedis.evaluate(m, pid, '2026-01-01', '2026-12-31');
  EXCEPTION WHEN OTHERS THEN RETURN 'evaluate ' || SQLSTATE; END;
  RETURN 'ok';
END $f$;
"""


def run_batch(db, measure, batch, tmp):
    lines = [TRY]
    for n, (text, pid) in batch:
        f = os.path.join(tmp, '%d.json' % n)
        with open(f, 'w') as out:
            out.write(text)
        lines.append("\\set c `cat %s`" % f)
        lines.append("SELECT %d, pg_temp.try(:'c', '%s', '%s');" % (n, pid, measure))
    return subprocess.run(['psql', '-X', '-At', '-F', ' ', '--no-psqlrc', '-d', db],
                          input="\n".join(lines), capture_output=True, text=True)


def server_up(db):
    for _ in range(150):
        if subprocess.run(['psql', '-X', '-d', db, '-Atc', 'SELECT 1'], capture_output=True).returncode == 0:
            return True
        subprocess.run(['sleep', '0.2'])
    return False


def main():
    mdir, db = sys.argv[1], sys.argv[2]
    npat = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    measure = json.load(open(os.path.join(mdir, 'measure.json')))['url']
    cases = []
    for f in sorted(glob.glob(os.path.join(mdir, 'tests', '*.json')))[:npat]:
        bundle = json.load(open(f))
        for ei, e in enumerate(bundle.get('entry', [])):
            r = e.get('resource', {})
            if r.get('resourceType') in ('MeasureReport', 'Bundle'):
                continue
            for path in element_paths(r, [], 0):
                for v in VALUES:
                    cases.append((os.path.basename(f), bundle, ei, path, v))
    failures = []
    outcome = {}

    def go(batch, tmp):
        if not server_up(db):
            sys.exit('typefuzz: the server does not come back')
        r = run_batch(db, measure, [(n, mutated(c[1], c[2], c[3], c[4], n)) for n, c in batch], tmp)
        if 'server closed the connection' in r.stderr or 'connection to server was lost' in r.stderr:
            if len(batch) == 1:
                failures.append((batch[0][0], 'crash'))
                return
            go(batch[:len(batch) // 2], tmp)
            go(batch[len(batch) // 2:], tmp)
            return
        for line in r.stdout.splitlines():
            parts = line.split(' ', 1)
            if len(parts) == 2 and parts[0].isdigit():
                outcome[int(parts[0])] = parts[1]
                if parts[1].endswith('XX000'):
                    failures.append((int(parts[0]), parts[1]))

    with tempfile.TemporaryDirectory() as tmp:
        numbered = list(enumerate(cases))
        for i in range(0, len(numbered), 200):
            go(numbered[i:i + 200], tmp)
    for n, what in failures:
        name, bundle, ei, path, v = cases[n]
        print('FAIL %s: %s entry %d (%s) %s = %s' % (what, name, ei,
              bundle['entry'][ei]['resource'].get('resourceType'), path, json.dumps(v)))
    print('%d passed, %d failed' % (len(cases) - len(failures), len(failures)))
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
