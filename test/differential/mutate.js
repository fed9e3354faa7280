#!/usr/bin/env node
/*
 * Differential test data: patients the official decks do not contain, made from
 * the official ones by small deterministic mutations, with the populations that
 * fqm-execution (the reference JavaScript calculator) computes for them.
 *
 * Usage: node mutate.js MEASURE_DIR OUT_DIR [--seed S] [--count N]
 *
 * Writes OUT_DIR/patients/<patient id>.json (one collection Bundle per mutated
 * patient, every resource id fresh: "<original id>-d<seed>x<k>") and
 * OUT_DIR/manifest.tsv with one line per patient:
 *   patient id \t base case name \t mutation \t fqm populations (JSON {code: count})
 * Patients on which fqm-execution reports an error get the JSON {"error": "..."}.
 *
 * Mutations (each patient gets one, chosen by a seeded generator):
 *   shift-resource-days   one resource's dates moved by -1 or +1 day
 *   shift-resource-years  one resource's dates moved by -1 or +1 year
 *   shift-all-days        every clinical resource's dates moved by -1 or +1 day
 *   shift-birthdate       the birth date moved by -1/+1 day or -1/+1 year
 *   to-boundary           one resource moved (its dates together) so that its first
 *                         date falls on a measurement-period edge
 *   drop-resource         one clinical resource removed
 *   duplicate-resource    one clinical resource copied under a new id
 *   swap-code             one resource's code replaced by a code of another value
 *                         set of the same measure
 *   change-status         one resource's status replaced by another valid one
 */
'use strict';

const fs = require('fs');
const path = require('path');
const fqm = require('../../bench/fqm/run_fqm.js');
const { renameBundle } = require('../../bench/fqm/replicate.js');

