import nacl from 'tweetnacl';

import { SecureAggregationError } from './errors';
import { encodeFixedPoint } from './fixed-point';
import { addMaskInPlace, maskStream, pairwiseMaskSign } from './mask-stream';
import type { Ed25519KeyPair } from '../identity/ed25519-keys';
import type {
  AdvertiseKeysMessage,
  ConsistencyCheckMessage,
  ConsistencySignatureMessage,
  KeyDirectoryMessage,
  MaskedInputMessage,
  OwnedShare,
  ParticipantKeys,
  SealedSharesMessage,
  ShareKeysMessage,
  UnmaskRequestMessage,
  UnmaskResponseMessage,
} from './messages';
import { buildNeighbourGraph, NeighbourGraph } from './neighbour-graph';
import {
  advertisementSigningBytes,
  checkedFederationId,
  IDENTITY_KEY_BYTES,
  IDENTITY_SIGNATURE_BYTES,
  shareCommitment,
  signStatement,
  SurvivorView,
  survivorViewSigningBytes,
  verifyStatement,
} from './round-signatures';
import { checkGraphForRound, ResolvedParameters, resolveParameters, SecureAggregationParameters } from './round-parameters';
import {
  openSealedShare,
  SECRET_BYTES,
  SealedShare,
  sealingKey,
  sealShare,
  selfMaskSeedCommitment,
  splitSecret,
} from './shares';
import { assertClientId, bytesFromUint32LE, copyBytes, describeWireValue, sortedClientIds } from './wire-bytes';

/**
 * One client's side of a secure-aggregation round, step by step:
 *
 *   advertiseKeys()            -> AdvertiseKeysMessage              phase 'keys-advertised'
 *   shareKeys(directory)       -> ShareKeysMessage (async: Shamir)  phase 'keys-shared'
 *   acceptSealedShares(sealed)                                      phase 'shares-received'
 *   maskInput(vector)          -> MaskedInputMessage                phase 'input-masked'
 *   signSurvivorView(check)    -> ConsistencySignatureMessage       phase 'view-signed'
 *   unmask(request)            -> UnmaskResponseMessage             (again only if consistent)
 *
 * Against an actively malicious coordinator: the advertisement is signed with the client's
 * identity key and bound to the federation (the coordinator's pinned public key) and round; every
 * neighbour's advertisement in the directory must verify, under an identity key that matches the
 * one pinned for that id (if any), and no key may repeat. Before revealing any share the client
 * signs the survivor view it was shown (after checking that its masking partners are all in it and
 * that the survivors' graph is connected), and it reveals nothing unless at least `threshold` of
 * its masking partners signed that same view.
 *
 * A refused message (a SecureAggregationError) leaves the state as it was; the caller decides
 * whether to abort the round. Secrets never leave the object except as Shamir shares inside sealed
 * shares. Secrets no longer needed are overwritten with zeros (best effort: JavaScript may have
 * copied them). A client object serves one round: make a new one per round (fresh keys).
 */
export type SecureAggregationClientPhase = 'ready' | 'keys-advertised' | 'keys-shared' | 'shares-received' | 'input-masked' | 'view-signed';

export interface SecureAggregationClientOptions {
  /**
   * Randomness for the key pairs, the self-mask seed and the sealing nonces; defaults to
   * tweetnacl's CSPRNG. Inject a deterministic source only in tests. (The Shamir polynomials always
   * use Node's CSPRNG inside shamir-secret-sharing.)
   */
  randomBytes?: (length: number) => Uint8Array;
  /** This client's Ed25519 identity (the key it enrolled with): signs its advertisement and survivor view. */
  identity: Ed25519KeyPair;
  /** The federation these signatures are bound to: the coordinator's Ed25519 public key, as pinned by the client. */
  federationId: Uint8Array;
  /**
   * Identity keys this client already knows by client id (pinned from earlier rounds, or given out of
   * band): a directory entry whose identity key differs is refused (BAD_SIGNATURE). Ids not in the
   * map are taken on the coordinator's word (trust on first use).
   */
  knownIdentityKeys?: ReadonlyMap<string, Uint8Array>;
}

interface HeldShares {
  selfMaskSeedShare: Uint8Array;
  maskingKeyShare: Uint8Array;
}

