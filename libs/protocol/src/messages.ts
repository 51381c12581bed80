import type { ArchitectureDescription } from '@fedkd/engine';
import type { PublicSetRef } from '@fedkd/data';

/** Bumped on any incompatible change of the events below; checked at the handshake. */
export const PROTOCOL_VERSION = 5;

/**
 * How soft predictions travel: always binary, never JSON number arrays (layouts: prediction-codec.ts).
 * `float32`, `float16`, `uint8` (with a float32 scale per row) send every value; `top-k:K` sends
 * each row's K largest probabilities (float16) with their class indices, and the decoder spreads
 * the remaining mass evenly over the other classes. K is written in decimal without leading zeros
 * (`top-k:2`), an integer in [1, classes - 1]; the type admits any `top-k:${number}`, so check
 * strings from outside with `isPredictionEncoding` / `parsePredictionEncoding` (and the round's
 * classes with `predictionEncodingProblem`).
 */
export type PredictionEncoding = 'float32' | 'float16' | 'uint8' | `top-k:${number}`;

/**
 * The public set a `public` proxy takes rows of: an embedded data set's public split, which every
 * client derives itself from the split seed, or the coordinator's own unlabelled inputs
 * (`--proxy-data`), which a client fetches once (`proxy.fetch`) and checks against `sha256`.
 */
export type { PublicSetRef };

/**
 * Which inputs the teachers are queried on. `public`: rows of a public set (only indices cross
 * the wire, and the set's reference). `synthetic`: inputs every
 * client regenerates from a generator and a seed (data-free mode: only the seed crosses the wire,
 * and for the learned generator its public weights, trained by the coordinator on nothing private;
 * `inputsSha256` lets a client check that it regenerated the coordinator's inputs bit for bit).
 */
export type ProxySpec =
  | { kind: 'public'; set: PublicSetRef; indices: number[] }
  | { kind: 'synthetic'; generator: 'strokes' | 'noise'; seed: number; count: number; inputsSha256: string }
  | { kind: 'synthetic'; generator: 'learned'; seed: number; count: number; weights: Uint8Array; inputsSha256: string }
  /** The coordinator's student-guided generator: the inputs themselves, uint8 pixels (value q / 255), [count x ...inputShape]. */
  | { kind: 'synthetic'; generator: 'student-guided'; seed: number; count: number; inputShape: number[]; pixels: Uint8Array; inputsSha256: string };

/** Largest learned-generator blob a round may carry (the default one is 31 KiB). */
export const MAX_GENERATOR_WEIGHTS_BYTES = 1 << 20;

/** Largest student-guided question a round may carry: 16 MiB of pixels (21,399 inputs of 28x28). */
export const MAX_SENT_PROXY_BYTES = 16 * 1024 * 1024;

/** How many inputs a proxy spec stands for. */
export function proxyInputCount(proxy: ProxySpec): number {
  return proxy.kind === 'public' ? proxy.indices.length : proxy.count;
}

/** Sent by the client in the socket.io handshake (`auth`), checked before any event is accepted. */
export interface HandshakeAuth {
  protocolVersion: number;
  /** Stable client name chosen by the operator (e.g. "hospital-a"). */
  clientName: string;
}

/** Coordinator -> client on connection: a fresh nonce the client must sign in its hello. */
export interface AuthChallenge {
  nonce: Uint8Array;
  /** The federation's task: a client configured with another task stops here (and its hello would be refused). */
  task: { name: string; sha256: string };
}

/** First event after connecting: what the client is, nothing about its data but (optionally) its size. */
export interface HelloMessage {
  /** SHA-256 of the client's task (libs/data's taskSha256); must be the coordinator's. */
  taskSha256: string;
  architecture: ArchitectureDescription;
  /** Number of private samples; only sent when the client's config allows it (needed by `weighted`). */
  sampleCount?: number;
}

/** Proof of identity that travels with the hello (checked before the hello's content is used). */
export interface HelloCredentials {
  /** Ed25519 signature over (nonce, client name, protocol version, timestamp): libs/privacy's handshake proof. */
  proof: { publicKey: Uint8Array; timestamp: number; signature: Uint8Array };
  /** First contact only: the one-time token from `fedkd enroll`, which registers `proof.publicKey`. */
  enrolmentToken?: string;
}

