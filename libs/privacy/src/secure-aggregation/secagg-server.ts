/**
 * The server's side of a secure-aggregation round: collects and relays keys and sealed shares,
 * sums masked inputs, and removes the masks from the sum.
 *
 * INVARIANT: this object never holds an individual client's unmasked vector. A masked input is
 * added into a running sum mod 2^32 as it arrives and is not kept; after the unmasking step the
 * reconstructed self masks (of survivors) and pairwise masks (of dropped clients with survivors)
 * are subtracted from that SUM only. For any single client the server learns either its self-mask
 * seed b_u (it survived) or its masking secret key s_u^SK (it dropped), never both, because every
 * honest client refuses to reveal both kinds of share for the same client; with b_u alone its
 * masked input is still hidden by its pairwise masks, with s_u^SK alone by its self mask.
 *
 * Steps (each `close*` ends one; late messages of an ended step are refused with WRONG_PHASE):
 *   receiveAdvertisement*        closeAdvertisement() -> KeyDirectoryMessage (to every participant)
 *   receiveShareKeys*            closeShareKeys();      sealedSharesFor(id) -> SealedSharesMessage
 *   receiveMaskedInput*          closeMaskedInput();    consistencyCheckFor(id) -> ConsistencyCheckMessage
 *   receiveConsistencySignature* closeConsistencyCheck(); unmaskRequestFor(id) -> UnmaskRequestMessage
 *   receiveUnmaskResponse*       unmask() -> SecureAggregationResult (async: Shamir)
 *
 * Checks an honest coordinator makes on clients (a malicious client cannot stall or poison the round
 * unnoticed): advertisements signed by the client's identity key for this federation and round,
 * under the enrolled key if `identityKeyOf` is given, and no public key used twice; ids well-formed;
 * survivor-view signatures that verify; shares checked against their owners' commitments, corrupted
 * ones discarded, any `threshold` valid ones combined. It refuses to go on to unmasking when the
 * survivors' neighbour graph is not connected. Clients check all of this again for themselves.
 * A refused message (receive*) leaves the state unchanged. An error from close* or unmask() ends
 * the round: the phase becomes 'failed'.
 */
import nacl from 'tweetnacl';

import { SecureAggregationError } from './errors';
import { decodeFixedPointSum } from './fixed-point';
import { addMaskInPlace, maskStream, pairwiseMaskSign } from './mask-stream';
import type {
  AdvertiseKeysMessage,
  ConsistencyCheckMessage,
  ConsistencySignatureMessage,
  KeyDirectoryMessage,
  MaskedInputMessage,
  ParticipantKeys,
  SealedSharesMessage,
  ShareKeysMessage,
  UnmaskRequestMessage,
  UnmaskResponseMessage,
} from './messages';
import { buildNeighbourGraph, NeighbourGraph } from './neighbour-graph';
import { checkGraphForRound, ResolvedParameters, resolveParameters, SecureAggregationParameters } from './round-parameters';
import {
  advertisementSigningBytes,
  checkedFederationId,
  IDENTITY_KEY_BYTES,
  IDENTITY_SIGNATURE_BYTES,
  SHARE_COMMITMENT_BYTES,
  shareCommitment,
  SurvivorView,
  survivorViewSigningBytes,
  verifyStatement,
} from './round-signatures';
import { combineShares, SEAL_NONCE_BYTES, SealedShare, selfMaskSeedCommitment, SHARE_BYTES } from './shares';
import { assertClientId, copyBytes, describeWireValue, sortedClientIds } from './wire-bytes';

export type SecureAggregationServerPhase =
  | 'advertising'
  | 'sharing-keys'
  | 'collecting-inputs'
  | 'checking-consistency'
  | 'unmasking'
  | 'done'
  | 'failed';

export interface SecureAggregationResult {
  roundId: number;
  /** Clients whose inputs are in the sum, in code-unit order. */
  survivors: string[];
  /** Clients that shared keys but sent no masked input; their masks were removed. */
  dropped: string[];
  /** Sum over survivors of their vectors, decoded; off by at most survivors.length * 2^-(f+1) per element. */
  sum: Float64Array;
  /** The exact sum of the survivors' fixed-point encodings mod 2^32. */
  fixedPointSum: Uint32Array;
}

