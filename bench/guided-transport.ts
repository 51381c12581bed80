/**
 * How a student-guided round's question could reach the clients, measured: (a) the coordinator
 * sends the inputs, uint8 (what fedkd does), or (b) it sends the generator's weights and a seed and
 * every client regenerates the inputs (as the learned generator's clients do). Bytes per client
 * and per round, and the compute each costs a client, at the default generator and a round of
 * --count inputs. Prints a table, or JSON with --json.
 *
 *   npm run -s bench:guided-transport [-- --count 2000] [-- --json]
 */
import { buildModel, initBackend, MLP_SPEC } from '@fedkd/engine';
import { dequantiseInputs } from '@fedkd/data';
import { buildStudentGuidedGenerator, generateQuantisedInputs, makeStudentGuidedInputs, STUDENT_GUIDED_DEFAULTS } from '@fedkd/distill';

function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

async function main(): Promise<void> {
  await initBackend({ log: () => undefined });
  const count = Number(flag('count', '2000'));
  if (!Number.isInteger(count) || count < 10) throw new Error(`--count must be an integer >= 10, got ${flag('count', '')}`);
  const options = STUDENT_GUIDED_DEFAULTS;
  const generator = buildStudentGuidedGenerator([28, 28, 1], 10, options, 0);
  const student = buildModel(MLP_SPEC, 0);
  const timed = <T>(fn: () => T): [T, number] => {
    const started = performance.now();
    const value = fn();
    return [value, performance.now() - started];
  };
  // Warm the kernels once.
  generateQuantisedInputs(generator, 10, options.latent, 64, 1);
  const [sent] = timed(() => makeStudentGuidedInputs(generator, [student], 10, options, count, 2));
  const [, decodeMs] = timed(() => dequantiseInputs(sent.pixels, sent.inputShape));
  const [, regenerateMs] = timed(() => makeStudentGuidedInputs(generator, [student], 10, options, count, 2));
  const weightBytes = generator.getWeights().reduce((n, w) => n + 4 * w.size, 0);
  const rows = [
    { transport: 'send the inputs (uint8)', bytesPerClient: sent.pixels.byteLength, clientMs: decodeMs, note: 'any runtime; nothing to check but the digest' },
    {
      transport: `send the generator (float32) + seed; clients regenerate (${options.candidates}x candidates, entropy selection on the student)`,
      bytesPerClient: weightBytes,
      clientMs: regenerateMs,
      note: 'bit-identical only on the same TF.js backend and build: a client on another backend would decline every round',
    },
  ];
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ count, generator: { latent: options.latent, width: options.width, parameters: generator.countParams() }, rows }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`student-guided question of ${count} inputs of 28x28, default generator (${generator.countParams().toLocaleString('en')} parameters)\n\n`);
  process.stdout.write('| transport | bytes per client per round | client compute | note |\n|---|---|---|---|\n');
  for (const r of rows) process.stdout.write(`| ${r.transport} | ${(r.bytesPerClient / 1024).toFixed(0)} KiB | ${r.clientMs.toFixed(0)} ms | ${r.note} |\n`);
  generator.dispose();
  student.dispose();
}

void main().catch((error: unknown) => {
  process.stderr.write(`bench:guided-transport: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
