/** The JSON report of `fedkd simulate` and its table. */
import type { GeneratorStepReport, StudentGuidedReport } from '@fedkd/distill';

/** A private round's privacy metrics, as the coordinator stores them. */
export interface RoundPrivacy {
  mechanism?: string;
  sigma?: number;
  threshold?: number;
  sigma1?: number;
  sigma2?: number;
  delta: number;
  queries: number;
  roundEpsilon: number;
  cumulativeEpsilonByClient: Record<string, number>;
  releaseEpsilon: number;
}
/** A generator round's metrics (GET /rounds/:n metrics.generator): the learned generator's step, or the student-guided generator's training with the ensemble's agreement. */
export type RoundGeneratorMetrics = GeneratorStepReport | (StudentGuidedReport & { intendedClassAgreement: number });

export interface SimulationReport {
  config: Record<string, unknown>;
  backend: string;
  rounds: {
    round: number;
    state: string;
    reason: string | null;
    studentAccuracy: number | null;
    /** SHA-256 of the student published by the round (null if it published none). */
    studentSha256: string | null;
    invited: number;
    answered: number;
    declined: number;
    otherOutcomes: string[];
    bytesUploadedPerClient: Record<string, number>;
    wallSeconds: number;
    /** The coordinator's phase timings of the round (milliseconds). */
    timings: Record<string, number>;
    /** What the answering clients spent on the round, from their own reports. */
    clientComputeSeconds: { median: number; max: number } | null;
    privacy: RoundPrivacy | null;
    /** Teacher queries of the round: proxy inputs x clients that answered. */
    queries: number;
    /** Bytes of the round's question that define its inputs (the learned generator's weights; 0 for a seed alone). */
    proxyBytesPerClient: number;
    /** Learned or student-guided generator rounds: how the generator trained and how the ensemble answered its inputs. */
    generator: RoundGeneratorMetrics | null;
  }[];
  clients: { name: string; samples: number; localOnlyAccuracy: number }[];
  /** In-memory transport: bytes of every message each way over the run (socket.io framing included). */
  transportBytes: { up: number; down: number } | null;
  /** In-memory transport: the coordinator process's resident memory after the rounds. */
  coordinatorRssBytes: number | null;
  centralised: { testAccuracy: number; epochs: number; seconds: number } | null;
  /** The clients' initial teachers aggregated by the round's rule: the student's reference ceiling. */
  teacherEnsemble: { testAccuracy: number; teachers: number } | null;
  fedavg: {
    rounds: { round: number; testAccuracy: number; bytesUploadedPerClient: number[]; seconds: number }[];
    localEpochs: number;
  } | null;
  /** With --secure-agg: its cost per client per round, beside what the plain round uploads. */
  secureAggregation: { round: number; clients: number; bytesPerClient: number; cryptoMsPerClient: number; plainBytesPerClient: number }[] | null;
  /** Bytes each client uploaded over the whole run, averaged over all the federation's clients (sampled or not). */
  uploadPerClientOverRun: { fedkd: number; fedavg: number | null };
  finalStudentAccuracy: number | null;
  /** With --attackers, or under a reputation rule: who attacked and whom the rule flagged, with its evidence. */
  robustness: {
    attack: string | null;
    fraction: number;
    /** Names of the attacking clients (deterministic from the seed). */
    attackers: string[];
    /** sybil: the attacker whose teacher every sybil identity answers with. */
    sybilOf: string | null;
    /** Clients the reputation rule flagged in at least one round. */
    flagged: { name: string; attacker: boolean; flaggedRounds: number[]; reputation: number; history: { round: number; agreement: number; reputation: number; weight: number; flagged: boolean }[] }[];
  } | null;
  wallSeconds: number;
}

/** Total upload of a run's rounds spread over the federation's `clients`: what one client sends over the run, on average. */
export function uploadPerClientOverRun(rounds: { bytes: number[] }[], clients: number): number {
  return rounds.reduce((sum, r) => sum + r.bytes.reduce((a, b) => a + b, 0), 0) / clients;
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '   -  ' : (x * 100).toFixed(2).padStart(6));
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