/** Largest accepted sealed-share ciphertext (the plaintext is about 80 bytes plus the two ids). */
const MAX_SEALED_SHARE_BYTES = 2048;

interface UnmaskShares {
  selfMaskSeedShares: Map<string, Uint8Array>;
  maskingKeyShares: Map<string, Uint8Array>;
}

export interface SecureAggregationServerOptions {
  /** The federation signatures are bound to: this coordinator's Ed25519 public key. */
  federationId: Uint8Array;
  /** The enrolled identity key of a client id (undefined: not enrolled); advertisements must carry it. */
  identityKeyOf?: (clientId: string) => Uint8Array | undefined;
}

export class SecureAggregationServer {
  readonly parameters: ResolvedParameters;
  private phaseNow: SecureAggregationServerPhase = 'advertising';
  private readonly advertised = new Map<string, ParticipantKeys>();
  private graph: NeighbourGraph | null = null;
  private readonly commitments = new Map<string, Uint8Array>();
  private readonly outgoingShares = new Map<string, SealedShare[]>();
  /** U2: clients that shared keys, in code-unit order (after closeShareKeys). */
  private keySharers: string[] = [];
  private readonly inbox = new Map<string, SealedShare[]>();
  /** The running sum of masked inputs mod 2^32: the only vector this object holds. */
  private readonly maskedSum: Uint32Array;
  private readonly contributors = new Set<string>();
  private survivorList: string[] = [];
  private droppedList: string[] = [];
  private readonly unmaskShares = new Map<string, UnmaskShares>();
  /** Share commitments by owner, then holder. */
  private readonly shareCommitments = new Map<string, Map<string, { selfMaskSeedShare: Uint8Array; maskingKeyShare: Uint8Array }>>();
  private view: SurvivorView | null = null;
  /** Survivor-view signatures received (round 3), by signer. */
  private readonly viewSignatures = new Map<string, Uint8Array>();
  /** U4: survivors whose view signature arrived (after closeConsistencyCheck). */
  private readonly signers = new Set<string>();
  private readonly federationId: Uint8Array;
  private readonly identityKeyOf: ((clientId: string) => Uint8Array | undefined) | undefined;

  constructor(parameters: SecureAggregationParameters, options: SecureAggregationServerOptions) {
    this.parameters = resolveParameters(parameters);
    this.maskedSum = new Uint32Array(this.parameters.vectorLength);
    this.federationId = checkedFederationId(options?.federationId);
    this.identityKeyOf = options.identityKeyOf;
  }

  get phase(): SecureAggregationServerPhase {
    return this.phaseNow;
  }

  /** U1: clients that advertised keys, in code-unit order. */
  get participants(): string[] {
    return sortedClientIds(this.advertised.keys());
  }

  /** U3 after closeMaskedInput. */
  get survivors(): string[] {
    return [...this.survivorList];
  }

  /** U2 \ U3 after closeMaskedInput. */
  get dropped(): string[] {
    return [...this.droppedList];
  }

