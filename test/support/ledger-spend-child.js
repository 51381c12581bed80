// A process of one client spending from its privacy ledger (test/privacy-ledger-lock.spec.ts):
// loads the ledger, says "ready", waits for "go" on stdin, charges one round, prints the outcome as JSON.
// argv: <ledger path> <round> <epsilonMax> <rdp JSON>
'use strict';
const path = require('node:path');
const { PrivacyLedger } = require(path.join(__dirname, '../../dist/libs/privacy/src/differential-privacy/ledger'));

const [file, round, epsilonMax, rdp] = process.argv.slice(2);
const ledger = PrivacyLedger.load(file);
process.stdout.write('ready\n');
process.stdin.once('data', () => {
  let outcome;
  try {
    outcome = ledger.charge(Number(round), JSON.parse(rdp), { mechanism: 'gnmax', queries: 10, answered: 10, delta: 1e-5, epsilonMax: Number(epsilonMax) });
  } catch (error) {
    outcome = { ok: false, code: error.code, reason: error.message };
  }
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
  process.exit(0);
});