export function formatReportTable(report: SimulationReport): string {
  const lines: string[] = [];
  lines.push('round | fedkd student | answered | queries (total) | fedkd upload/client | FedAvg acc | FedAvg upload/client | round wall');
  lines.push('------|---------------|----------|-----------------|---------------------|------------|----------------------|-----------');
  let totalQueries = 0;
  for (const r of report.rounds) {
    totalQueries += r.queries;
    const fedavg = report.fedavg?.rounds.find((f) => f.round === r.round);
    const uploads = Object.values(r.bytesUploadedPerClient);
    lines.push(
      [
        String(r.round).padStart(5),
        `${pct(r.studentAccuracy)} %${r.state === 'published' ? '' : ` (${r.state})`}`.padEnd(13),
        `${r.answered}/${r.invited}`.padStart(8),
        `${r.queries} (${totalQueries})`.padStart(15),
        kib(mean(uploads)).padStart(19),
        fedavg ? `${pct(fedavg.testAccuracy)} %`.padStart(10) : '-'.padStart(10),
        fedavg ? kib(mean(fedavg.bytesUploadedPerClient)).padStart(20) : '-'.padStart(20),
        `${r.wallSeconds.toFixed(1)} s`.padStart(9),
      ].join(' | '),
    );
  }
  lines.push('');
  for (const c of report.clients.filter((c) => Number.isFinite(c.localOnlyAccuracy))) {
    lines.push(`local-only ${c.name.padEnd(10)} ${pct(c.localOnlyAccuracy)} %  (${c.samples} private samples)`);
  }
  if (report.teacherEnsemble) lines.push(`teacher ensemble (the ${report.teacherEnsemble.teachers} initial teachers, same rule) ${pct(report.teacherEnsemble.testAccuracy)} %`);
  for (const r of report.rounds.filter((r) => r.generator)) {
    const g = r.generator!;
    lines.push(
      'answeredClasses' in g
        ? `learned generator round ${r.round}: ${kib(r.proxyBytesPerClient)} of weights to each client; ensemble agrees with the intended class on ${pct(g.intendedClassAgreement)} % of inputs, classes answered ${g.answeredClasses.join('/')}`
        : `student-guided generator round ${r.round}: ${g.steps} steps in ${g.seconds.toFixed(1)} s, ${kib(r.proxyBytesPerClient)} of inputs to each client; student agrees with the intended class on ${pct(g.studentAgreement)} %, ensemble on ${pct(g.intendedClassAgreement)} % of inputs`,
    );
  }
  if (report.centralised) lines.push(`centralised (student architecture, whole private pool) ${pct(report.centralised.testAccuracy)} %`);
  if (report.fedavg) lines.push(`FedAvg final (${report.fedavg.rounds.length} rounds, ${report.fedavg.localEpochs} local epochs) ${pct(report.fedavg.rounds.at(-1)?.testAccuracy)} %`);
  for (const r of report.rounds.filter((r) => r.privacy)) {
    const p = r.privacy!;
    const noise = p.mechanism === 'confident-gnmax' ? `Confident-GNMax threshold ${p.threshold}, sigma1 ${p.sigma1}, sigma2 ${p.sigma2}` : `${p.mechanism ?? 'gnmax'} sigma ${p.sigma}`;
    lines.push(`privacy round ${r.round}: ${noise}, ${p.queries} queries, epsilon ${p.roundEpsilon.toFixed(2)} this round, release ${p.releaseEpsilon.toFixed(2)} cumulative (delta ${p.delta}, data-independent)`);
  }
  for (const s of report.secureAggregation ?? []) {
    lines.push(
      `secure aggregation round ${s.round}: ${kib(s.bytesPerClient)} and ${s.cryptoMsPerClient} ms of cryptography per client (plain upload ${kib(s.plainBytesPerClient)})`,
    );
  }
  const robustness = report.robustness;
  if (robustness) {
    if (robustness.attack) lines.push(`attack ${robustness.attack}: ${robustness.attackers.join(', ')}${robustness.sybilOf ? ` (identities of one attacker, ${robustness.sybilOf})` : ''}`);
    lines.push(
      `flagged by reputation: ${robustness.flagged.length ? robustness.flagged.map((f) => `${f.name}${f.attacker ? ' (attacker)' : ' (honest)'} in round${f.flaggedRounds.length > 1 ? 's' : ''} ${f.flaggedRounds.join(', ')}`).join('; ') : 'none'}`,
    );
  }
  const upload = report.uploadPerClientOverRun;
  lines.push(
    `upload per client over the run: fedkd ${kib(upload.fedkd)}` +
      (upload.fedavg !== null ? `, FedAvg ${kib(upload.fedavg)} (fedkd ${((100 * upload.fedkd) / upload.fedavg).toFixed(2)} % of it)` : ''),
  );
  lines.push(`fedkd final student ${pct(report.finalStudentAccuracy)} %   (backend ${report.backend}, ${report.wallSeconds.toFixed(0)} s in all)`);
  return lines.join('\n');
}