  receiveAdvertisement(message: AdvertiseKeysMessage): void {
    this.expectPhase('advertising', 'an advertisement');
    this.expectRound(message.roundId, 'advertisement');
    assertClientId(message.clientId);
    const clientId = message.clientId;
    if (this.advertised.has(clientId)) {
      throw new SecureAggregationError('DUPLICATE', `${clientId} already advertised keys`);
    }
    const keys: ParticipantKeys = {
      clientId,
      maskingPublicKey: copyBytes(message.maskingPublicKey, 'masking public key', nacl.box.publicKeyLength),
      encryptionPublicKey: copyBytes(message.encryptionPublicKey, 'encryption public key', nacl.box.publicKeyLength),
      identityPublicKey: copyBytes(message.identityPublicKey, 'identity public key', IDENTITY_KEY_BYTES),
      signature: copyBytes(message.signature, 'advertisement signature', IDENTITY_SIGNATURE_BYTES),
    };
    if (this.identityKeyOf) {
      const enrolled = this.identityKeyOf(clientId);
      if (enrolled === undefined || !nacl.verify(new Uint8Array(enrolled), keys.identityPublicKey)) {
        throw new SecureAggregationError('KEY_MISMATCH', `${clientId} advertised an identity key other than the one it enrolled with`);
      }
    }
    const fresh = [keys.maskingPublicKey, keys.encryptionPublicKey, keys.identityPublicKey];
    if (nacl.verify(keys.maskingPublicKey, keys.encryptionPublicKey)) {
      throw new SecureAggregationError('KEY_MISMATCH', `${clientId} advertised the same key for masking and encryption`);
    }
    for (const other of this.advertised.values()) {
      const used = [other.maskingPublicKey, other.encryptionPublicKey, other.identityPublicKey];
      if (fresh.some((key) => used.some((u) => nacl.verify(key, u)))) {
        throw new SecureAggregationError('KEY_MISMATCH', `${clientId} advertised a public key that ${other.clientId} already advertised`);
      }
    }
    const signed = advertisementSigningBytes({ federationId: this.federationId, roundId: this.parameters.roundId, ...keys });
    if (!verifyStatement(signed, keys.signature, keys.identityPublicKey)) {
      throw new SecureAggregationError(
        'BAD_SIGNATURE',
        `the key advertisement of ${clientId} does not verify under its identity key for this federation and round`,
      );
    }
    this.advertised.set(clientId, keys);
  }

  /** Ends round 0: builds the neighbour graph over the advertisers and returns the directory for all of them. */
  closeAdvertisement(): KeyDirectoryMessage {
    this.expectPhase('advertising', 'closing the advertisement');
    return this.failOnError(() => {
      const graph = buildNeighbourGraph(this.participants, this.parameters.graph);
      checkGraphForRound(this.parameters, graph);
      this.graph = graph;
      this.phaseNow = 'sharing-keys';
      return {
        kind: 'secagg.key-directory',
        roundId: this.parameters.roundId,
        participants: this.participants.map((id) => {
          const keys = this.advertised.get(id)!;
          return {
            clientId: id,
            maskingPublicKey: new Uint8Array(keys.maskingPublicKey),
            encryptionPublicKey: new Uint8Array(keys.encryptionPublicKey),
            identityPublicKey: new Uint8Array(keys.identityPublicKey),
            signature: new Uint8Array(keys.signature),
          };
        }),
      };
    });
  }

