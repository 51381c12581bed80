import { aggregateThroughAccumulator, HeldAnswersAccumulator, toFixedPoint } from './aggregation-accumulator';
import { AggregationAccumulator, AggregationAccumulatorOptions, AggregationRule, ClientAgreement, PredictionShape } from './aggregation-rule';
import { combineCoordinatewise, meanRow, writeNormalisedRow } from './prediction-rows';

export interface ReputationOptions {
  /**
   * How much of a client's past the reputation keeps, in [0, 1): reputation = memory x prior +
   * (1 - memory) x this round's agreement (a client's first round: its agreement). Default 0.5.
   */
  memory?: number;
  /**
   * A client is flagged when its reputation is below the round's median reputation by more than
   * `tolerance` robust standard deviations of the upper half (see flaggingBar)... Default 3.
   */
  tolerance?: number;
  /**
   * ...but the allowed gap below the median is kept within [minimumGap, maximumGap] (agreement
   * units): honest clients of a skewed federation disagree too, so never less than minimumGap
   * (default 0.1); a few diverse honest clients make a noisy spread, so never more than maximumGap
   * (default 0.2). Calibrated on full MNIST, dirichlet 0.5, temperature 3 (robustness-table), where
   * honest clients sat within 0.15 of the median and flipping, colluding, scaled and
   * confident-wrong attackers 0.3 to 0.7 below it.
   */
  minimumGap?: number;
  maximumGap?: number;
}

export const REPUTATION_DEFAULTS: Required<ReputationOptions> = { memory: 0.5, tolerance: 3, minimumGap: 0.1, maximumGap: 0.2 };

/** Fewest answers a round needs before anyone can be flagged (a median and its deviation need three). */
export const REPUTATION_MIN_CLIENTS_TO_FLAG = 3;

/**
 * Reputation-weighted aggregation: what a distillation federation knows that a parameter-averaging
 * one does not is every client's answer to the SAME questions, so each client's agreement with
 * the consensus is measurable, and trackable over rounds.
 *
 * Each round: (1) the robust consensus: the clients are ranked by their median agreement with
 * every other client, and the consensus is the coordinate-wise median (rows normalised) of the
 * better-agreeing half (with fewer than half attacking, an honest half); (2) each client's agreement with it, 1 - the mean total-variation distance of its
 * rows to the consensus rows; (3) its reputation, memory x its prior reputation + (1 - memory) x
 * this agreement (the prior comes from the caller: `priorReputations`); (4) a client whose
 * reputation is below the round's median by more than tolerance x the honest half's robust
 * spread, kept within [minimumGap, maximumGap] (flaggingBar), is flagged and gets weight 0; (5) the target is the plain mean of the others' answers (the mean,
 * not the median, so that no information of the honest answers is lost when nobody attacks).
 * Flagging is relative to the round's median, so fewer than half the clients can ever be flagged,
 * and the honest clients' own spread (clients of a skewed partition disagree on classes they never
 * saw) sets the bar. The rule must hold every answer (like median): not under secure aggregation.
 * The result and the agreements do not depend on the order of arrival (answers combined in clientId order).
 */
export class ReputationRule implements AggregationRule {
  readonly name = 'reputation';
  readonly needsIndividualPredictions = true;
  readonly options: Required<ReputationOptions>;

  constructor(options: ReputationOptions = {}) {
    const merged = { ...REPUTATION_DEFAULTS, ...options };
    const { memory, tolerance, minimumGap, maximumGap } = merged;
    if (typeof memory !== 'number' || !(memory >= 0 && memory < 1)) throw new RangeError(`reputation: memory must be a number in [0, 1), got ${String(memory)}`);
    if (typeof tolerance !== 'number' || !(tolerance > 0) || !Number.isFinite(tolerance)) throw new RangeError(`reputation: tolerance must be a positive number, got ${String(tolerance)}`);
    if (typeof minimumGap !== 'number' || !(minimumGap >= 0 && minimumGap <= 1)) throw new RangeError(`reputation: minimumGap must be a number in [0, 1], got ${String(minimumGap)}`);
    if (typeof maximumGap !== 'number' || !(maximumGap >= minimumGap && maximumGap <= 1)) {
      throw new RangeError(`reputation: maximumGap must be a number in [minimumGap (${minimumGap}), 1], got ${String(maximumGap)}`);
    }
    this.options = merged;
  }

  aggregate(predictions: readonly Float32Array[], shape: PredictionShape, weights?: readonly number[], coverage?: readonly Float32Array[]): Float32Array {
    return aggregateThroughAccumulator(this, predictions, shape, weights, coverage);
  }

  accumulator(shape: PredictionShape, options: AggregationAccumulatorOptions = {}): AggregationAccumulator {
    const priors = options.priorReputations ?? new Map<string, number>();
    let evidence: readonly ClientAgreement[] | null = null;
    const held = new HeldAnswersAccumulator(
      this.name,
      shape,
      (answers, checkedShape, clientIds) => {
        const round = aggregateByReputation(answers, clientIds, checkedShape, priors, this.options);
        evidence = round.clients;
        return round.target;
      },
      options,
    );
    return {
      add: (clientId, predictions, weight, coverage) => held.add(clientId, predictions, weight, coverage),
      get count() {
        return held.count;
      },
      get heldMatrices() {
        return held.heldMatrices;
      },
      result: () => held.result(),
      agreements: () => {
        if (evidence === null) throw new Error('reputation: agreements are known once result() has run');
        return evidence;
      },
    };
  }
}

