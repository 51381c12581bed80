/** An enrolled client: its name and the Ed25519 public key it proved it holds when enrolling. */
export interface IdentityRecord {
  clientName: string;
  /** Base64 Ed25519 public key (32 bytes). */
  publicKey: string;
  enrolledAt: number;
  revokedAt: number | null;
}

export interface EnrolmentTokenRecord {
  clientName: string;
  /** SHA-512 hex of the token: the token itself is shown once and never stored. */
  tokenHash: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

/** The Repository seam for enrolment: one-time tokens and the identities they admit. */
export interface IdentitiesRepository {
  addToken(token: Omit<EnrolmentTokenRecord, 'usedAt' | 'createdAt'>): Promise<EnrolmentTokenRecord>;
  /** The unused token with this hash, if any (expired ones included: the caller says why it fails). */
  findToken(tokenHash: string): Promise<EnrolmentTokenRecord | null>;
  /**
   * Marks the token used and registers (or re-keys) the identity, in one transaction; refuses a
   * token that is already used (a second use loses the race and gets 'token already used').
   */
  enrol(tokenHash: string, clientName: string, publicKey: string): Promise<IdentityRecord>;
  get(clientName: string): Promise<IdentityRecord | null>;
  list(): Promise<IdentityRecord[]>;
  revoke(clientName: string): Promise<IdentityRecord>;
}
