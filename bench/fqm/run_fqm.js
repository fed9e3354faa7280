#!/usr/bin/env node
/*
 * fqm-execution baseline for pg_hedis.
 *
 * Runs the reference JavaScript calculator (fqm-execution) over one measure folder
 * of the shared eCQM material (measure.json, valuesets.json, ../libraries/*.json,
 * tests/*.json) and prints, one JSON line per patient, the population counts it
 * computes.  All patients go to Calculator.calculate in one batched call, which is
 * how its maintainers recommend using it.  The CPU time of that call is reported on
 * stderr as patient-evaluations per CPU-second.
 *
 * Usage: node run_fqm.js MEASURE_DIR [options]
 *   --patients PATH   a patient bundle file or a folder of them (repeatable);
 *                     default MEASURE_DIR/tests
 *   --check           compare with the expected MeasureReport in each bundle;
 *                     exit 1 on any difference
 *   --quiet           do not print the per-patient JSON lines
 *   --repeat K        run the batched calculation K times (default 1) and report
 *                     the CPU time of each run (the first includes ELM preparation)
 *   --raw             time Calculator.calculateRaw instead: the CQL execution
 *                     alone, without the clause-level result building that
 *                     calculate always does; no population results, no check
 *
 * The functions are exported too: test/differential reuses them.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { Calculator } = require('fqm-execution');

const PERIOD_START = '2026-01-01';
const PERIOD_END = '2026-12-31';

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/* 'http://x/Library/Name|1.0' -> 'Name' */
function canonicalName(canonical) {
  return canonical.split('|')[0].split('/').pop();
}

/*
 * Measure + the Libraries it needs (the transitive depends-on closure of its main
 * library, matched by name: the relatedArtifact canonicals use another base url
 * than the Library resources) + the ValueSets of valuesets.json.  fqm-execution
 * insists on every value set of every library in the bundle, and valuesets.json
 * holds only this measure's, so unrelated libraries must stay out.
 */
function buildMeasureBundle(measureDir, librariesDir) {
  const libDir = librariesDir || path.join(measureDir, '..', 'libraries');
  const measure = readJson(path.join(measureDir, 'measure.json'));
  const byName = new Map();
  for (const f of fs.readdirSync(libDir).filter(n => n.endsWith('.json')).sort()) {
    const lib = readJson(path.join(libDir, f));
    byName.set(lib.name, lib);
  }
  const entry = [{ resource: measure }];
  const seen = new Set();
  const todo = (measure.library || []).map(canonicalName);
  while (todo.length > 0) {
    const name = todo.pop();
    if (seen.has(name) || !byName.has(name)) continue;
    seen.add(name);
    const lib = byName.get(name);
    entry.push({ resource: lib });
    for (const ra of lib.relatedArtifact || []) {
      if (ra.type === 'depends-on' && ra.resource && ra.resource.includes('/Library/')) todo.push(canonicalName(ra.resource));
    }
  }
  const vs = readJson(path.join(measureDir, 'valuesets.json'));
  for (const e of vs.entry || []) {
    if (e.resource && e.resource.resourceType === 'ValueSet') entry.push({ resource: e.resource });
  }
  return { resourceType: 'Bundle', type: 'collection', entry };
}

function listBundleFiles(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return [p];
  return fs.readdirSync(p).filter(n => n.endsWith('.json')).sort().map(n => path.join(p, n));
}

/*
 * A test bundle holds the patient's data plus the expected MeasureReport and a
 * nested copy of itself (a Bundle entry).  The calculator gets only the data.
 */
function splitTestBundle(bundle) {
  const data = [];
  let expected = null;
  for (const e of bundle.entry || []) {
    const r = e.resource;
    if (!r) continue;
    if (r.resourceType === 'MeasureReport') expected = r;
    else if (r.resourceType !== 'Bundle') data.push({ resource: r });
  }
  const patient = data.find(e => e.resource.resourceType === 'Patient');
  return {
    patientId: patient ? patient.resource.id : null,
    bundle: { resourceType: 'Bundle', id: bundle.id, type: 'collection', entry: data },
    expected
  };
}

/* {code: count} over all groups of a MeasureReport (one group in these measures). */
function reportPopulations(report) {
  const out = {};
  for (const g of (report && report.group) || []) {
    for (const p of g.population || []) {
      const code = p.code && p.code.coding && p.code.coding[0] && p.code.coding[0].code;
      if (code) out[code] = (out[code] || 0) + (p.count || 0);
    }
  }
  return out;
}

function cpuSeconds(u) {
  return (u.user + u.system) / 1e6;
}

/*
 * Runs one batched calculation; returns [{patient, populations}] in input order
 * and the CPU seconds it took.
 */
async function calculate(measureBundle, patientBundles, extraOptions) {
  const options = Object.assign({
    measurementPeriodStart: PERIOD_START,
    measurementPeriodEnd: PERIOD_END,
    calculateSDEs: false,
    calculateHTML: false,
    calculateClauseCoverage: false,
    verboseCalculationResults: false,
    reportType: 'individual'
  }, extraOptions || {});
  const before = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const out = await Calculator.calculate(measureBundle, patientBundles, options);
  const cpu = cpuSeconds(process.cpuUsage(before));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const results = out.results.map(r => {
    const populations = {};
    for (const g of r.detailedResults || []) {
      for (const p of g.populationResults || []) {
        /* boolean-basis measures: a patient is in a population or not */
        populations[p.populationType] = (populations[p.populationType] || 0) + (p.result ? 1 : 0);
      }
    }
    return { patient: r.patientId, populations };
  });
  return { results, cpu, wall, errors: out.withErrors || [] };
}