  /** Round 1: one sealed share per neighbour of the sender, opaque to the server, kept for relaying. */
  receiveShareKeys(message: ShareKeysMessage): void {
    this.expectPhase('sharing-keys', 'shared keys');
    this.expectRound(message.roundId, 'shared keys');
    const sender = this.expectParticipant(message.clientId);
    if (this.outgoingShares.has(sender)) throw new SecureAggregationError('DUPLICATE', `${sender} already shared keys`);
    const commitment = copyBytes(message.selfMaskSeedCommitment, 'self-mask seed commitment', 32);
    if (!Array.isArray(message.sealedShares)) {
      throw new SecureAggregationError('BAD_MESSAGE', 'sealedShares must be an array');
    }
    const neighbours = this.graph!.neighboursOf(sender);
    const shares = new Map<string, SealedShare>();
    for (const sealed of message.sealedShares) {
      if (sealed?.senderId !== sender) {
        throw new SecureAggregationError(
          'BAD_MESSAGE',
          `${sender} sent a sealed share naming ${describeWireValue(sealed?.senderId)} as sender`,
        );
      }
      assertClientId(sealed.recipientId, 'sealed share recipient');
      if (!neighbours.includes(sealed.recipientId)) {
        throw new SecureAggregationError(
          'NOT_A_NEIGHBOUR',
          `${sender} sealed a share to ${sealed.recipientId}, which is not its neighbour`,
        );
      }
      if (shares.has(sealed.recipientId)) {
        throw new SecureAggregationError('DUPLICATE', `${sender} sealed two shares to ${sealed.recipientId}`);
      }
      const ciphertext = copyBytes(sealed.ciphertext, 'sealed share ciphertext');
      if (ciphertext.byteLength <= nacl.box.overheadLength || ciphertext.byteLength > MAX_SEALED_SHARE_BYTES) {
        throw new SecureAggregationError('BAD_MESSAGE', `sealed share ciphertext of ${ciphertext.byteLength} bytes`);
      }
      shares.set(sealed.recipientId, {
        senderId: sender,
        recipientId: sealed.recipientId,
        nonce: copyBytes(sealed.nonce, 'sealed share nonce', SEAL_NONCE_BYTES),
        ciphertext,
      });
    }
    if (shares.size !== neighbours.length) {
      throw new SecureAggregationError(
        'BAD_MESSAGE',
        `${sender} sealed ${shares.size} shares for its ${neighbours.length} neighbours`,
      );
    }
    if (!Array.isArray(message.shareCommitments)) {
      throw new SecureAggregationError('BAD_MESSAGE', 'shareCommitments must be an array');
    }
    const shareCommitments = new Map<string, { selfMaskSeedShare: Uint8Array; maskingKeyShare: Uint8Array }>();
    for (const entry of message.shareCommitments) {
      const holder: unknown = entry?.holderId;
      if (typeof holder !== 'string' || !shares.has(holder) || shareCommitments.has(holder)) {
        throw new SecureAggregationError('BAD_MESSAGE', `${sender} sent a share commitment for ${String(holder)}: not one per neighbour`);
      }
      shareCommitments.set(holder, {
        selfMaskSeedShare: copyBytes(entry.selfMaskSeedShare, `self-mask seed share commitment for ${holder}`, SHARE_COMMITMENT_BYTES),
        maskingKeyShare: copyBytes(entry.maskingKeyShare, `masking key share commitment for ${holder}`, SHARE_COMMITMENT_BYTES),
      });
    }
    if (shareCommitments.size !== neighbours.length) {
      throw new SecureAggregationError('BAD_MESSAGE', `${sender} sent ${shareCommitments.size} share commitments for its ${neighbours.length} neighbours`);
    }
    this.shareCommitments.set(sender, shareCommitments);
    this.commitments.set(sender, commitment);
    this.outgoingShares.set(sender, [...shares.values()]);
  }

  /** Ends round 1: U2 = the clients that shared keys; each gets the sealed shares its U2 neighbours addressed to it. */
  closeShareKeys(): void {
    this.expectPhase('sharing-keys', 'closing key sharing');
    this.failOnError(() => {
      const sharers = sortedClientIds(this.outgoingShares.keys());
      if (sharers.length < this.parameters.threshold + 1) {
        throw new SecureAggregationError(
          'BELOW_THRESHOLD',
          `${sharers.length} client(s) shared keys; at least threshold + 1 = ${this.parameters.threshold + 1} are needed`,
        );
      }
      for (const id of sharers) this.inbox.set(id, []);
      for (const sender of sharers) {
        for (const sealed of this.outgoingShares.get(sender)!) this.inbox.get(sealed.recipientId)?.push(sealed);
      }
      this.outgoingShares.clear();
      this.keySharers = sharers;
      this.phaseNow = 'collecting-inputs';
    });
  }

  /** The sealed shares for one client of U2 (relayed as they are; the server cannot open them). */
  sealedSharesFor(clientId: string): SealedSharesMessage {
    this.expectPhase('collecting-inputs', 'relaying sealed shares');
    const shares = this.inbox.get(clientId);
    if (shares === undefined) {
      throw new SecureAggregationError('UNKNOWN_CLIENT', `${clientId} did not share keys in this round`);
    }
    return {
      kind: 'secagg.sealed-shares',
      roundId: this.parameters.roundId,
      recipientId: clientId,
      sealedShares: shares.map((s) => ({ ...s, nonce: new Uint8Array(s.nonce), ciphertext: new Uint8Array(s.ciphertext) })),
    };
  }

