import type { Generated } from 'kysely';

/**
 * The coordinator's tables as Kysely sees them (one description for SQLite and PostgreSQL).
 * Integers are numbers on both (PostgreSQL's bigint is parsed to a safe number), JSON columns are
 * their text, blobs are Buffers.
 */
export interface CoordinatorSchema {
  schema_migrations: { version: number; name: string; applied_at: number };
  clients: {
    id: string;
    name: string;
    architecture: string;
    sample_count: number | null;
    first_seen_at: number;
    last_seen_at: number;
    status: Generated<string>;
  };
  rounds: {
    number: number;
    state: string;
    reason: string | null;
    config: string;
    opened_at: number;
    closed_at: number | null;
    metrics: string | null;
    timings: string | null;
  };
  round_transitions: {
    id: Generated<number>;
    round: number;
    from_state: string | null;
    to_state: string;
    reason: string | null;
    at: number;
  };
  round_participants: {
    round: number;
    client_id: string;
    status: string;
    reason: string | null;
    bytes_uploaded: Generated<number>;
    answered_at: number | null;
  };
  models: {
    version: number;
    round: number;
    sha256: string;
    blob: Uint8Array;
    byte_length: number;
    metrics: string;
    created_at: number;
  };
  enrolment_tokens: {
    id: Generated<number>;
    client_name: string;
    token_hash: string;
    created_at: number;
    expires_at: number;
    used_at: number | null;
  };
  identities: { client_name: string; public_key: string; enrolled_at: number; revoked_at: number | null };
  generator_states: { round: number; generator: Uint8Array; optimiser: Uint8Array; created_at: number };
  client_reputations: {
    client_id: string;
    round: number;
    agreement: number;
    reputation: number;
    weight: number;
    flagged: number;
  };
  api_tokens: {
    id: Generated<number>;
    name: string;
    scope: string;
    token_hash: string;
    created_at: number;
    revoked_at: number | null;
  };
  client_privacy_curves: { client_id: string; orders: string; rdp: Uint8Array; private_rounds: number; through_round: number };
  replay_examples: {
    round: number;
    count: number;
    input_shape: string;
    encoding: string;
    inputs: Uint8Array;
    targets: Uint8Array;
  };
}
