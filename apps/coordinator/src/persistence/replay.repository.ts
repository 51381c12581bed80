import type { ReplayChange, ReplayChunk } from '@fedkd/distill';

/**
 * The Repository seam for the replay buffer (`--replay-size`): every round's answered inputs and
 * their aggregated answers, oldest first, so that a restarted coordinator's student still
 * rehearses them. The buffer's bound is kept by the library's ReplayBuffer; this store follows
 * the changes it reports.
 */
export interface ReplayRepository {
  /** Every stored round, oldest first. */
  all(): Promise<ReplayChunk[]>;
  /** Stores `added` and applies what adding it changed (rounds dropped whole, the oldest trimmed). */
  record(added: ReplayChunk, change: ReplayChange): Promise<void>;
}