/** What the client emits as `hello`. */
export type HelloEnvelope = HelloMessage & HelloCredentials;

/**
 * Every client message after the hello is signed over (round, event name, sequence number,
 * SHA-512 of the payload): the envelope's two fields sit beside the payload's own.
 */
export interface SignatureEnvelope {
  seq: number;
  signature: Uint8Array;
}

export interface HelloAccepted {
  clientId: string;
  /** Latest published student, so a late joiner catches up at once. */
  latestModel: ModelPublished | null;
}

/** Coordinator -> client: a round is open and asks for soft predictions. */
export interface RoundOpen {
  round: number;
  proxy: ProxySpec;
  temperature: number;
  encoding: PredictionEncoding;
  classes: number;
  /** Epoch milliseconds after which replies are no longer accepted. */
  deadline: number;
  /** Largest accepted predictions payload in bytes for this round. */
  maxPayloadBytes: number;
  /** FedMD digest & revisit: distil from the latest student, then train again on private data. */
  digest: { studentVersion: number; epochs: number } | null;
  /** Local epochs on private data before answering. */
  localEpochs: number;
  /** Present when the round's predictions are summed under secure aggregation (then never sent in the clear). */
  secureAggregation: SecureAggregationSpec | null;
  /** Present when the round asks for differentially private teacher votes instead of soft predictions. */
  privacy: PrivacySpec | null;
  /**
   * Present when the round's rule weighs answers by coverage ('selective'): each client scores
   * every proxy input by how well its own data covers it and sends those weights with its answer
   * (`RoundPredictions.coverage`; under secure aggregation, masked as c * p and c). Never with privacy.
   */
  selection?: SelectionRequest;
}

/**
 * How clients score their coverage of the proxy inputs: a density-ratio selector of own data
 * against the proxy, trained for `epochs`; each input's weight is min(1, odds / oddsScale).
 */
export interface SelectionRequest {
  kind: 'density-ratio';
  epochs: number;
  oddsScale: number;
}

/**
 * A differentially private round (PATE's GNMax): each client sends its teachers' vote counts per
 * proxy input with N(0, sigma^2) added to every count, so that one private example (which moves
 * one teacher's vote: L2 sensitivity sqrt 2) costs RDP alpha / sigma^2 per query; the coordinator
 * releases the argmax of the summed noisy votes. Clients charge that cost to their own ledgers.
 */
export type PrivacySpec = (
  | { mechanism: 'gnmax'; sigma: number }
  /** Answer a query only if the noisy top count (noise sigma1) reaches `threshold`; label by GNMax with sigma2. */
  | { mechanism: 'confident-gnmax'; threshold: number; sigma1: number; sigma2: number }
  /** Each client sends the sum of its teachers' probability rows, each clipped to L2 norm clipNorm, plus N(0, sigma^2). */
  | { mechanism: 'gaussian'; clipNorm: number; sigma: number }
) & { delta: number };

/**
 * Client -> coordinator in a private round: noisy values [n x classes] as float32 little-endian
 * (vote counts, or clipped probability sums); confident-gnmax sends two such blocks (threshold, answer).
 */
export interface RoundVotes {
  round: number;
  n: number;
  classes: number;
  data: Uint8Array;
}

/**
 * How a secure-aggregation round runs (libs/privacy): the masking threshold and neighbour graph,
 * and this client's multiplier of its predictions before masking (1 for `mean`; n_i / scale for
 * `weighted`, so the coordinator learns only the weighted sum).
 */
export interface SecureAggregationSpec {
  threshold: number;
  graph: { kind: 'complete' } | { kind: 'k-regular'; k: number; seed: Uint8Array };
  weight: number;
  /** Fixed-point range of the masked values: [0, 1] x 2^16 for predictions; wider for noisy votes. */
  fixedPoint: { min: number; max: number; fractionalBits: number };
  /** Private rounds: each client adds N(0, sigma^2 / noiseShares) so that the sum of at least that many carries N(0, sigma^2). */
  noiseShares: number;
  /**
   * The coordinator runs with --secagg-unsafe-threshold: the threshold may be half of a client's
   * neighbours or fewer, which lets an equivocating coordinator recover one client's input. A
   * client takes part only if it was started with --secagg-accept-unsafe-threshold itself.
   */
  unsafeThreshold?: boolean;
}