type RevealedShare = 'self-mask seed' | 'masking key';

export class SecureAggregationClient {
  readonly parameters: ResolvedParameters;
  private phaseNow: SecureAggregationClientPhase = 'ready';
  private sharingInProgress = false;
  private readonly randomBytes: (length: number) => Uint8Array;
  private readonly identity: Ed25519KeyPair;
  private readonly federationId: Uint8Array;
  private readonly knownIdentityKeys: ReadonlyMap<string, Uint8Array>;
  private graph: NeighbourGraph | null = null;
  /** The survivor view this client signed (round 3). */
  private signedView: SurvivorView | null = null;
  private viewSurvivors = new Set<string>();
  private viewDropped = new Set<string>();

  private maskingKeys: nacl.BoxKeyPair | null = null;
  private encryptionKeys: nacl.BoxKeyPair | null = null;
  private selfMaskSeed: Uint8Array | null = null;
  private participants = new Map<string, ParticipantKeys>();
  private neighbours: readonly string[] = [];
  private sealingKeys = new Map<string, Uint8Array>();
  /** Shares this client holds of its neighbours' secrets, by owner: its masking partners. */
  private heldShares = new Map<string, HeldShares>();
  /** Which share of each owner this client has revealed (never both). */
  private revealed = new Map<string, RevealedShare>();

  constructor(
    readonly clientId: string,
    parameters: SecureAggregationParameters,
    options: SecureAggregationClientOptions,
  ) {
    assertClientId(clientId);
    this.parameters = resolveParameters(parameters);
    this.randomBytes = options.randomBytes ?? nacl.randomBytes;
    const { identity } = options;
    if (!(identity?.publicKey instanceof Uint8Array) || identity.publicKey.byteLength !== IDENTITY_KEY_BYTES || !(identity.secretKey instanceof Uint8Array) || identity.secretKey.byteLength !== 64) {
      throw new SecureAggregationError('INVALID_PARAMETERS', 'identity must be an Ed25519 key pair (32-byte public, 64-byte secret key)');
    }
    this.identity = identity;
    this.federationId = checkedFederationId(options.federationId);
    this.knownIdentityKeys = options.knownIdentityKeys ?? new Map();
  }

  /**
   * After shareKeys: the identity keys of this client's neighbours, whose signed advertisements it
   * checked (not the other participants', which it did not): what a caller may pin for later rounds.
   */
  get directoryIdentityKeys(): Map<string, Uint8Array> {
    return new Map(this.neighbours.map((id) => [id, new Uint8Array(this.participants.get(id)!.identityPublicKey)]));
  }

  get phase(): SecureAggregationClientPhase {
    return this.phaseNow;
  }

  /** The neighbours this client masks with (those whose sealed shares it accepted), in code-unit order. */
  get maskingPartners(): string[] {
    return sortedClientIds(this.heldShares.keys());
  }

  /** Round 0: fresh masking and encryption key pairs for this round; only the public halves leave. */
  advertiseKeys(): AdvertiseKeysMessage {
    this.expectPhase('ready', 'advertise keys');
    this.maskingKeys = nacl.box.keyPair.fromSecretKey(this.freshSecret());
    this.encryptionKeys = nacl.box.keyPair.fromSecretKey(this.freshSecret());
    this.phaseNow = 'keys-advertised';
    const keys = {
      roundId: this.parameters.roundId,
      clientId: this.clientId,
      maskingPublicKey: new Uint8Array(this.maskingKeys.publicKey),
      encryptionPublicKey: new Uint8Array(this.encryptionKeys.publicKey),
    };
    return {
      kind: 'secagg.advertise-keys',
      ...keys,
      identityPublicKey: new Uint8Array(this.identity.publicKey),
      signature: signStatement(advertisementSigningBytes({ federationId: this.federationId, ...keys }), this.identity.secretKey),
    };
  }