/* mulberry32: small, deterministic, good enough to pick mutations */
function makeRandom(seed) {
  let a = seed >>> 0;
  return function random() {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick(random, list) {
  return list[Math.floor(random() * list.length)];
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})(T.*)?$/;

function pad(n, w) {
  return String(n).padStart(w, '0');
}

/* Moves a FHIR date or dateTime string by days/years; keeps time of day and offset. */
function shiftDateString(s, days, years) {
  const m = DATE_RE.exec(s);
  if (!m) return s;
  const d = new Date(Date.UTC(parseInt(m[1], 10) + years, parseInt(m[2], 10) - 1, parseInt(m[3], 10) + days));
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}${m[4] || ''}`;
}

/* Every date-shaped string of a resource (not its id, meta or references). */
function forEachDate(node, fn, key) {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      if (typeof node[i] === 'string') {
        if (DATE_RE.test(node[i])) node[i] = fn(node[i]);
      } else forEachDate(node[i], fn, key);
    }
    return;
  }
  if (node === null || typeof node !== 'object') return;
  for (const k of Object.keys(node)) {
    if (k === 'id' || k === 'meta' || k === 'reference' || k === 'birthDate') continue;
    const v = node[k];
    if (typeof v === 'string') {
      if (DATE_RE.test(v)) node[k] = fn(v);
    } else forEachDate(v, fn, k);
  }
}

function datesOf(resource) {
  const out = [];
  forEachDate(JSON.parse(JSON.stringify(resource)), s => { out.push(s); return s; });
  return out;
}

function dayNumber(s) {
  const m = DATE_RE.exec(s);
  return Date.UTC(parseInt(m[1], 10), parseInt(m[2], 10) - 1, parseInt(m[3], 10)) / 86400000;
}

const CODE_KEYS = ['code', 'type', 'medicationCodeableConcept', 'codeCodeableConcept', 'vaccineCode'];

/* The CodeableConcept holding a resource's primary code, or null. */
function primaryConcept(resource) {
  for (const k of CODE_KEYS) {
    let v = resource[k];
    if (Array.isArray(v)) v = v[0];
    if (v && typeof v === 'object' && Array.isArray(v.coding) && v.coding.length > 0) return { key: k, concept: v };
  }
  return null;
}

const STATUSES = {
  Encounter: ['finished', 'in-progress', 'cancelled', 'entered-in-error', 'planned'],
  Condition: null,
  Observation: ['final', 'amended', 'corrected', 'preliminary', 'cancelled', 'entered-in-error'],
  Procedure: ['completed', 'in-progress', 'not-done', 'entered-in-error', 'stopped'],
  MedicationRequest: ['active', 'completed', 'cancelled', 'on-hold', 'entered-in-error', 'stopped'],
  ServiceRequest: ['active', 'completed', 'revoked', 'draft', 'entered-in-error'],
  DeviceRequest: ['active', 'completed', 'revoked', 'draft', 'entered-in-error'],
  Coverage: ['active', 'cancelled', 'draft', 'entered-in-error']
};

/* Codes of every value set of the measure: [{vs, system, code, display}] per value set. */
function valueSetCodes(measureDir) {
  const bundle = fqm.readJson(path.join(measureDir, 'valuesets.json'));
  const sets = [];
  for (const e of bundle.entry || []) {
    const vs = e.resource;
    if (!vs || vs.resourceType !== 'ValueSet') continue;
    const codes = [];
    for (const c of (vs.expansion && vs.expansion.contains) || []) {
      if (c.system && c.code) codes.push({ system: c.system, code: c.code, display: c.display });
    }
    if (codes.length > 0) sets.push({ name: vs.name || vs.url, url: vs.url, codes });
  }
  return sets;
}

function ref(r) {
  return `${r.resourceType}/${r.id}`;
}

/*
 * Applies one mutation to the entries (mutated in place); returns its description
 * or null when the mutation does not apply to this patient.
 */
function mutate(kind, entries, random, ctx) {
  const patient = entries.find(e => e.resource.resourceType === 'Patient');
  const clinical = entries.filter(e => e.resource.resourceType !== 'Patient');
  const dated = clinical.filter(e => datesOf(e.resource).length > 0);
  switch (kind) {
    case 'shift-resource-days':
    case 'shift-resource-years': {
      if (dated.length === 0) return null;
      const r = pick(random, dated).resource;
      const delta = pick(random, [-1, 1]);
      const years = kind === 'shift-resource-years';
      forEachDate(r, s => shiftDateString(s, years ? 0 : delta, years ? delta : 0));
      return `${ref(r)} dates ${delta > 0 ? '+' : ''}${delta} ${years ? 'year' : 'day'}`;
    }
    case 'shift-all-days': {
      if (dated.length === 0) return null;
      const delta = pick(random, [-1, 1]);
      for (const e of dated) forEachDate(e.resource, s => shiftDateString(s, delta, 0));
      return `every clinical resource's dates ${delta > 0 ? '+' : ''}${delta} day`;
    }
    case 'shift-birthdate': {
      if (!patient || !patient.resource.birthDate || !DATE_RE.test(patient.resource.birthDate)) return null;
      const delta = pick(random, [-1, 1]);
      const years = random() < 0.5;
      const before = patient.resource.birthDate;
      patient.resource.birthDate = shiftDateString(before, years ? 0 : delta, years ? delta : 0);
      return `birthDate ${before} -> ${patient.resource.birthDate}`;
    }
    case 'to-boundary': {
      if (dated.length === 0) return null;
      const r = pick(random, dated).resource;
      const first = datesOf(r).sort((a, b) => dayNumber(a) - dayNumber(b))[0];
      const target = pick(random, ctx.boundaries);
      const delta = dayNumber(target) - dayNumber(first);
      if (delta === 0) return null;
      forEachDate(r, s => shiftDateString(s, delta, 0));
      return `${ref(r)} moved ${delta > 0 ? '+' : ''}${delta} days (first date ${first.slice(0, 10)} -> ${target})`;
    }
    case 'drop-resource': {
      if (clinical.length === 0) return null;
      const victim = pick(random, clinical);
      entries.splice(entries.indexOf(victim), 1);
      return `${ref(victim.resource)} dropped`;
    }
    case 'duplicate-resource': {
      if (clinical.length === 0) return null;
      const original = pick(random, clinical).resource;
      const copy = JSON.parse(JSON.stringify(original));
      copy.id = `${original.id}-dup`;
      entries.push({ fullUrl: ref(copy), resource: copy });
      return `${ref(original)} duplicated as ${copy.id}`;
    }
    case 'swap-code': {
      const coded = clinical.filter(e => primaryConcept(e.resource));
      if (coded.length === 0 || ctx.valueSets.length < 2) return null;
      const r = pick(random, coded).resource;
      const pc = primaryConcept(r);
      const before = pc.concept.coding[0];
      /* prefer value sets of the same code system: swaps that stay plausible */
      const sameSystem = ctx.valueSets.filter(v => v.codes.some(c => c.system === before.system));
      const vs = pick(random, sameSystem.length > 1 ? sameSystem : ctx.valueSets);
      const inSystem = vs.codes.filter(c => c.system === before.system);
      const c = pick(random, inSystem.length > 0 ? inSystem : vs.codes);
      pc.concept.coding = [{ system: c.system, code: c.code, display: c.display }];
      return `${ref(r)} ${pc.key} ${before.code} -> ${c.code} (${vs.name})`;
    }
    case 'change-status': {
      const withStatus = clinical.filter(e => STATUSES[e.resource.resourceType] && e.resource.status);
      if (withStatus.length === 0) return null;
      const r = pick(random, withStatus).resource;
      const others = STATUSES[r.resourceType].filter(s => s !== r.status);
      const before = r.status;
      r.status = pick(random, others);
      return `${ref(r)} status ${before} -> ${r.status}`;
    }
    default:
      throw new Error(`unknown mutation ${kind}`);
  }
}

