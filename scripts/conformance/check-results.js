// check-results.js — second opinion on one conformance run, from its saved checks.json files.
//
// usage: node check-results.js RESULTS_DIR BASELINE_YML LABEL
//   (needs the `yaml` package, which the conformance suite installs next to itself; NODE_PATH points there)
//
// For every scenario directory (server-<scenario>-<timestamp>/checks.json) in RESULTS_DIR:
//   - a scenario with no FAILURE check passed; if it is in the baseline, that is reported (the suite's
//     own --expected-failures check also fails the run on it);
//   - a failing scenario must be in the baseline, and EVERY failing check in it must have an
//     errorMessage matching the baseline's `reasons.<scenario>.expect` regex, so a baselined scenario
//     that starts failing for another reason (crash, HTTP 500, invalid schema) fails the run.
// Also counts `wire-schema-valid` checks (0.2.x validates every message we sent against the official
// JSON Schema). Prints one line per problem and a summary line; exit 1 on any problem.
'use strict';
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

const [dir, baselinePath, label = 'conformance'] = process.argv.slice(2);
const baseline = YAML.parse(fs.readFileSync(baselinePath, 'utf8')) || {};
const listed = new Set((baseline.server || []).map(String));
const reasons = baseline.reasons || {};
for (const s of listed) {
  if (!reasons[s] || !reasons[s].expect || !reasons[s].why) {
    console.log(`PROBLEM baseline entry ${s} has no reasons.${s}.why/expect`);
    process.exitCode = 1;
  }
}

const dirs = fs.readdirSync(dir).filter((d) => fs.existsSync(path.join(dir, d, 'checks.json')));
if (dirs.length === 0) {
  console.log(`PROBLEM no checks.json under ${dir}`);
  process.exit(1);
}
let passed = 0, baselined = 0, problems = 0, schemaOk = 0, schemaBad = 0, checksOk = 0, checksBad = 0;
for (const d of dirs.sort()) {
  const scenario = d.replace(/^server-/, '').replace(/-\d{4}-\d\d-\d\dT[\d-]+Z$/, '');
  const checks = JSON.parse(fs.readFileSync(path.join(dir, d, 'checks.json'), 'utf8'));
  const failures = checks.filter((c) => c.status === 'FAILURE');
  for (const c of checks) {
    if (c.status === 'SUCCESS') checksOk++;
    if (c.status === 'FAILURE') checksBad++;
    if (c.id === 'wire-schema-valid') c.status === 'SUCCESS' ? schemaOk++ : schemaBad++;
  }
  if (failures.length === 0) {
    passed++;
    if (listed.has(scenario)) {
      problems++;
      console.log(`PROBLEM ${scenario}: passes but is in the baseline (remove it from ${path.basename(baselinePath)})`);
    }
    continue;
  }
  if (!listed.has(scenario)) {
    problems++;
    for (const c of failures) console.log(`PROBLEM ${scenario}: unexpected failure of ${c.id}: ${c.errorMessage || c.description}`);
    continue;
  }
  baselined++;
  const re = new RegExp(reasons[scenario] ? reasons[scenario].expect : '^$');
  for (const c of failures) {
    if (!re.test(c.errorMessage || '')) {
      problems++;
      console.log(`PROBLEM ${scenario}: baselined, but ${c.id} failed for another reason than /${re.source}/: ${c.errorMessage || c.description}`);
    }
  }
}
console.log(`${label}: ${passed} scenarios passed, ${baselined} baselined (expected failures, reasons verified), ` +
  `${problems} problems; checks: ${checksOk} passed, ${checksBad} failed; wire-schema-valid: ${schemaOk} passed, ${schemaBad} failed`);
if (problems > 0) process.exitCode = 1;
