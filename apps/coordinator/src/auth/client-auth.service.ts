import { Inject, Injectable } from '@nestjs/common';
import {
  decodeBase64Exact,
  encodePublicKey,
  hashEnrolmentToken,
  MessageVerifier,
  type EnrolledClientKey,
  NonceRegistry,
  PUBLIC_KEY_BYTES,
  verifyEnrolmentToken,
  verifyHandshake,
} from '@fedkd/privacy';
import { PROTOCOL_VERSION, splitSignatureEnvelope, type Ack, type HelloCredentials } from '@fedkd/protocol';
import { CONFIG } from '../config/config.provider';
import type { CoordinatorConfig } from '../config/coordinator-config';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import { COORDINATOR_KEY, type CoordinatorKey } from './coordinator-key.provider';

type Refusal = Extract<Ack, { ok: false }>;

/**
 * Who may talk to the coordinator: a fresh nonce per connection, a signed hello from an enrolled
 * (or, once, enrolling) key, then a signature on every message, checked against the enrolled key,
 * the current round and the client's last sequence number. Nothing of a refused message is used.
 */
@Injectable()
export class ClientAuthService {
  private readonly nonces = new NonceRegistry({ ttlMs: 60_000 });
  private readonly verifier: MessageVerifier;

  constructor(
    @Inject(CONFIG) private readonly config: CoordinatorConfig,
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
    @Inject(COORDINATOR_KEY) key: CoordinatorKey,
  ) {
    // The verifier looks the client up synchronously: verifyMessage reads its identity first.
    this.verifier = new MessageVerifier((name) => (this.lookedUp?.name === name ? this.lookedUp.client : undefined), key.publicKey);
  }

  private lookedUp: { name: string; client: EnrolledClientKey | undefined } | undefined;
  /** Each client's messages are verified in the order they arrived (sequence numbers must increase). */
  private readonly queues = new Map<string, Promise<unknown>>();

  issueNonce(): Uint8Array {
    return this.nonces.issue(Date.now());
  }

  /**
   * Checks a hello's credentials for `clientName` against the nonce issued to its connection.
   * With an enrolment token for a name not yet enrolled under this key, the proof is verified with
   * the presented key first, and only then is the one-time token spent.
   */
  async authenticateHello(clientName: string, nonce: Uint8Array | undefined, credentials: HelloCredentials): Promise<Ack> {
    if (!nonce) return refusal('UNAUTHENTICATED', 'no challenge was issued to this connection');
    const presented = credentials.proof?.publicKey instanceof Uint8Array ? new Uint8Array(credentials.proof.publicKey) : null;
    const enrolled = await this.db.identities.get(clientName);
    if (enrolled?.revokedAt != null) return refusal('REVOKED', `client ${clientName} is revoked`);
    const enrolling = credentials.enrolmentToken !== undefined && (!enrolled || (presented && enrolled.publicKey !== encodePublicKey(presented)));
    const publicKey = enrolling ? presented : enrolled ? decodeBase64Exact(enrolled.publicKey, PUBLIC_KEY_BYTES) : null;
    if (!publicKey || publicKey.byteLength !== PUBLIC_KEY_BYTES) {
      return refusal('NOT_REGISTERED', enrolled ? 'hello carries no usable public key' : `client ${clientName} is not enrolled: present a token from \`fedkd enroll --client ${clientName}\``);
    }
    const proof = verifyHandshake(credentials.proof, {
      expectedNonce: nonce,
      nonces: this.nonces,
      publicKey,
      clientName,
      protocolVersion: PROTOCOL_VERSION,
      now: Date.now(),
      maxSkewMs: this.config.handshakeMaxSkewMs,
    });
    if (!proof.ok) return refusal(proof.code === 'BAD_SIGNATURE' ? 'BAD_SIGNATURE' : 'UNAUTHENTICATED', `handshake refused: ${proof.code}: ${proof.message}`);
    if (!enrolling) return { ok: true, value: undefined };

    const tokenHash = typeof credentials.enrolmentToken === 'string' ? safeHash(credentials.enrolmentToken) : null;
    const record = tokenHash ? await this.db.identities.findToken(tokenHash) : null;
    if (!record || record.clientName !== clientName) return refusal('NOT_REGISTERED', `enrolment token is not valid for ${clientName}`);
    const token = verifyEnrolmentToken(credentials.enrolmentToken, record, Date.now());
    if (!token.ok) return refusal('NOT_REGISTERED', `enrolment refused: ${token.code}: ${token.message}`);
    try {
      await this.db.identities.enrol(record.tokenHash, clientName, encodePublicKey(publicKey));
    } catch (error) {
      return refusal('NOT_REGISTERED', `enrolment refused: ${(error as Error).message}`);
    }
    return { ok: true, value: undefined };
  }

  /** Verifies a signed message of `event` for the current round; returns the verified payload. */
  verifyMessage(clientName: string, event: string, raw: unknown, currentRound: number): Promise<Ack<Record<string, unknown>>> {
    const split = splitSignatureEnvelope(raw, event);
    if (!split.ok) return Promise.resolve(split);
    return this.inOrder(clientName, async () => {
      // Read at every message, so that a revocation cuts a connected client off at once.
      const identity = await this.db.identities.get(clientName);
      const publicKey = identity ? decodeBase64Exact(identity.publicKey, PUBLIC_KEY_BYTES) : null;
      this.lookedUp = { name: clientName, client: identity && publicKey ? { publicKey, revoked: identity.revokedAt !== null } : undefined };
      try {
        return this.checkMessage(clientName, event, split.value, currentRound);
      } finally {
        this.lookedUp = undefined;
      }
    });
  }

  private checkMessage(
    clientName: string,
    event: string,
    { payload, envelope }: { payload: Record<string, unknown>; envelope: { seq: unknown; signature: unknown } },
    currentRound: number,
  ): Ack<Record<string, unknown>> {
    const checked = this.verifier.verify(
      clientName,
      { round: payload.round, type: event, seq: envelope.seq, payload, signature: envelope.signature },
      { round: currentRound, type: event },
    );
    if (!checked.ok) {
      const stale = checked.code === 'WRONG_ROUND' && typeof payload.round === 'number' && payload.round < currentRound;
      return refusal(stale ? 'STALE_ROUND' : MESSAGE_CODES[checked.code], `${event}: ${checked.message}`);
    }
    return { ok: true, value: checked.value.payload as Record<string, unknown> };
  }

  private inOrder<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const next = previous.then(task, task);
    const settled = next.catch(() => undefined);
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return next;
  }
}

const MESSAGE_CODES = {
  MALFORMED: 'BAD_MESSAGE',
  UNSIGNED: 'UNAUTHENTICATED',
  UNKNOWN_CLIENT: 'NOT_REGISTERED',
  REVOKED: 'REVOKED',
  WRONG_ROUND: 'WRONG_ROUND',
  WRONG_TYPE: 'BAD_MESSAGE',
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  REPLAY: 'REPLAY',
} as const satisfies Record<string, Refusal['code']>;

function refusal(code: Refusal['code'], message: string): Refusal {
  return { ok: false, code, message };
}

function safeHash(token: string): string | null {
  try {
    return hashEnrolmentToken(token);
  } catch {
    return null;
  }
}
