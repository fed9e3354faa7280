#!/usr/bin/env node
/*
 * Patient data for bench/run.sh: every test patient of every measure folder,
 * the original (copy 0) and N copies with fresh ids (replicate.js renameBundle:
 * copy k gets the suffix "-rK"), written as ONE file that PostgreSQL's COPY reads:
 *
 *   measure_name \x02 copy \x02 patient_id \x02 bundle_json \n
 *
 * (FORMAT csv, DELIMITER E'\x02', QUOTE E'\x01': JSON text never holds a raw
 * control character, so no escaping is needed).  The nested copy of each test
 * bundle is dropped, the expected MeasureReport is kept (the loader ignores it
 * like any resource of another type it does not evaluate).
 *
 * Usage: node prepare.js ECQM_DIR N OUT_FILE
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { renameBundle } = require('./replicate.js');

function main(argv) {
  const [ecqm, nText, outFile] = argv.slice(2);
  const n = parseInt(nText, 10);
  if (!ecqm || !outFile || !(n >= 0)) {
    process.stderr.write('usage: node prepare.js ECQM_DIR N OUT_FILE\n');
    return 2;
  }
  const out = fs.openSync(outFile, 'w');
  let written = 0;
  for (const dir of fs.readdirSync(ecqm).sort()) {
    const mdir = path.join(ecqm, dir);
    if (!fs.existsSync(path.join(mdir, 'measure.json'))) continue;
    const measure = JSON.parse(fs.readFileSync(path.join(mdir, 'measure.json'), 'utf8')).name;
    const tests = path.join(mdir, 'tests');
    for (const f of fs.readdirSync(tests).filter(x => x.endsWith('.json')).sort()) {
      const bundle = JSON.parse(fs.readFileSync(path.join(tests, f), 'utf8'));
      for (let k = 0; k <= n; k++) {
        const copy = k === 0
          ? Object.assign({}, bundle, { entry: (bundle.entry || []).filter(e => e.resource && e.resource.resourceType !== 'Bundle') })
          : renameBundle(bundle, `-r${k}`);
        const patient = copy.entry.find(e => e.resource.resourceType === 'Patient');
        if (!patient) continue;
        fs.writeSync(out, `${measure}\x02${k}\x02${patient.resource.id}\x02${JSON.stringify(copy)}\n`);
        written++;
      }
    }
  }
  fs.closeSync(out);
  process.stderr.write(`${written} patient bundles written to ${outFile}\n`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv);