  /** Round 2: adds the masked input into the running sum mod 2^32 and forgets it. */
  receiveMaskedInput(message: MaskedInputMessage): void {
    this.expectPhase('collecting-inputs', 'a masked input');
    this.expectRound(message.roundId, 'masked input');
    assertClientId(message.clientId);
    const sender = message.clientId;
    if (!this.inbox.has(sender)) {
      throw new SecureAggregationError('UNKNOWN_CLIENT', `${sender} did not share keys in this round`);
    }
    if (this.contributors.has(sender)) {
      throw new SecureAggregationError('DUPLICATE', `${sender} already sent its masked input`);
    }
    const bytes = message.maskedInput;
    const expectedBytes = 4 * this.parameters.vectorLength;
    if (!(bytes instanceof Uint8Array) || bytes.byteLength !== expectedBytes) {
      throw new SecureAggregationError('BAD_MESSAGE', `masked input of ${sender} must be ${expectedBytes} bytes`);
    }
    const sum = this.maskedSum;
    for (let i = 0, j = 0; i < sum.length; i++, j += 4) {
      const word = (bytes[j]! | (bytes[j + 1]! << 8) | (bytes[j + 2]! << 16) | (bytes[j + 3]! << 24)) >>> 0;
      sum[i] = (sum[i]! + word) >>> 0;
    }
    this.contributors.add(sender);
  }

  /**
   * Ends round 2: U3 = clients whose masked input arrived, dropped = U2 \ U3. Fails the round with
   * BELOW_THRESHOLD if some survivor or dropped client has fewer than `threshold` surviving
   * neighbours (their masks could not be removed), and with SURVIVORS_DISCONNECTED if the survivors'
   * neighbour graph is not connected (unmasking would reveal the sum of each separate group).
   */
  closeMaskedInput(): { survivors: string[]; dropped: string[] } {
    this.expectPhase('collecting-inputs', 'closing input collection');
    return this.failOnError(() => {
      const survivors = this.keySharers.filter((id) => this.contributors.has(id));
      const dropped = this.keySharers.filter((id) => !this.contributors.has(id));
      const short: string[] = [];
      for (const id of [...survivors, ...dropped]) {
        const holders = this.graph!.neighboursOf(id).filter((v) => this.contributors.has(v)).length;
        if (holders < this.parameters.threshold) short.push(`${id} (${holders})`);
      }
      if (short.length > 0) {
        throw new SecureAggregationError(
          'BELOW_THRESHOLD',
          `${survivors.length} survivor(s): too few surviving neighbours (threshold ${this.parameters.threshold}) hold shares of ${short.join(', ')}`,
        );
      }
      if (!this.graph!.isConnectedAmong(survivors)) {
        throw new SecureAggregationError(
          'SURVIVORS_DISCONNECTED',
          `the ${survivors.length} survivors split into groups that share no masks: unmasking would reveal each group's sum`,
        );
      }
      this.survivorList = survivors;
      this.droppedList = dropped;
      this.view = { federationId: this.federationId, roundId: this.parameters.roundId, survivors, dropped };
      this.phaseNow = 'checking-consistency';
      return { survivors: [...survivors], dropped: [...dropped] };
    });
  }

  /** Round 3 for one survivor: the survivor view, the same for everyone. */
  consistencyCheckFor(clientId: string): ConsistencyCheckMessage {
    this.expectPhase('checking-consistency', 'issuing consistency checks');
    if (!this.contributors.has(clientId)) {
      throw new SecureAggregationError('UNKNOWN_CLIENT', `${clientId} is not a survivor of this round`);
    }
    return {
      kind: 'secagg.consistency-check',
      roundId: this.parameters.roundId,
      recipientId: clientId,
      survivors: [...this.survivorList],
      dropped: [...this.droppedList],
    };
  }

