import { SeededRng, type ModelSpec } from '@fedkd/engine';
import { createAggregationRule, type AggregationRule, type AggregationRuleSpec } from '@fedkd/distill';
import type { PredictionEncoding, ProxySpec, RoundOpen } from '@fedkd/protocol';

export interface ConnectedClient {
  clientId: string;
  name: string;
  architecture: ModelSpec;
  sampleCount: number | null;
}

/** One client's validated answer, decoded to probabilities [n x classes]. */
export interface ClientReply {
  clientId: string;
  predictions: Float32Array;
}

/** What a round asks, minus its deadline (set when it is sent). */
export type RoundRequest = Omit<RoundOpen, 'deadline'>;

export interface RoundPlan {
  participants: ConnectedClient[];
  request: RoundRequest;
}

/**
 * The Strategy seam (DESIGN.md, after Flower): configure a round from the connected clients and
 * the last model; aggregate its replies into a training target. Pure: no sockets, no storage.
 */
export interface Strategy {
  configureRound(round: number, clients: readonly ConnectedClient[], latestStudentVersion: number | null): RoundPlan;
  aggregate(replies: readonly ClientReply[], participants: readonly ConnectedClient[]): Float32Array;
}

export interface DistillationStrategyOptions {
  splitSeed: number;
  /** Public proxy rows asked each round (indices into the public split). */
  proxyIndices: number[];
  temperature: number;
  encoding: PredictionEncoding;
  classes: number;
  participation: number;
  aggregation: AggregationRuleSpec;
  localEpochs: number;
  digestEpochs: number;
  maxPayloadBytes: (n: number, classes: number, encoding: PredictionEncoding) => number;
}

/** Federated distillation on a public proxy set: ask soft predictions, aggregate by a named rule. */
export class PublicProxyDistillationStrategy implements Strategy {
  private readonly rule: AggregationRule;

  constructor(private readonly options: DistillationStrategyOptions) {
    this.rule = createAggregationRule(options.aggregation);
  }

  configureRound(round: number, clients: readonly ConnectedClient[], latestStudentVersion: number | null): RoundPlan {
    const { participation, proxyIndices, classes, encoding } = this.options;
    const invited = Math.max(1, Math.ceil(clients.length * participation));
    const order = new SeededRng(this.options.splitSeed).fork(`participants-${round}`).permutation(clients.length);
    const participants = order.slice(0, invited).map((i) => clients[i]);
    const proxy: ProxySpec = { kind: 'public', splitSeed: this.options.splitSeed, indices: proxyIndices };
    return {
      participants,
      request: {
        round,
        proxy,
        temperature: this.options.temperature,
        encoding,
        classes,
        maxPayloadBytes: this.options.maxPayloadBytes(proxyIndices.length, classes, encoding),
        digest:
          latestStudentVersion !== null && this.options.digestEpochs > 0
            ? { studentVersion: latestStudentVersion, epochs: this.options.digestEpochs }
            : null,
        localEpochs: this.options.localEpochs,
      },
    };
  }

  aggregate(replies: readonly ClientReply[], participants: readonly ConnectedClient[]): Float32Array {
    const shape = { n: this.options.proxyIndices.length, classes: this.options.classes };
    const predictions = replies.map((r) => r.predictions);
    if (this.rule.name !== 'weighted') return this.rule.aggregate(predictions, shape);
    const counts = replies.map((r) => participants.find((p) => p.clientId === r.clientId)?.sampleCount ?? null);
    const missing = replies.filter((_, i) => counts[i] === null).map((r) => r.clientId);
    if (missing.length > 0) {
      throw new Error(`weighted aggregation needs sample counts, but ${missing.join(', ')} did not share theirs`);
    }
    return this.rule.aggregate(predictions, shape, counts as number[]);
  }
}
