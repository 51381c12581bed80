/** The learned generator as a round left it: its public weights and the coordinator's optimiser state. */
export interface GeneratorStateRecord {
  round: number;
  /** encodeLearnedGenerator blob: what the next round sends to the clients. */
  generator: Uint8Array;
  /** encodeOptimiserState blob: kept so that a restarted coordinator continues the same descent. */
  optimiser: Uint8Array;
  createdAt: number;
}

/** The Repository seam for the data-free mode's learned generator (one state per round that trained it). */
export interface GeneratorsRepository {
  save(state: Omit<GeneratorStateRecord, 'createdAt'>): Promise<GeneratorStateRecord>;
  /** The state of the latest round that trained the generator, or null before the first. */
  latest(): Promise<GeneratorStateRecord | null>;
}