  /**
   * Round 1: checks the directory (this round, this client's own keys, no repeated id or key, each
   * neighbour's advertisement signed for this federation and round by an identity key that matches
   * the pinned one, a threshold that is a majority of its neighbours), picks the self-mask seed b_u, splits b_u and the masking secret key into
   * t-of-k Shamir shares, one per neighbour, and seals each neighbour's pair to it.
   */
  async shareKeys(directory: KeyDirectoryMessage): Promise<ShareKeysMessage> {
    this.expectPhase('keys-advertised', 'share keys');
    if (this.sharingInProgress) throw new SecureAggregationError('WRONG_PHASE', 'shareKeys is already running');
    this.expectRound(directory.roundId, 'key directory');
    const participants = this.readDirectory(directory);
    const graph = buildNeighbourGraph([...participants.keys()], this.parameters.graph);
    checkGraphForRound(this.parameters, graph);
    const neighbours = graph.neighboursOf(this.clientId);
    // Only the neighbours' keys are used: check their signatures (k verifications, not n).
    for (const neighbour of neighbours) this.verifyAdvertisement(participants.get(neighbour)!);
    const { roundId, threshold } = this.parameters;
    const maskingKeys = this.maskingKeys!;
    const encryptionKeys = this.encryptionKeys!;

    const selfMaskSeed = this.freshSecret();
    this.sharingInProgress = true;
    let seedShares: Map<string, Uint8Array>;
    let keyShares: Map<string, Uint8Array>;
    try {
      seedShares = await splitSecret(selfMaskSeed, neighbours, threshold);
      keyShares = await splitSecret(maskingKeys.secretKey, neighbours, threshold);
    } finally {
      this.sharingInProgress = false;
    }

    const sealingKeys = new Map<string, Uint8Array>();
    const sealedShares: SealedShare[] = neighbours.map((neighbour) => {
      const key = sealingKey(participants.get(neighbour)!.encryptionPublicKey, encryptionKeys.secretKey);
      sealingKeys.set(neighbour, key);
      return sealShare(
        {
          roundId,
          senderId: this.clientId,
          recipientId: neighbour,
          selfMaskSeedShare: seedShares.get(neighbour)!,
          maskingKeyShare: keyShares.get(neighbour)!,
        },
        key,
        this.randomBytes,
      );
    });

    const shareCommitments = neighbours.map((neighbour) => ({
      holderId: neighbour,
      selfMaskSeedShare: shareCommitment(seedShares.get(neighbour)!, roundId, this.clientId, neighbour, 'self-mask seed'),
      maskingKeyShare: shareCommitment(keyShares.get(neighbour)!, roundId, this.clientId, neighbour, 'masking key'),
    }));
    this.participants = participants;
    this.graph = graph;
    this.neighbours = neighbours;
    this.sealingKeys = sealingKeys;
    this.selfMaskSeed = selfMaskSeed;
    this.phaseNow = 'keys-shared';
    return {
      kind: 'secagg.share-keys',
      roundId,
      clientId: this.clientId,
      selfMaskSeedCommitment: selfMaskSeedCommitment(selfMaskSeed, roundId, this.clientId),
      sealedShares,
      shareCommitments,
    };
  }

  /**
   * Round 1 reply: opens the sealed shares addressed to this client. Each must come from a
   * neighbour, once, authenticate under that neighbour's advertised key and name this round, that
   * sender and this recipient inside. The senders become this client's masking partners; fewer than
   * `threshold` of them would make this client's own input impossible to unmask (BELOW_THRESHOLD).
   */
  acceptSealedShares(delivery: SealedSharesMessage): void {
    this.expectPhase('keys-shared', 'accept sealed shares');
    this.expectRound(delivery.roundId, 'sealed shares');
    if (delivery.recipientId !== this.clientId) {
      throw new SecureAggregationError(
        'SHARE_REJECTED',
        `sealed shares addressed to ${describeWireValue(delivery.recipientId)}, not ${this.clientId}`,
      );
    }
    if (!Array.isArray(delivery.sealedShares)) {
      throw new SecureAggregationError('BAD_MESSAGE', 'sealedShares must be an array');
    }
    const held = new Map<string, HeldShares>();
    for (const sealed of delivery.sealedShares) {
      assertClientId(sealed?.senderId, 'sealed share sender');
      const sender = sealed.senderId;
      if (!this.neighbours.includes(sender)) {
        throw new SecureAggregationError(
          'NOT_A_NEIGHBOUR',
          `sealed share from ${sender}, which is not a neighbour of ${this.clientId}`,
        );
      }
      if (held.has(sender)) throw new SecureAggregationError('DUPLICATE', `two sealed shares from ${sender}`);
      const plaintext = openSealedShare(sealed, this.sealingKeys.get(sender)!, {
        roundId: this.parameters.roundId,
        senderId: sender,
        recipientId: this.clientId,
      });
      held.set(sender, { selfMaskSeedShare: plaintext.selfMaskSeedShare, maskingKeyShare: plaintext.maskingKeyShare });
    }
    if (held.size < this.parameters.threshold) {
      throw new SecureAggregationError(
        'BELOW_THRESHOLD',
        `${held.size} neighbour(s) of ${this.clientId} shared keys, fewer than the threshold ${this.parameters.threshold}: ` +
          'its input could not be unmasked',
      );
    }
    this.heldShares = held;
    this.encryptionKeys!.secretKey.fill(0);
    for (const key of this.sealingKeys.values()) key.fill(0);
    this.sealingKeys.clear();
    this.phaseNow = 'shares-received';
  }