  /** Round 3 reply: a survivor's signature on the view; refused unless it verifies under its identity key. */
  receiveConsistencySignature(message: ConsistencySignatureMessage): void {
    this.expectPhase('checking-consistency', 'a survivor-view signature');
    this.expectRound(message.roundId, 'survivor-view signature');
    assertClientId(message.clientId);
    const signer = message.clientId;
    if (!this.contributors.has(signer)) {
      throw new SecureAggregationError('UNKNOWN_CLIENT', `${signer} is not a survivor of this round`);
    }
    if (this.viewSignatures.has(signer)) {
      throw new SecureAggregationError('DUPLICATE', `${signer} already signed the survivor view`);
    }
    const signature = copyBytes(message.signature, 'survivor-view signature', IDENTITY_SIGNATURE_BYTES);
    if (!verifyStatement(survivorViewSigningBytes(this.view!, signer), signature, this.advertised.get(signer)!.identityPublicKey)) {
      throw new SecureAggregationError('BAD_SIGNATURE', `the survivor-view signature of ${signer} does not verify on this round's view`);
    }
    this.viewSignatures.set(signer, signature);
  }

  /**
   * Ends round 3: U4 = the survivors that signed the view. Fails the round (BELOW_THRESHOLD) if a
   * signer has fewer than `threshold` neighbours among the signers: it would refuse to unmask.
   */
  closeConsistencyCheck(): { signers: string[] } {
    this.expectPhase('checking-consistency', 'closing the consistency check');
    return this.failOnError(() => {
      const signers = this.survivorList.filter((id) => this.viewSignatures.has(id));
      const short: string[] = [];
      for (const id of signers) {
        const count = this.graph!.neighboursOf(id).filter((v) => this.viewSignatures.has(v)).length;
        if (count < this.parameters.threshold) short.push(`${id} (${count})`);
      }
      if (signers.length === 0 || short.length > 0) {
        throw new SecureAggregationError(
          'BELOW_THRESHOLD',
          `${signers.length} survivor(s) signed the survivor view; too few neighbours (threshold ${this.parameters.threshold}) signed around ${short.join(', ') || 'anyone'}`,
        );
      }
      for (const id of signers) this.signers.add(id);
      this.phaseNow = 'unmasking';
      return { signers };
    });
  }

  /** Clients asked to help unmask (U4), in code-unit order. */
  get unmaskingClients(): string[] {
    return this.survivorList.filter((id) => this.signers.has(id));
  }

  /** Round 4 request for one signer: its neighbours' view signatures, and the survivors and dropped among it and its neighbours. */
  unmaskRequestFor(clientId: string): UnmaskRequestMessage {
    this.expectPhase('unmasking', 'issuing unmask requests');
    if (!this.signers.has(clientId)) {
      throw new SecureAggregationError('UNKNOWN_CLIENT', `${clientId} did not sign the survivor view of this round`);
    }
    const { survivors, dropped } = this.neighbourhoodLists(clientId);
    return {
      kind: 'secagg.unmask-request',
      roundId: this.parameters.roundId,
      recipientId: clientId,
      survivors: sortedClientIds([clientId, ...survivors]),
      dropped,
      signatures: this.graph!
        .neighboursOf(clientId)
        .filter((v) => this.signers.has(v))
        .map((v) => ({ clientId: v, signature: new Uint8Array(this.viewSignatures.get(v)!) })),
    };
  }

