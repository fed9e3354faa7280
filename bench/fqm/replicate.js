#!/usr/bin/env node
/*
 * Replicates the test patients of a measure folder N times with fresh ids, so a
 * throughput figure is not dominated by one-off startup (ELM preparation).
 *
 * Usage: node replicate.js MEASURE_DIR N OUT_DIR
 *
 * Copy k (1..N) of a bundle gets every resource id (the Patient's and the others')
 * suffixed with "-rK"; references and the expected MeasureReport's subject follow,
 * so the copies keep their expected results and can be checked with
 * run_fqm.js --check or loaded into pg_hedis side by side with the originals.
 * The nested copy of the bundle (a Bundle entry) is dropped.
 */
'use strict';

const fs = require('fs');
const path = require('path');

/* every id of the bundle's resources, longest first so no id is a prefix problem */
function resourceIds(bundle) {
  const ids = new Set();
  for (const e of bundle.entry || []) {
    if (e.resource && e.resource.resourceType !== 'Bundle' && e.resource.id) ids.add(e.resource.id);
  }
  return [...ids].sort((a, b) => b.length - a.length);
}

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/* A copy of the bundle whose resource ids (wherever they occur as whole tokens) get suffix. */
function renameBundle(bundle, suffix) {
  const kept = Object.assign({}, bundle, {
    entry: (bundle.entry || []).filter(e => e.resource && e.resource.resourceType !== 'Bundle')
  });
  const ids = resourceIds(kept);
  let text = JSON.stringify(kept);
  if (ids.length > 0) {
    const re = new RegExp(`(?<![A-Za-z0-9.-])(${ids.map(escapeRegExp).join('|')})(?![A-Za-z0-9.-])`, 'g');
    text = text.replace(re, m => m + suffix);
  }
  const copy = JSON.parse(text);
  copy.id = (bundle.id || 'bundle') + suffix;
  return copy;
}

function main(argv) {
  const [measureDir, nText, outDir] = argv.slice(2);
  const n = parseInt(nText, 10);
  if (!measureDir || !outDir || !(n > 0)) {
    process.stderr.write('usage: node replicate.js MEASURE_DIR N OUT_DIR\n');
    return 2;
  }
  fs.mkdirSync(outDir, { recursive: true });
  const testsDir = path.join(measureDir, 'tests');
  const files = fs.readdirSync(testsDir).filter(f => f.endsWith('.json')).sort();
  let written = 0;
  for (const f of files) {
    const bundle = JSON.parse(fs.readFileSync(path.join(testsDir, f), 'utf8'));
    for (let k = 1; k <= n; k++) {
      const copy = renameBundle(bundle, `-r${k}`);
      const patient = copy.entry.find(e => e.resource.resourceType === 'Patient');
      const name = patient ? patient.resource.id : copy.id;
      fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(copy));
      written++;
    }
  }
  process.stderr.write(`${written} patient bundles written to ${outDir}\n`);
  return 0;
}

module.exports = { renameBundle };

if (require.main === module) process.exitCode = main(process.argv);