  /**
   * Round 2: y_u = encode(x_u) + PRG_self(b_u) + sum over partners v of (+PRG(s_{u,v}) if u < v,
   * -PRG(s_{u,v}) if u > v), mod 2^32, with s_{u,v} = nacl.box.before(s_v^PK, s_u^SK). Throws
   * VALUE_OUT_OF_RANGE for a value outside the fixed-point range.
   */
  maskInput(values: ArrayLike<number>): MaskedInputMessage {
    this.expectPhase('shares-received', 'mask its input');
    const { roundId, vectorLength, fixedPoint } = this.parameters;
    if (values.length !== vectorLength) {
      throw new SecureAggregationError(
        'INVALID_PARAMETERS',
        `input has ${values.length} elements, the round expects ${vectorLength}`,
      );
    }
    const masked = encodeFixedPoint(values, fixedPoint);
    addMaskInPlace(masked, maskStream(this.selfMaskSeed!, roundId, 'self', vectorLength), 1);
    const maskingSecretKey = this.maskingKeys!.secretKey;
    for (const partner of this.heldShares.keys()) {
      const pairKey = nacl.box.before(this.participants.get(partner)!.maskingPublicKey, maskingSecretKey);
      addMaskInPlace(masked, maskStream(pairKey, roundId, 'pairwise', vectorLength), pairwiseMaskSign(this.clientId, partner));
      pairKey.fill(0);
    }
    // Both secrets now live on only as the neighbours' shares.
    maskingSecretKey.fill(0);
    this.selfMaskSeed!.fill(0);
    this.phaseNow = 'input-masked';
    return { kind: 'secagg.masked-input', roundId, clientId: this.clientId, maskedInput: bytesFromUint32LE(masked) };
  }

