/**
 * What secure aggregation against an active coordinator costs one client, step by step: one
 * in-memory round of the libs/privacy protocol (signed advertisements, share commitments, the
 * consistency round) with every client honest and none dropping, per graph shape. Prints a table,
 * or JSON with --json.
 *
 *   npm run -s bench:secagg [-- --json] [-- --vector 4000]
 */
import { generateIdentity, SecureAggregationClient, SecureAggregationServer, majorityThreshold, type Ed25519KeyPair, type SecureAggregationParameters } from '@fedkd/privacy';
import { binaryBytesIn } from '@fedkd/protocol';

interface Row {
  clients: number;
  graph: string;
  threshold: number;
  /** Mean milliseconds per client, by step. */
  clientMs: Record<string, number>;
  clientMsTotal: number;
  /** Mean binary bytes a client sends (all its messages). */
  clientBytesSent: number;
  serverUnmaskMs: number;
}

async function measure(n: number, degree: number | null, vectorLength: number): Promise<Row> {
  const ids = Array.from({ length: n }, (_, i) => `client-${String(i).padStart(3, '0')}`);
  const neighbours = degree ?? n - 1;
  const threshold = majorityThreshold(neighbours);
  const parameters: SecureAggregationParameters = {
    roundId: 1,
    vectorLength,
    threshold,
    graph: degree === null ? { kind: 'complete' } : { kind: 'k-regular', k: degree, seed: Uint8Array.of(1) },
  };
  const federation = generateIdentity();
  const identities = new Map<string, Ed25519KeyPair>(ids.map((id) => [id, generateIdentity()]));
  const server = new SecureAggregationServer(parameters, { federationId: federation.publicKey, identityKeyOf: (id) => identities.get(id)?.publicKey });
  const clients = ids.map((id) => new SecureAggregationClient(id, parameters, { identity: identities.get(id)!, federationId: federation.publicKey }));
  const ms: Record<string, number> = {};
  let bytes = 0;
  const sent = <T extends object>(message: T): T => {
    bytes += binaryBytesIn(message as Record<string, unknown>);
    return message;
  };
  const timed = async <T>(step: string, work: () => T | Promise<T>): Promise<T> => {
    const start = performance.now();
    const result = await work();
    ms[step] = (ms[step] ?? 0) + performance.now() - start;
    return result;
  };
  const input = new Float32Array(vectorLength).fill(0.25);
  for (const c of clients) server.receiveAdvertisement(sent(await timed('advertise', () => c.advertiseKeys())));
  const directory = server.closeAdvertisement();
  for (const c of clients) server.receiveShareKeys(sent(await timed('share keys', () => c.shareKeys(directory))));
  server.closeShareKeys();
  for (const c of clients) {
    await timed('mask input', () => c.acceptSealedShares(server.sealedSharesFor(c.clientId)));
    server.receiveMaskedInput(sent(await timed('mask input', () => c.maskInput(input))));
  }
  server.closeMaskedInput();
  for (const c of clients) server.receiveConsistencySignature(sent(await timed('sign view', () => c.signSurvivorView(server.consistencyCheckFor(c.clientId)))));
  server.closeConsistencyCheck();
  for (const c of clients) server.receiveUnmaskResponse(sent(await timed('unmask', () => c.unmask(server.unmaskRequestFor(c.clientId)))));
  const start = performance.now();
  await server.unmask();
  const serverUnmaskMs = performance.now() - start;
  const round2 = (v: number): number => Math.round(v * 100) / 100;
  const clientMs = Object.fromEntries(Object.entries(ms).map(([step, total]) => [step, round2(total / n)]));
  return {
    clients: n,
    graph: degree === null ? 'complete' : `${degree}-regular`,
    threshold,
    clientMs,
    clientMsTotal: round2(Object.values(ms).reduce((a, b) => a + b, 0) / n),
    clientBytesSent: Math.round(bytes / n),
    serverUnmaskMs: round2(serverUnmaskMs),
  };
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const at = process.argv.indexOf('--vector');
  const vectorLength = at > 0 ? Number(process.argv[at + 1]) : 400;
  if (!Number.isInteger(vectorLength) || vectorLength < 1) throw new Error(`--vector must be a positive integer, got ${process.argv[at + 1]}`);
  const rows: Row[] = [];
  for (const [n, degree] of [[10, null], [30, null], [100, 6], [100, 10]] as const) rows.push(await measure(n, degree, vectorLength));
  if (json) {
    process.stdout.write(`${JSON.stringify({ vectorLength, rows }, null, 2)}\n`);
    return;
  }
  const steps = ['advertise', 'share keys', 'mask input', 'sign view', 'unmask'];
  process.stdout.write(`secure aggregation, one round, vector of ${vectorLength} values, no dropouts; mean per client\n`);
  process.stdout.write(`| clients | graph | t | ${steps.map((s) => `${s} ms`).join(' | ')} | total ms | bytes sent | server unmask ms |\n`);
  process.stdout.write(`|---|---|---|${steps.map(() => '---').join('|')}|---|---|---|\n`);
  for (const r of rows) {
    process.stdout.write(`| ${r.clients} | ${r.graph} | ${r.threshold} | ${steps.map((s) => r.clientMs[s] ?? 0).join(' | ')} | ${r.clientMsTotal} | ${r.clientBytesSent} | ${r.serverUnmaskMs} |\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:secagg: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
