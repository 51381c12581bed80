/** What a REST API token may do: `admin` (run rounds, and read) or `read` (GET the API). */
export type ApiTokenScope = 'admin' | 'read';
export const API_TOKEN_SCOPES: readonly ApiTokenScope[] = ['admin', 'read'];

/** A REST API token as stored: its SHA-256, never the token itself (shown once, by `fedkd admin token create`). */
export interface ApiTokenRecord {
  id: number;
  name: string;
  scope: ApiTokenScope;
  /** SHA-256 (lower-case hex) of the token's UTF-8 bytes. */
  tokenHash: string;
  createdAt: number;
  revokedAt: number | null;
}

/** The Repository seam for REST API tokens. */
export interface ApiTokensRepository {
  /** Stores a new token; refuses (ALREADY_EXISTS) a name held by an unrevoked token. */
  add(token: { name: string; scope: ApiTokenScope; tokenHash: string }): Promise<ApiTokenRecord>;
  /** The token with this hash, revoked or not (the caller says why a revoked one fails). */
  findByHash(tokenHash: string): Promise<ApiTokenRecord | null>;
  /** Every token, oldest first. */
  list(): Promise<ApiTokenRecord[]>;
  /**
   * Revokes the token with this id (a decimal number) or, failing that, the unrevoked one with this
   * name; NOT_FOUND when neither exists. Revoking a revoked token keeps its first revocation time.
   */
  revoke(idOrName: string): Promise<ApiTokenRecord>;
}