  /**
   * Round 3 (consistency check): checks the survivor view and signs it. Refuses (and signs nothing)
   * when the lists are malformed or overlap, do not list this client as a survivor, name a client
   * that is not in the directory, leave out one of its masking partners or list a neighbour that is
   * not one (the coordinator withheld shares), leave it fewer than `threshold` surviving partners,
   * or when the survivors' neighbour graph is not connected (groups sharing no masks: unmasking
   * would reveal each group's sum).
   */
  signSurvivorView(check: ConsistencyCheckMessage): ConsistencySignatureMessage {
    this.expectPhase('input-masked', 'sign a survivor view');
    this.expectRound(check.roundId, 'consistency check');
    if (check.recipientId !== this.clientId) {
      throw new SecureAggregationError('BAD_MESSAGE', `consistency check addressed to ${String(check.recipientId)}, not ${this.clientId}`);
    }
    const survivors = this.readIdList(check.survivors, 'survivors', 'consistency check');
    const dropped = this.readIdList(check.dropped, 'dropped', 'consistency check');
    for (const id of [...survivors, ...dropped]) {
      if (!this.participants.has(id)) throw new SecureAggregationError('UNKNOWN_CLIENT', `consistency check lists ${id}, which is not in the key directory`);
      if (survivors.has(id) && dropped.has(id)) {
        throw new SecureAggregationError('INCONSISTENT_LISTS', `consistency check lists ${id} both as survivor and as dropped`);
      }
    }
    if (!survivors.has(this.clientId)) {
      throw new SecureAggregationError('INCONSISTENT_LISTS', `consistency check does not list ${this.clientId} among the survivors, but it sent its masked input`);
    }
    for (const neighbour of this.neighbours) {
      const listed = survivors.has(neighbour) || dropped.has(neighbour);
      if (listed !== this.heldShares.has(neighbour)) {
        throw new SecureAggregationError(
          'INCONSISTENT_LISTS',
          listed
            ? `consistency check lists ${neighbour} as having shared keys, but ${this.clientId} received no shares from it`
            : `consistency check leaves out ${neighbour}, which shared keys with ${this.clientId}`,
        );
      }
    }
    const survivingPartners = this.maskingPartners.filter((id) => survivors.has(id)).length;
    if (survivingPartners < this.parameters.threshold) {
      throw new SecureAggregationError(
        'BELOW_THRESHOLD',
        `consistency check leaves ${this.clientId} ${survivingPartners} surviving masking partner(s), fewer than the threshold ${this.parameters.threshold}`,
      );
    }
    if (!this.graph!.isConnectedAmong(survivors)) {
      throw new SecureAggregationError(
        'SURVIVORS_DISCONNECTED',
        `the ${survivors.size} survivors split into groups that share no masks: unmasking would reveal each group's sum`,
      );
    }
    const view: SurvivorView = {
      federationId: this.federationId,
      roundId: this.parameters.roundId,
      survivors: sortedClientIds(survivors),
      dropped: sortedClientIds(dropped),
    };
    this.signedView = view;
    this.viewSurvivors = survivors;
    this.viewDropped = dropped;
    this.phaseNow = 'view-signed';
    return {
      kind: 'secagg.consistency-signature',
      roundId: this.parameters.roundId,
      clientId: this.clientId,
      signature: signStatement(survivorViewSigningBytes(view, this.clientId), this.identity.secretKey),
    };
  }

  /**
   * Round 4: first the consistency check: every signature in the request must be by a surviving
   * masking partner, on the very view this client signed (INCONSISTENT_VIEWS otherwise: the
   * coordinator showed different views), and at least `threshold` partners must have signed.
   * Then refuses (and reveals nothing) when the request lists a client both as survivor and as
   * dropped, lists this client as dropped or not as a survivor, lists a client that is not one of
   * its masking partners, has fewer than `threshold` survivors, or contradicts an earlier request.
   * Otherwise returns its share of b_v for each listed survivor and of s_v^SK for each listed
   * dropped neighbour.
   */
  unmask(request: UnmaskRequestMessage): UnmaskResponseMessage {
    this.expectPhase('view-signed', 'answer an unmask request');
    this.expectRound(request.roundId, 'unmask request');
    if (request.recipientId !== this.clientId) {
      throw new SecureAggregationError(
        'BAD_MESSAGE',
        `unmask request addressed to ${describeWireValue(request.recipientId)}, not ${this.clientId}`,
      );
    }
    this.checkViewSignatures(request.signatures);
    const survivors = this.readIdList(request.survivors, 'survivors');
    const dropped = this.readIdList(request.dropped, 'dropped');
    if (dropped.has(this.clientId)) {
      throw new SecureAggregationError(
        'INCONSISTENT_LISTS',
        `unmask request lists ${this.clientId} itself as dropped, but it sent its masked input`,
      );
    }
    for (const id of survivors) {
      if (dropped.has(id)) {
        throw new SecureAggregationError(
          'INCONSISTENT_LISTS',
          `unmask request lists ${id} both as survivor and as dropped`,
        );
      }
    }
    if (!survivors.has(this.clientId)) {
      throw new SecureAggregationError(
        'INCONSISTENT_LISTS',
        `unmask request does not list ${this.clientId} among the survivors, but it sent its masked input`,
      );
    }
    for (const id of [...survivors, ...dropped]) {
      if (id !== this.clientId && !this.heldShares.has(id)) {
        const why = this.neighbours.includes(id)
          ? 'a neighbour that sent no shares, so not one of its masking partners'
          : 'not one of its neighbours';
        throw new SecureAggregationError('NOT_A_NEIGHBOUR', `unmask request to ${this.clientId} lists ${id}, ${why}`);
      }
    }
    if (survivors.size < this.parameters.threshold) {
      throw new SecureAggregationError(
        'BELOW_THRESHOLD',
        `unmask request lists ${survivors.size} survivor(s) around ${this.clientId}, fewer than the threshold ${this.parameters.threshold}`,
      );
    }
    for (const id of survivors) {
      if (this.revealed.get(id) === 'masking key') {
        throw new SecureAggregationError(
          'INCONSISTENT_LISTS',
          `${id} is listed as survivor, but an earlier request listed it as dropped`,
        );
      }
    }
    for (const id of dropped) {
      if (this.revealed.get(id) === 'self-mask seed') {
        throw new SecureAggregationError(
          'INCONSISTENT_LISTS',
          `${id} is listed as dropped, but an earlier request listed it as survivor`,
        );
      }
    }

    for (const id of survivors) {
      if (!this.viewSurvivors.has(id)) {
        throw new SecureAggregationError('INCONSISTENT_LISTS', `unmask request lists ${id} as survivor, but the signed survivor view does not`);
      }
    }
    for (const id of dropped) {
      if (!this.viewDropped.has(id)) {
        throw new SecureAggregationError('INCONSISTENT_LISTS', `unmask request lists ${id} as dropped, but the signed survivor view does not`);
      }
    }

    const selfMaskSeedShares: OwnedShare[] = [];
    const maskingKeyShares: OwnedShare[] = [];
    for (const id of sortedClientIds(survivors)) {
      if (id === this.clientId) continue;
      selfMaskSeedShares.push({ ownerId: id, share: new Uint8Array(this.heldShares.get(id)!.selfMaskSeedShare) });
      this.revealed.set(id, 'self-mask seed');
    }
    for (const id of sortedClientIds(dropped)) {
      maskingKeyShares.push({ ownerId: id, share: new Uint8Array(this.heldShares.get(id)!.maskingKeyShare) });
      this.revealed.set(id, 'masking key');
    }
    return { kind: 'secagg.unmask-response', roundId: this.parameters.roundId, clientId: this.clientId, selfMaskSeedShares, maskingKeyShares };
  }

