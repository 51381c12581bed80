/**
 * One client's running RDP curve: the sum, over every private round it answered, of that round's
 * RDP at each order of `orders` (the grid it was computed on), and how many such rounds there were.
 */
export interface PrivacyCurve {
  clientId: string;
  orders: readonly number[];
  rdp: readonly number[];
  privateRounds: number;
  /** The last private round added to the curve (0 when none). */
  throughRound: number;
}

/** The Repository seam for the running per-client privacy curves (one row per charged client). */
export interface PrivacyCurvesRepository {
  /** The client's stored curve, or null when it was never charged. */
  get(clientId: string): Promise<PrivacyCurve | null>;
  /** Inserts or replaces the client's curve. */
  save(curve: PrivacyCurve): Promise<void>;
  /** Every stored curve, by client id. */
  list(): Promise<PrivacyCurve[]>;
}