/**
 * One round of the reputation rule on answers given in a fixed order (clientIds[k] sent
 * answers[k]); see ReputationRule. Pure: the same inputs give the same target and evidence.
 */
export function aggregateByReputation(
  answers: readonly Float32Array[],
  clientIds: readonly string[],
  shape: PredictionShape,
  priorReputations: ReadonlyMap<string, number>,
  options: Required<ReputationOptions> = REPUTATION_DEFAULTS,
): { target: Float32Array; clients: ClientAgreement[] } {
  const { n, classes } = shape;
  // The consensus every client is measured against is the coordinate-wise median of the half of
  // the clients that agree best with the others (each client's median agreement with every other
  // one): honest when fewer than half attack, even when 40 % of the answers drag a median of all
  // towards them, or are one identical block (sybils, colluders) that a median of all would adopt.
  const standing = answers.length < REPUTATION_MIN_CLIENTS_TO_FLAG ? null : medianPairwiseAgreement(answers, n, classes);
  const half = standing ? median(Float64Array.from(standing).sort()) : 0;
  const core = standing ? answers.filter((_, k) => standing[k] >= half) : answers;
  const consensus = combineCoordinatewise(core, n, classes, median);
  const agreements = answers.map((p) => agreementWith(p, consensus, n, classes));
  const reputations = agreements.map((a, k) => {
    const prior = priorReputations.get(clientIds[k]);
    return prior === undefined || !Number.isFinite(prior) ? a : options.memory * prior + (1 - options.memory) * a;
  });
  const bar = flaggingBar(reputations, options);
  const weights = reputations.map((r) => (r < bar ? 0 : 1));
  // The kept answers' mean through the running-sum rules' fixed point: exact integer sums, so the
  // target is bit for bit the same whatever the clients' ids (the order the answers are summed in).
  const target = new Float32Array(n * classes);
  const row = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    row.fill(0);
    answers.forEach((p, k) => {
      if (weights[k] === 0) return;
      for (let c = 0; c < classes; c++) row[c] += toFixedPoint(p[i * classes + c]);
    });
    writeNormalisedRow(target, i * classes, row, () => meanRow(answers, i, classes));
  }
  return {
    target,
    clients: clientIds.map((clientId, k) => ({ clientId, agreement: agreements[k], reputation: reputations[k], weight: weights[k], flagged: weights[k] === 0 })),
  };
}

/**
 * The reputation below which a client is flagged: median - tolerance x 1.4826 x s, that gap
 * kept within [minimumGap, maximumGap], where s is the median distance to the median of the reputations at or ABOVE it.
 * The upper half is honest whenever fewer than half the clients attack (attackers disagree, so
 * they sit low), so s measures the honest clients' own spread, which a MAD over everyone would
 * inflate with the attackers themselves (two attackers of five make the plain MAD an honest
 * outlier's distance). -Infinity (nobody) with fewer than REPUTATION_MIN_CLIENTS_TO_FLAG clients.
 */
export function flaggingBar(reputations: readonly number[], options: Required<ReputationOptions> = REPUTATION_DEFAULTS): number {
  if (reputations.length < REPUTATION_MIN_CLIENTS_TO_FLAG) return -Infinity;
  const centre = median(Float64Array.from(reputations).sort());
  const spread = median(Float64Array.from(reputations.filter((r) => r >= centre), (r) => r - centre).sort());
  return centre - Math.min(Math.max(options.tolerance * 1.4826 * spread, options.minimumGap), options.maximumGap);
}

/** Rows of the pairwise comparison: at most this many, evenly spaced (k^2 x rows x C work). */
export const PAIRWISE_ROWS = 200;

/**
 * Each client's median agreement (1 - mean total-variation distance) with every other client, on
 * at most PAIRWISE_ROWS evenly spaced rows. An attacker agrees with its copies but not with the
 * honest majority, so its median is low; an honest client's median is another honest client.
 */
export function medianPairwiseAgreement(answers: readonly Float32Array[], n: number, classes: number): number[] {
  const k = answers.length;
  const step = Math.max(1, Math.floor(n / PAIRWISE_ROWS));
  const rows: number[] = [];
  for (let i = 0; i < n && rows.length < PAIRWISE_ROWS; i += step) rows.push(i);
  const pair = new Float64Array(k * k);
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      let distance = 0;
      for (const i of rows) for (let c = 0; c < classes; c++) distance += Math.abs(answers[a][i * classes + c] - answers[b][i * classes + c]);
      pair[a * k + b] = pair[b * k + a] = 1 - distance / (2 * rows.length);
    }
  }
  return Array.from({ length: k }, (_, a) => median(Float64Array.from({ length: k - 1 }, (_, j) => pair[a * k + (j < a ? j : j + 1)]).sort()));
}

/** 1 - the mean over rows of the total-variation distance (half the L1 distance) between `p` and `consensus`. */
export function agreementWith(p: Float32Array, consensus: Float32Array, n: number, classes: number): number {
  let distance = 0;
  for (let j = 0; j < n * classes; j++) distance += Math.abs(p[j] - consensus[j]);
  return 1 - distance / (2 * n);
}

/** The median of values sorted ascending (the mean of the middle two for an even count). */
function median(sorted: Float64Array): number {
  const k = sorted.length;
  const mid = k >> 1;
  return k % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
