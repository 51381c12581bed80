import type { SealedShare } from './shares';

/**
 * The data messages of one secure-aggregation round (Bonawitz et al. 2017, rounds 0 to 4, with the
 * consistency check of round 3, against an actively malicious server). Plain objects with
 * Uint8Array fields, for any transport (socket.io carries Uint8Arrays as binary). Every message
 * names its round; receivers refuse other rounds. Signatures are by each client's identity key
 * over statements bound to the federation and round (see round-signatures.ts).
 *
 *   client -> server   AdvertiseKeysMessage        two fresh X25519 public keys, signed
 *   server -> clients  KeyDirectoryMessage         everyone's signed advertisements (the same list to all)
 *   client -> server   ShareKeysMessage            one sealed pair of shares per neighbour, with commitments
 *   server -> client   SealedSharesMessage         the sealed shares addressed to that client
 *   client -> server   MaskedInputMessage          the masked fixed-point vector
 *   server -> client   ConsistencyCheckMessage     the survivor view U3, U2 \ U3 (round 3)
 *   client -> server   ConsistencySignatureMessage its signature on the view it was shown
 *   server -> client   UnmaskRequestMessage        its neighbours' signatures on the view; survivors and dropped among its neighbours
 *   client -> server   UnmaskResponseMessage       shares of b_v (survivors) or s_v^SK (dropped)
 *
 * No client secret (masking or encryption secret key, self-mask seed, input) appears in any of
 * them except inside a sealed share, where it is one Shamir share of a secret; the unmask response
 * reveals to the server shares of other clients' secrets, as the protocol requires.
 */

/** Public keys of one participant for one round. */
export interface ParticipantKeys {
  clientId: string;
  /** X25519 public key s_u^PK: pairwise mask keys are agreed from it. */
  maskingPublicKey: Uint8Array;
  /** X25519 public key c_u^PK: shares are sealed to it. */
  encryptionPublicKey: Uint8Array;
  /** The client's Ed25519 identity key (the one it enrolled with); the coordinator checks it is the enrolled one. */
  identityPublicKey: Uint8Array;
  /** Ed25519 signature by the identity key over `advertisementSigningBytes` (federation, round, id, both keys). */
  signature: Uint8Array;
}

/** Round 0, client -> server. */
export interface AdvertiseKeysMessage extends ParticipantKeys {
  kind: 'secagg.advertise-keys';
  roundId: number;
}

/** Round 0 reply, server -> every participant: the same list for all; each entry carries its signature. */
export interface KeyDirectoryMessage {
  kind: 'secagg.key-directory';
  roundId: number;
  participants: ParticipantKeys[];
}

/** Round 1, client -> server: one sealed share pair per neighbour, opaque to the server. */
export interface ShareKeysMessage {
  kind: 'secagg.share-keys';
  roundId: number;
  clientId: string;
  /** Commitment to the self-mask seed b_u (see `selfMaskSeedCommitment`), checked after reconstruction. */
  selfMaskSeedCommitment: Uint8Array;
  sealedShares: SealedShare[];
  /** One per neighbour: `shareCommitment` of the two shares sealed to it, so corrupted shares can be discarded. */
  shareCommitments: ShareCommitments[];
}

export interface ShareCommitments {
  holderId: string;
  selfMaskSeedShare: Uint8Array;
  maskingKeyShare: Uint8Array;
}

/** Round 1 reply, server -> one client: the sealed shares its neighbours addressed to it. */
export interface SealedSharesMessage {
  kind: 'secagg.sealed-shares';
  roundId: number;
  recipientId: string;
  sealedShares: SealedShare[];
}

/** Round 2, client -> server: y_u = x_u + PRG(b_u) + sum_v (+/-) PRG(s_{u,v}) mod 2^32. */
export interface MaskedInputMessage {
  kind: 'secagg.masked-input';
  roundId: number;
  clientId: string;
  /** vectorLength u32 words, 4 bytes little-endian each. */
  maskedInput: Uint8Array;
}

/**
 * Round 3, server -> each survivor: the survivor view, global (every survivor of the round and every
 * client that shared keys but sent no input), each list in code-unit order. The client checks it
 * against its own neighbourhood and signs it.
 */
export interface ConsistencyCheckMessage {
  kind: 'secagg.consistency-check';
  roundId: number;
  recipientId: string;
  survivors: string[];
  dropped: string[];
}

/** Round 3 reply, client -> server: its identity key's signature over `survivorViewSigningBytes`. */
export interface ConsistencySignatureMessage {
  kind: 'secagg.consistency-signature';
  roundId: number;
  clientId: string;
  signature: Uint8Array;
}

export interface ViewSignature {
  clientId: string;
  signature: Uint8Array;
}

/**
 * Round 4, server -> one client. `signatures`: its neighbours' signatures on the survivor view
 * (the client reveals nothing unless at least `threshold` of its masking partners signed the very
 * view it signed). `survivors`: clients whose masked input is in the sum, among the
 * recipient and its neighbours (the recipient must be listed). `dropped`: neighbours that shared
 * keys but sent no masked input. A client answers for each survivor with its share of b_v and for
 * each dropped neighbour with its share of s_v^SK, never both for the same client.
 */
export interface UnmaskRequestMessage {
  kind: 'secagg.unmask-request';
  roundId: number;
  recipientId: string;
  survivors: string[];
  dropped: string[];
  signatures: ViewSignature[];
}

export interface OwnedShare {
  /** Whose secret this is a share of. */
  ownerId: string;
  share: Uint8Array;
}

/** Round 4 reply, client -> server. */
export interface UnmaskResponseMessage {
  kind: 'secagg.unmask-response';
  roundId: number;
  clientId: string;
  /** Shares of the self-mask seeds b_v of survivors. */
  selfMaskSeedShares: OwnedShare[];
  /** Shares of the masking secret keys s_v^SK of dropped neighbours. */
  maskingKeyShares: OwnedShare[];
}

export type SecureAggregationClientMessage =
  | AdvertiseKeysMessage
  | ShareKeysMessage
  | MaskedInputMessage
  | ConsistencySignatureMessage
  | UnmaskResponseMessage;

export type SecureAggregationServerMessage =
  | KeyDirectoryMessage
  | SealedSharesMessage
  | ConsistencyCheckMessage
  | UnmaskRequestMessage;
