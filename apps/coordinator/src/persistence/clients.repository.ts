import type { ArchitectureDescription } from '@fedkd/engine';

export type ClientStatus = 'active' | 'revoked';

/** A client the coordinator has seen: what it is, never anything about its data but its size. */
export interface ClientRecord {
  /** Coordinator-assigned, stable across reconnections ('c-' + 12 hex digits). */
  id: string;
  /** Operator-chosen, unique (the handshake's clientName). */
  name: string;
  architecture: ArchitectureDescription;
  /** Private sample count, only when the client chose to share it in its last hello. */
  sampleCount: number | null;
  /** Epoch milliseconds. */
  firstSeenAt: number;
  lastSeenAt: number;
  status: ClientStatus;
}

/** What a client says when it connects (its hello), keyed by its name. */
export interface ClientConnection {
  name: string;
  architecture: ArchitectureDescription;
  /** Omitted or null: the client does not share it (any earlier value is forgotten). */
  sampleCount?: number | null;
  /** Epoch milliseconds; defaults to the repository's clock. */
  seenAt?: number;
}

/** The Repository seam for clients (DESIGN.md): SQLite or PostgreSQL. */
export interface ClientsRepository {
  /**
   * Registers a first connection (new id, status 'active') or refreshes a known client: its
   * architecture, sample count and lastSeenAt change; its id, firstSeenAt and status do not, so a
   * revoked client stays revoked (the caller refuses it).
   */
  upsertOnConnect(connection: ClientConnection): Promise<ClientRecord>;
  getById(id: string): Promise<ClientRecord | null>;
  getByName(name: string): Promise<ClientRecord | null>;
  /** Every client, by name. */
  list(): Promise<ClientRecord[]>;
  /** Revokes or reinstates a client; throws NOT_FOUND for an unknown id. */
  setStatus(id: string, status: ClientStatus): Promise<ClientRecord>;
}