  private checkViewSignatures(signatures: unknown): void {
    if (!Array.isArray(signatures)) {
      throw new SecureAggregationError('BAD_MESSAGE', 'unmask request: signatures must be an array');
    }
    const view = this.signedView!;
    const signers = new Set<string>();
    for (const entry of signatures as unknown[]) {
      const signer = (entry as { clientId?: unknown } | null)?.clientId;
      assertClientId(signer, 'survivor-view signer');
      if (signers.has(signer)) throw new SecureAggregationError('DUPLICATE', `unmask request carries two survivor-view signatures of ${signer}`);
      if (!this.heldShares.has(signer) || !this.viewSurvivors.has(signer)) {
        throw new SecureAggregationError('NOT_A_NEIGHBOUR', `unmask request carries a survivor-view signature of ${signer}, not a surviving masking partner of ${this.clientId}`);
      }
      const signature = copyBytes((entry as { signature?: unknown }).signature, `survivor-view signature of ${signer}`, IDENTITY_SIGNATURE_BYTES);
      if (!verifyStatement(survivorViewSigningBytes(view, signer), signature, this.participants.get(signer)!.identityPublicKey)) {
        throw new SecureAggregationError(
          'INCONSISTENT_VIEWS',
          `the survivor-view signature of ${signer} does not verify on the view ${this.clientId} signed ` +
            `(${view.survivors.length} survivors, ${view.dropped.length} dropped): the coordinator showed different views, or forged it`,
        );
      }
      signers.add(signer);
    }
    if (signers.size < this.parameters.threshold) {
      throw new SecureAggregationError(
        'BELOW_THRESHOLD',
        `${signers.size} masking partner(s) of ${this.clientId} signed its survivor view, fewer than the threshold ${this.parameters.threshold}: it reveals nothing`,
      );
    }
  }

