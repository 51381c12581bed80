import nacl from 'tweetnacl';

import { encodeCanonicalPayload, canonicalPayloadBytes } from './canonical-payload';
import { assertPublicKey, assertSecretKey, SIGNATURE_BYTES } from './ed25519-keys';
import { refuse, succeed, type IdentityResult } from './identity-result';
import { sha512 } from './sha512';
import { isUint, SigningBytesBuilder } from './signing-bytes';

/**
 * Every client-to-coordinator message is signed with the client's key over
 *
 *   field("fedkd/message/v2") || field(federation: the coordinator's 32-byte public key)
 *   || field(round: uint) || field(type: UTF-8) || field(seq: uint)
 *   || field(SHA-512(canonicalPayloadBytes(payload)): 64 bytes)
 *
 * (framing in signing-bytes.ts, payload encoding in canonical-payload.ts). The signature binds the
 * message to its federation (a client enrolled with two coordinators cannot have its messages
 * replayed from one to the other: the client signs with the key it pinned, each coordinator
 * verifies with its own), to its round (no replay into another round), to its type (a signed
 * `round.declined` cannot be presented as another event) and to a sequence number (no replay
 * within the round).
 * The sender is not in the signed bytes: it is bound by its key, and the coordinator names the
 * sender from the authenticated connection, not from the message.
 */
export const MESSAGE_DOMAIN_TAG = 'fedkd/message/v2';

export interface UnsignedMessage {
  round: number;
  /** The event name, e.g. `round.predictions`. */
  type: string;
  /** Strictly increasing per client within a round (gaps allowed). */
  seq: number;
  payload: unknown;
}

export interface SignedMessage extends UnsignedMessage {
  signature: Uint8Array;
}

/**
 * The signed bytes of a message to the federation whose coordinator has public key `federation`;
 * throws for a round/seq that is not a non-negative integer, an unencodable payload or a
 * federation key that is not 32 bytes.
 */
export function messageSigningBytes(message: UnsignedMessage, federation: Uint8Array): Uint8Array {
  return messageBytesWithPayloadHash(message, federation, sha512(canonicalPayloadBytes(message.payload)));
}

/** Client side: the 64-byte Ed25519 signature of a message to the federation of coordinator key `federation`. */
export function signMessage(message: UnsignedMessage, secretKey: Uint8Array, federation: Uint8Array): Uint8Array {
  assertSecretKey(secretKey);
  return nacl.sign.detached(messageSigningBytes(message, federation), secretKey);
}

/**
 * Client side: signs messages with increasing sequence numbers. The first is `firstSeq`, by
 * default the clock in ms, so that a client restarted within a round continues above the numbers
 * it used before (the coordinator refuses a seq that is not above the last one it accepted).
 */
export class MessageSigner {
  private nextSeq: number;

  constructor(
    private readonly secretKey: Uint8Array,
    /** The coordinator's public key, as the client pinned it (never as the coordinator announced it). */
    private readonly federation: Uint8Array,
    options: { firstSeq?: number } = {},
  ) {
    assertSecretKey(secretKey);
    assertPublicKey(federation);
    this.nextSeq = options.firstSeq ?? Date.now();
    if (!isUint(this.nextSeq)) throw new RangeError(`firstSeq must be a non-negative integer, got ${this.nextSeq}`);
  }

  sign(round: number, type: string, payload: unknown): SignedMessage {
    const message = { round, type, seq: this.nextSeq, payload };
    const signature = signMessage(message, this.secretKey, this.federation);
    this.nextSeq += 1;
    return { ...message, signature };
  }
}

/** What the coordinator knows about an enrolled client (from its own storage). */
export interface EnrolledClientKey {
  publicKey: Uint8Array;
  revoked: boolean;
}

/** Looks an enrolled client up by name; undefined if there is none. Called on every message, so revocation is immediate. */
export type EnrolledClientLookup = (clientName: string) => EnrolledClientKey | undefined;

export type MessageRefusalCode =
  | 'MALFORMED'
  | 'UNSIGNED'
  | 'UNKNOWN_CLIENT'
  | 'REVOKED'
  | 'WRONG_ROUND'
  | 'WRONG_TYPE'
  | 'BAD_SIGNATURE'
  | 'REPLAY';

export interface MessageExpectations {
  /** The coordinator's current round: a message of any other round is refused. */
  round: number;
  /** The event the message arrived as. */
  type: string;
}

/** An accepted message: the fields that were signed, and nothing else of what arrived. */
export interface VerifiedMessage {
  clientName: string;
  round: number;
  type: string;
  seq: number;
  payload: unknown;
}