const KINDS = ['shift-resource-days', 'shift-resource-years', 'shift-all-days', 'shift-birthdate',
  'to-boundary', 'drop-resource', 'duplicate-resource', 'swap-code', 'change-status'];

function generate(measureDir, seed, count) {
  const random = makeRandom(seed * 7919 + path.basename(path.resolve(measureDir)).length);
  const names = fqm.readCaseNames(measureDir);
  const files = fqm.listBundleFiles(path.join(measureDir, 'tests'));
  const ctx = {
    valueSets: valueSetCodes(measureDir),
    boundaries: ['2025-12-31', '2026-01-01', '2026-12-31', '2027-01-01']
  };
  const out = [];
  for (let k = 1; out.length < count && k <= count * 5; k++) {
    const file = pick(random, files);
    const base = fqm.splitTestBundle(fqm.readJson(file));
    const entries = JSON.parse(JSON.stringify(base.bundle.entry));
    const kind = pick(random, KINDS);
    const description = mutate(kind, entries, random, ctx);
    if (description === null) continue;
    const suffix = `-d${seed}x${k}`;
    const bundle = renameBundle({ resourceType: 'Bundle', id: `${base.patientId}`, type: 'collection', entry: entries }, suffix);
    out.push({
      patientId: base.patientId + suffix,
      baseCase: names[base.patientId] || base.patientId,
      description: `${kind}: ${description}`,
      bundle
    });
  }
  return out;
}

async function main(argv) {
  const args = argv.slice(2);
  let seed = 1, count = 60;
  const positional = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--seed') seed = parseInt(args[++i], 10);
    else if (args[i] === '--count') count = parseInt(args[++i], 10);
    else positional.push(args[i]);
  }
  const [measureDir, outDir] = positional;
  if (!measureDir || !outDir || !(seed >= 0) || !(count > 0)) {
    process.stderr.write('usage: node mutate.js MEASURE_DIR OUT_DIR [--seed S] [--count N]\n');
    return 2;
  }
  const patients = generate(measureDir, seed, count);
  fs.mkdirSync(path.join(outDir, 'patients'), { recursive: true });
  for (const p of patients) {
    fs.writeFileSync(path.join(outDir, 'patients', `${p.patientId}.json`), JSON.stringify(p.bundle));
  }

  const measureBundle = fqm.buildMeasureBundle(measureDir);
  const byPatient = new Map();
  const errors = new Map();
  let cpu = 0;
  try {
    const run = await fqm.calculate(measureBundle, patients.map(p => p.bundle));
    for (const r of run.results) byPatient.set(r.patient, r.populations);
    cpu = run.cpu;
  } catch (batchError) {
    /* one patient broke the batch: calculate them one by one to isolate it */
    for (const p of patients) {
      try {
        const run = await fqm.calculate(measureBundle, [p.bundle]);
        for (const r of run.results) byPatient.set(r.patient, r.populations);
        cpu += run.cpu;
      } catch (e) {
        errors.set(p.patientId, e.message || String(e));
      }
    }
  }
  const clean = s => String(s).replace(/[\t\n\r]/g, ' ');
  const lines = patients.map(p => {
    let result = byPatient.get(p.patientId);
    if (errors.has(p.patientId) || result === undefined) {
      result = { error: errors.get(p.patientId) || 'fqm-execution returned no result' };
    }
    return [p.patientId, clean(p.baseCase), clean(p.description), JSON.stringify(result)].join('\t');
  });
  fs.writeFileSync(path.join(outDir, 'manifest.tsv'), lines.join('\n') + '\n');
  process.stderr.write(`${path.basename(path.resolve(measureDir))}: ${patients.length} mutated patients, ` +
    `fqm-execution cpu ${cpu.toFixed(2)} s\n`);
  return 0;
}

module.exports = { generate, shiftDateString, mutate, makeRandom };

if (require.main === module) {
  main(process.argv).then(code => { process.exitCode = code; },
    err => { process.stderr.write(`${err.stack || err}\n`); process.exitCode = 2; });
}