/** One step of the secure-aggregation protocol, wrapped with the round it belongs to. */
export interface SecureAggregationEnvelope {
  round: number;
  /** A libs/privacy secure-aggregation message (its `kind` says which step). */
  message: Record<string, unknown>;
}

/** Client -> coordinator: soft predictions for a round, as binary. */
export interface RoundPredictions {
  round: number;
  encoding: PredictionEncoding;
  n: number;
  classes: number;
  /** n*classes values: float32 LE, float16 LE, or uint8 (then `scales` holds one float32 per row). */
  data: Uint8Array;
  scales?: Uint8Array;
  /** Rounds with `selection`: one coverage weight in [0, 1] per input, float16 little-endian (n x 2 bytes). */
  coverage?: Uint8Array;
}

/** A client declining a round, with a reason (e.g. privacy budget exhausted). */
export interface RoundDeclined {
  round: number;
  reason: string;
}

/** Coordinator -> clients: a new immutable student version. */
export interface ModelPublished {
  version: number;
  round: number;
  /** SHA-256 (hex) of the weights blob. */
  sha256: string;
  /** agreement: the student's argmax against the aggregated targets' on the round's inputs; testAccuracy: on the coordinator's evaluation set, when it has one. */
  metrics: ModelMetrics;
  /** Weight blob of libs/engine (spec, names, shapes, body hash). */
  weights: Uint8Array;
  createdAt: number;
  /** The coordinator's Ed25519 signature over (version, round, sha256, metrics, createdAt). */
  signature: Uint8Array;
}

export interface ModelMetrics {
  agreement: number;
  testAccuracy?: number;
}

/** Client -> coordinator: rows [start, start + count) of the coordinator's public set `sha256`. */
export interface ProxyFetch {
  sha256: string;
  start: number;
  count: number;
}

/** The rows asked for, float32 little-endian [count x ...inputShape]. */
export interface ProxyChunk {
  data: Uint8Array;
}

/** Largest proxy chunk the coordinator sends in one acknowledgement. */
export const MAX_PROXY_CHUNK_BYTES = 4 * 1024 * 1024;

export interface RoundCancelled {
  round: number;
  reason: string;
}

/** Every acknowledgement: a value, or an error code with a reason (handlers never throw at a client). */
export type Ack<T = undefined> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

export type ErrorCode =
  | 'BAD_MESSAGE'
  | 'BAD_SHAPE'
  | 'NOT_FINITE'
  | 'TOO_LARGE'
  | 'STALE_ROUND'
  | 'UNKNOWN_ROUND'
  | 'NOT_INVITED'
  | 'DUPLICATE'
  | 'DEADLINE_PASSED'
  /** The round already closed at its target number of answers: this one was not needed. */
  | 'ROUND_CLOSED'
  | 'NOT_REGISTERED'
  | 'PROTOCOL_VERSION'
  | 'RATE_LIMITED'
  | 'UNAUTHENTICATED'
  | 'BAD_SIGNATURE'
  | 'REPLAY'
  | 'WRONG_ROUND'
  | 'REVOKED'
  | 'TASK_MISMATCH'
  | 'NOT_FOUND'
  | 'INTERNAL';

/** Typed socket.io events (socket.io's documented pattern), shared by both apps. */
export interface ServerToClientEvents {
  'auth.challenge': (message: AuthChallenge) => void;
  'round.open': (message: RoundOpen) => void;
  'round.cancelled': (message: RoundCancelled) => void;
  'model.published': (message: ModelPublished) => void;
  secagg: (message: SecureAggregationEnvelope) => void;
}

export interface ClientToServerEvents {
  hello: (message: HelloEnvelope, ack: (reply: Ack<HelloAccepted>) => void) => void;
  'round.predictions': (message: RoundPredictions & SignatureEnvelope, ack: (reply: Ack) => void) => void;
  'round.declined': (message: RoundDeclined & SignatureEnvelope, ack: (reply: Ack) => void) => void;
  secagg: (message: SecureAggregationEnvelope & SignatureEnvelope, ack: (reply: Ack) => void) => void;
  'round.votes': (message: RoundVotes & SignatureEnvelope, ack: (reply: Ack) => void) => void;
  'proxy.fetch': (message: ProxyFetch, ack: (reply: Ack<ProxyChunk>) => void) => void;
}