  /** Round 4 reply: shares of b_v for survivors and of s_v^SK for dropped neighbours, as requested. */
  receiveUnmaskResponse(message: UnmaskResponseMessage): void {
    this.expectPhase('unmasking', 'an unmask response');
    this.expectRound(message.roundId, 'unmask response');
    assertClientId(message.clientId);
    const responder = message.clientId;
    if (!this.signers.has(responder)) {
      throw new SecureAggregationError('UNKNOWN_CLIENT', `${responder} was not asked to unmask in this round`);
    }
    if (this.unmaskShares.has(responder)) {
      throw new SecureAggregationError('DUPLICATE', `${responder} already answered the unmask request`);
    }
    const { survivors, dropped } = this.neighbourhoodLists(responder);
    const read = (list: unknown, owners: readonly string[], what: string): Map<string, Uint8Array> => {
      if (!Array.isArray(list)) {
        throw new SecureAggregationError('BAD_MESSAGE', `unmask response: ${what} must be an array`);
      }
      const shares = new Map<string, Uint8Array>();
      for (const entry of list) {
        const owner: unknown = entry?.ownerId;
        if (typeof owner !== 'string' || !owners.includes(owner)) {
          throw new SecureAggregationError(
            'BAD_MESSAGE',
            `${responder} sent a ${what} share of ${describeWireValue(owner)}, which was not requested`,
          );
        }
        if (shares.has(owner)) {
          throw new SecureAggregationError('DUPLICATE', `${responder} sent two ${what} shares of ${owner}`);
        }
        shares.set(owner, copyBytes(entry.share, `${what} share of ${owner}`, SHARE_BYTES));
      }
      return shares;
    };
    this.unmaskShares.set(responder, {
      selfMaskSeedShares: read(message.selfMaskSeedShares, survivors, 'self-mask seed'),
      maskingKeyShares: read(message.maskingKeyShares, dropped, 'masking key'),
    });
  }

  /**
   * Ends the round: reconstructs b_v of every survivor and s_v^SK of every dropped client from the
   * responders' shares, each checked against the commitment its owner sent with its sealed shares
   * (a share that does not match is discarded, and any `threshold` valid ones are combined;
   * BELOW_THRESHOLD if fewer than `threshold` valid shares of any of them arrived;
   * RECONSTRUCTION_FAILED if a secret does not match its commitment or public key), subtracts the
   * survivors' self masks and the dropped clients' pairwise masks with survivors from the sum, and
   * decodes it.
   */
  async unmask(): Promise<SecureAggregationResult> {
    this.expectPhase('unmasking', 'unmasking the sum');
    try {
      return await this.unmaskSum();
    } catch (error) {
      this.phaseNow = 'failed';
      throw error;
    }
  }