/**
 * Coordinator side: checks every client message before anything of it is used. In order:
 * MALFORMED (round/type/seq of the wrong kind), UNSIGNED (no signature), BAD_SIGNATURE for a
 * signature that is not 64 bytes, UNKNOWN_CLIENT, REVOKED, WRONG_ROUND (not the current round),
 * WRONG_TYPE (not the event it arrived as), MALFORMED (a payload that has no canonical encoding),
 * BAD_SIGNATURE (does not verify with the client's enrolled key), REPLAY (seq not above the last
 * accepted seq of this client in this round). Only a message that passes every check updates the
 * replay state, so forged messages cannot burn sequence numbers.
 *
 * Replay policy: per client, the last accepted (round, seq); within a round seq must strictly
 * increase (gaps allowed; a reordered older message is refused), and a new round starts afresh.
 * Messages of other rounds are refused by WRONG_ROUND, so one entry per client suffices. The state
 * is in memory: after a coordinator restart, continue with a new round id (never reuse one), or
 * messages of the interrupted round could be replayed once.
 *
 * Use `value.payload` (the object that was verified), never the raw message again.
 */
export class MessageVerifier {
  private readonly lastAccepted = new Map<string, { round: number; seq: number }>();

  constructor(
    private readonly lookupClient: EnrolledClientLookup,
    /** This coordinator's public key: a message signed for another federation does not verify. */
    private readonly federation: Uint8Array,
  ) {
    assertPublicKey(federation);
  }

  verify(clientName: string, message: unknown, expected: MessageExpectations): IdentityResult<VerifiedMessage, MessageRefusalCode> {
    if (typeof message !== 'object' || message === null) return refuse('MALFORMED', 'signed message must be an object { round, type, seq, payload, signature }');
    const { round, type, seq, payload, signature } = message as Record<string, unknown>;
    if (!isUint(round)) return refuse('MALFORMED', 'signed message: round must be a non-negative integer');
    if (typeof type !== 'string') return refuse('MALFORMED', 'signed message: type must be a string');
    if (!isUint(seq)) return refuse('MALFORMED', 'signed message: seq must be a non-negative integer');
    if (signature === undefined || signature === null) return refuse('UNSIGNED', `message ${type} from ${JSON.stringify(clientName)} carries no signature`);
    if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) {
      return refuse('BAD_SIGNATURE', `message signature must be ${SIGNATURE_BYTES} bytes`);
    }

    const client = this.lookupClient(clientName);
    if (!client) return refuse('UNKNOWN_CLIENT', `client ${JSON.stringify(clientName)} is not enrolled`);
    if (client.revoked) return refuse('REVOKED', `client ${JSON.stringify(clientName)} has been revoked`);
    assertPublicKey(client.publicKey);

    if (round !== expected.round) return refuse('WRONG_ROUND', `message is for round ${round}, the current round is ${expected.round}`);
    if (type !== expected.type) return refuse('WRONG_TYPE', `message was signed as ${JSON.stringify(type.slice(0, 64))} but arrived as ${JSON.stringify(expected.type)}`);

    const encoded = encodeCanonicalPayload(payload);
    if (!encoded.ok) return refuse('MALFORMED', encoded.message);
    const signed = messageBytesWithPayloadHash({ round, type, seq }, this.federation, sha512(encoded.value));
    if (!nacl.sign.detached.verify(signed, signature, client.publicKey)) {
      return refuse('BAD_SIGNATURE', `signature of message ${type} does not verify with the enrolled key of client ${JSON.stringify(clientName)} for this coordinator`);
    }

    const last = this.lastAccepted.get(clientName);
    if (last && last.round === round && seq <= last.seq) {
      return refuse('REPLAY', `message seq ${seq} of client ${JSON.stringify(clientName)} in round ${round} is not above the last accepted seq ${last.seq}`);
    }
    this.lastAccepted.set(clientName, { round, seq });
    return succeed({ clientName, round, type, seq, payload });
  }

  /** Drops a client's replay state (e.g. when it is removed). */
  forgetClient(clientName: string): void {
    this.lastAccepted.delete(clientName);
  }
}

function messageBytesWithPayloadHash(message: Pick<UnsignedMessage, 'round' | 'type' | 'seq'>, federation: Uint8Array, payloadHash: Uint8Array): Uint8Array {
  assertPublicKey(federation);
  return new SigningBytesBuilder(MESSAGE_DOMAIN_TAG).bytes(federation).uint(message.round).text(message.type).uint(message.seq).bytes(payloadHash).build();
}