/* CQL execution only (statement results per patient); returns the CPU seconds. */
async function calculateRawOnly(measureBundle, patientBundles) {
  const options = { measurementPeriodStart: PERIOD_START, measurementPeriodEnd: PERIOD_END };
  const before = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const out = await Calculator.calculateRaw(measureBundle, patientBundles, options);
  const cpu = cpuSeconds(process.cpuUsage(before));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  return { patients: Object.keys(out.results.patientResults || {}).length, cpu, wall };
}

/* Differences between an expected and a computed {code: count}, on the expected codes. */
function diffPopulations(expected, got) {
  const diffs = [];
  for (const code of Object.keys(expected)) {
    const e = expected[code] > 0 ? 1 : 0;
    const g = (got[code] || 0) > 0 ? 1 : 0;
    if (e !== g) diffs.push(`${code} expected ${expected[code]} got ${got[code] === undefined ? 'none' : got[code]}`);
  }
  return diffs;
}

function readCaseNames(measureDir) {
  const names = {};
  const f = path.join(measureDir, 'cases.tsv');
  if (!fs.existsSync(f)) return names;
  const lines = fs.readFileSync(f, 'utf8').split('\n');
  for (const line of lines.slice(1)) {
    const cols = line.split('\t');
    if (cols.length > 1) names[cols[0]] = cols[1];
  }
  return names;
}

async function main(argv) {
  const args = argv.slice(2);
  let measureDir = null;
  const patientPaths = [];
  let check = false, quiet = false, raw = false, repeat = 1;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--patients') patientPaths.push(args[++i]);
    else if (a === '--check') check = true;
    else if (a === '--quiet') quiet = true;
    else if (a === '--raw') raw = true;
    else if (a === '--repeat') repeat = Math.max(1, parseInt(args[++i], 10) || 1);
    else if (!measureDir) measureDir = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  if (!measureDir) {
    process.stderr.write('usage: node run_fqm.js MEASURE_DIR [--patients PATH]... [--check] [--quiet] [--raw] [--repeat K]\n');
    return 2;
  }
  if (patientPaths.length === 0) patientPaths.push(path.join(measureDir, 'tests'));

  const measureBundle = buildMeasureBundle(measureDir);
  const cases = [];
  for (const p of patientPaths) {
    for (const f of listBundleFiles(p)) cases.push(splitTestBundle(readJson(f)));
  }
  const patientBundles = cases.map(c => c.bundle);

  if (raw) {
    for (let k = 0; k < repeat; k++) {
      const r = await calculateRawOnly(measureBundle, patientBundles);
      process.stderr.write(`raw run ${k + 1}: ${r.patients} patients, cpu ${r.cpu.toFixed(3)} s, ` +
        `wall ${r.wall.toFixed(3)} s, ${(r.patients / r.cpu).toFixed(1)} patient-evaluations per cpu-second\n`);
    }
    return 0;
  }

  let run = null;
  for (let k = 0; k < repeat; k++) {
    run = await calculate(measureBundle, patientBundles);
    process.stderr.write(`run ${k + 1}: ${patientBundles.length} patients, cpu ${run.cpu.toFixed(3)} s, ` +
      `wall ${run.wall.toFixed(3)} s, ${(patientBundles.length / run.cpu).toFixed(1)} patient-evaluations per cpu-second\n`);
    for (const e of run.errors) process.stderr.write(`calculation error: ${JSON.stringify(e)}\n`);
  }
  const total = cpuSeconds(process.cpuUsage());
  process.stderr.write(`measure ${path.basename(path.resolve(measureDir))}: process cpu ${total.toFixed(3)} s ` +
    `(including startup and file reading)\n`);

  if (!quiet) {
    for (const r of run.results) process.stdout.write(JSON.stringify(r) + '\n');
  }

  if (!check) return 0;
  const names = readCaseNames(measureDir);
  const byPatient = new Map(run.results.map(r => [r.patient, r.populations]));
  let passed = 0, failed = 0;
  for (const c of cases) {
    if (!c.expected) continue;
    const got = byPatient.get(c.patientId) || {};
    const diffs = diffPopulations(reportPopulations(c.expected), got);
    if (diffs.length === 0) passed++;
    else {
      failed++;
      process.stderr.write(`FAIL ${c.patientId} ${names[c.patientId] || ''}: ${diffs.join('; ')}\n`);
    }
  }
  process.stderr.write(`${passed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}

module.exports = {
  PERIOD_START, PERIOD_END, readJson, buildMeasureBundle, listBundleFiles,
  splitTestBundle, reportPopulations, calculate, calculateRawOnly, diffPopulations, readCaseNames
};

if (require.main === module) {
  main(process.argv).then(code => { process.exitCode = code; },
    err => { process.stderr.write(`${err.stack || err}\n`); process.exitCode = 2; });
}