  private async unmaskSum(): Promise<SecureAggregationResult> {
    const { roundId, threshold, vectorLength, fixedPoint } = this.parameters;
    const discarded = new Map<string, number>();
    const sharesOf = (owner: string, kind: keyof UnmaskShares): Uint8Array[] => {
      const valid: Uint8Array[] = [];
      const commitmentKind = kind === 'selfMaskSeedShares' ? 'selfMaskSeedShare' : 'maskingKeyShare';
      for (const responder of sortedClientIds(this.unmaskShares.keys())) {
        const share = this.unmaskShares.get(responder)![kind].get(owner);
        if (share === undefined) continue;
        const committed = this.shareCommitments.get(owner)?.get(responder)?.[commitmentKind];
        const actual = shareCommitment(share, roundId, owner, responder, kind === 'selfMaskSeedShares' ? 'self-mask seed' : 'masking key');
        if (committed !== undefined && nacl.verify(committed, actual)) valid.push(share);
        else discarded.set(`${owner}/${kind}`, (discarded.get(`${owner}/${kind}`) ?? 0) + 1);
      }
      return valid;
    };
    const note = (owner: string, kind: keyof UnmaskShares): string => {
      const bad = discarded.get(`${owner}/${kind}`);
      return bad ? `, ${bad} more discarded: they do not match their commitments` : '';
    };

    const short: string[] = [];
    for (const id of this.survivorList) {
      const count = sharesOf(id, 'selfMaskSeedShares').length;
      if (count < threshold) short.push(`self-mask seed of survivor ${id} (${count} valid share(s)${note(id, 'selfMaskSeedShares')})`);
    }
    for (const id of this.droppedList) {
      const count = sharesOf(id, 'maskingKeyShares').length;
      if (count < threshold) short.push(`masking key of dropped ${id} (${count} valid share(s)${note(id, 'maskingKeyShares')})`);
    }
    if (short.length > 0) {
      throw new SecureAggregationError('BELOW_THRESHOLD', `fewer than ${threshold} shares of: ${short.join('; ')}`);
    }

    const selfMaskSeeds = new Map<string, Uint8Array>();
    for (const id of this.survivorList) {
      const seed = await combineShares(sharesOf(id, 'selfMaskSeedShares'), threshold, `self-mask seed of ${id}`);
      if (!nacl.verify(selfMaskSeedCommitment(seed, roundId, id), this.commitments.get(id)!)) {
        throw new SecureAggregationError(
          'RECONSTRUCTION_FAILED',
          `the self-mask seed of ${id} does not match its commitment (a corrupted share)`,
        );
      }
      selfMaskSeeds.set(id, seed);
    }
    const maskingKeys = new Map<string, Uint8Array>();
    for (const id of this.droppedList) {
      const secretKey = await combineShares(sharesOf(id, 'maskingKeyShares'), threshold, `masking key of ${id}`);
      if (!nacl.verify(nacl.box.keyPair.fromSecretKey(secretKey).publicKey, this.advertised.get(id)!.maskingPublicKey)) {
        throw new SecureAggregationError(
          'RECONSTRUCTION_FAILED',
          `the masking key of ${id} does not match its public key (a corrupted share)`,
        );
      }
      maskingKeys.set(id, secretKey);
    }

    // Only the SUM is touched from here on.
    const sum = this.maskedSum;
    for (const seed of selfMaskSeeds.values()) {
      addMaskInPlace(sum, maskStream(seed, roundId, 'self', vectorLength), -1);
      seed.fill(0);
    }
    for (const [droppedId, secretKey] of maskingKeys) {
      for (const survivor of this.graph!.neighboursOf(droppedId)) {
        if (!this.contributors.has(survivor)) continue;
        const pairKey = nacl.box.before(this.advertised.get(survivor)!.maskingPublicKey, secretKey);
        // The survivor added sign * PRG(s_{survivor,dropped}); take it out again.
        const sign = pairwiseMaskSign(survivor, droppedId);
        addMaskInPlace(sum, maskStream(pairKey, roundId, 'pairwise', vectorLength), sign === 1 ? -1 : 1);
        pairKey.fill(0);
      }
      secretKey.fill(0);
    }
    this.phaseNow = 'done';
    return {
      roundId,
      survivors: [...this.survivorList],
      dropped: [...this.droppedList],
      sum: decodeFixedPointSum(sum, this.survivorList.length, fixedPoint),
      fixedPointSum: new Uint32Array(sum),
    };
  }

  /** A client's surviving and dropped neighbours (both in code-unit order). */
  private neighbourhoodLists(clientId: string): { survivors: string[]; dropped: string[] } {
    const neighbours = this.graph!.neighboursOf(clientId);
    return {
      survivors: neighbours.filter((v) => this.survivorList.includes(v)),
      dropped: neighbours.filter((v) => this.droppedList.includes(v)),
    };
  }

  private expectParticipant(clientId: unknown): string {
    assertClientId(clientId);
    if (!this.advertised.has(clientId)) {
      throw new SecureAggregationError('UNKNOWN_CLIENT', `${clientId} did not advertise keys in this round`);
    }
    return clientId;
  }

  private failOnError<T>(step: () => T): T {
    try {
      return step();
    } catch (error) {
      this.phaseNow = 'failed';
      throw error;
    }
  }

  private expectPhase(phase: SecureAggregationServerPhase, what: string): void {
    if (this.phaseNow !== phase) {
      throw new SecureAggregationError(
        'WRONG_PHASE',
        `the server does not accept ${what} in phase '${this.phaseNow}' (only in '${phase}')`,
      );
    }
  }

  private expectRound(roundId: unknown, what: string): void {
    if (roundId !== this.parameters.roundId) {
      throw new SecureAggregationError(
        'WRONG_ROUND',
        `${what} for round ${describeWireValue(roundId)}, the server is in round ${this.parameters.roundId}`,
      );
    }
  }
}
