/** One client's part in one round aggregated by a reputation rule: the evidence behind its weight. */
export interface ReputationRecord {
  clientId: string;
  round: number;
  /** 1 - mean total-variation distance of its answer to the round's robust consensus, in [0, 1]. */
  agreement: number;
  /** Its reputation after this round (the running combination of its agreements). */
  reputation: number;
  /** Its weight in the round's target (0 when flagged). */
  weight: number;
  /** It did not count in the round's target: its reputation was too far below the round's median. */
  flagged: boolean;
}

/** The Repository seam for client reputations (one row per client and round of a reputation rule). */
export interface ReputationsRepository {
  /** Stores one round's evidence (all of it or none); a round recorded twice throws. */
  record(round: number, entries: readonly Omit<ReputationRecord, 'round'>[]): Promise<void>;
  /** Each client's reputation after the last round it took part in: the priors of the next round. */
  latest(): Promise<Map<string, number>>;
  /** Every client's evidence, oldest round first, by client id. */
  historyByClient(): Promise<Map<string, ReputationRecord[]>>;
}