  /** A neighbour's advertisement: signed for this federation and round by its identity key, which matches the pinned one. */
  private verifyAdvertisement(keys: ParticipantKeys): void {
    const pinned = this.knownIdentityKeys.get(keys.clientId);
    if (pinned !== undefined && !nacl.verify(new Uint8Array(pinned), keys.identityPublicKey)) {
      throw new SecureAggregationError(
        'BAD_SIGNATURE',
        `key directory gives ${keys.clientId} an identity key other than the one ${this.clientId} pinned for it (a substituted key)`,
      );
    }
    const signed = advertisementSigningBytes({ federationId: this.federationId, roundId: this.parameters.roundId, ...keys });
    if (!verifyStatement(signed, keys.signature, keys.identityPublicKey)) {
      throw new SecureAggregationError(
        'BAD_SIGNATURE',
        `the key advertisement of ${keys.clientId} does not verify under its identity key for this federation and round ` +
          '(substituted keys, or replayed from another federation or round)',
      );
    }
  }

  private readDirectory(directory: KeyDirectoryMessage): Map<string, ParticipantKeys> {
    if (!Array.isArray(directory.participants)) {
      throw new SecureAggregationError('BAD_MESSAGE', 'key directory: participants must be an array');
    }
    const participants = new Map<string, ParticipantKeys>();
    const seenKeys = new Set<string>();
    for (const entry of directory.participants) {
      assertClientId(entry?.clientId, 'key directory client id');
      const keys: ParticipantKeys = {
        clientId: entry.clientId,
        maskingPublicKey: copyBytes(entry.maskingPublicKey, `masking public key of ${entry.clientId}`, nacl.box.publicKeyLength),
        encryptionPublicKey: copyBytes(entry.encryptionPublicKey, `encryption public key of ${entry.clientId}`, nacl.box.publicKeyLength),
        identityPublicKey: copyBytes(entry.identityPublicKey, `identity public key of ${entry.clientId}`, IDENTITY_KEY_BYTES),
        signature: copyBytes(entry.signature, `advertisement signature of ${entry.clientId}`, IDENTITY_SIGNATURE_BYTES),
      };
      if (participants.has(keys.clientId)) {
        throw new SecureAggregationError('DUPLICATE', `key directory lists ${keys.clientId} twice`);
      }
      for (const key of [keys.maskingPublicKey, keys.encryptionPublicKey, keys.identityPublicKey]) {
        const hex = Buffer.from(key).toString('hex');
        if (seenKeys.has(hex)) {
          throw new SecureAggregationError('KEY_MISMATCH', `key directory repeats a public key (at ${keys.clientId})`);
        }
        seenKeys.add(hex);
      }
      participants.set(keys.clientId, keys);
    }
    const own = participants.get(this.clientId);
    if (
      own === undefined ||
      !nacl.verify(own.maskingPublicKey, this.maskingKeys!.publicKey) ||
      !nacl.verify(own.encryptionPublicKey, this.encryptionKeys!.publicKey) ||
      !nacl.verify(own.identityPublicKey, this.identity.publicKey)
    ) {
      throw new SecureAggregationError(
        'KEY_MISMATCH',
        `key directory does not hold the keys ${this.clientId} advertised`,
      );
    }
    return participants;
  }

  private readIdList(list: unknown, what: string, message = 'unmask request'): Set<string> {
    if (!Array.isArray(list)) {
      throw new SecureAggregationError('BAD_MESSAGE', `${message}: ${what} must be an array`);
    }
    const ids = new Set<string>();
    for (const id of list) {
      assertClientId(id, `${message} ${what} entry`);
      if (ids.has(id)) {
        throw new SecureAggregationError('INCONSISTENT_LISTS', `${message} lists ${id} twice among the ${what}`);
      }
      ids.add(id);
    }
    return ids;
  }

  private freshSecret(): Uint8Array {
    const bytes = this.randomBytes(SECRET_BYTES);
    if (!(bytes instanceof Uint8Array) || bytes.byteLength !== SECRET_BYTES) throw new RangeError('randomBytes returned the wrong length');
    return new Uint8Array(bytes);
  }

  private expectPhase(phase: SecureAggregationClientPhase, action: string): void {
    if (this.phaseNow !== phase) {
      throw new SecureAggregationError(
        'WRONG_PHASE',
        `${this.clientId} cannot ${action} in phase '${this.phaseNow}' (needs '${phase}')`,
      );
    }
  }

  private expectRound(roundId: unknown, what: string): void {
    if (roundId !== this.parameters.roundId) {
      throw new SecureAggregationError(
        'WRONG_ROUND',
        `${what} for round ${describeWireValue(roundId)}, this client is in round ${this.parameters.roundId}`,
      );
    }
  }
}
