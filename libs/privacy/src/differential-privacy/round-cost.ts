import { DEFAULT_ORDERS, rdpGaussian, rdpGnmaxDataIndependent } from './accountant';
import { clippedSumL2Sensitivity } from './mechanisms';

/** A private round's mechanism, as the coordinator announces it (libs/protocol's PrivacySpec). */
export type PrivateMechanism =
  | { mechanism: 'gnmax'; sigma: number }
  | { mechanism: 'confident-gnmax'; threshold: number; sigma1: number; sigma2: number }
  | { mechanism: 'gaussian'; clipNorm: number; sigma: number };

/**
 * RDP (per order of `orders`, default DEFAULT_ORDERS) that one client pays for answering `queries` proxy inputs
 * with `spec`, data-independent, per private example (which moves one teacher):
 *  - gnmax: alpha / sigma^2 per query (two counts move by 1: L2 sensitivity sqrt 2);
 *  - confident-gnmax: the client sends its whole noisy vote vector for the threshold check (noise
 *    sigma1), so the check costs a full noisy-count release (alpha / sigma1^2, not the top count's
 *    alpha / (2 sigma1^2)), plus GNMax with sigma2 on every query: the client cannot know which
 *    queries the sum will answer, so it pays as if all were;
 *  - gaussian: the clipped probability row of one teacher changes by at most 2 x clipNorm.
 * The one place both the client's ledger and the coordinator's report get the cost from. A
 * client passes its ledger's orders (a ledger created before the default grid changed keeps its own).
 */
export function privateRoundRdp(spec: PrivateMechanism, queries: number, orders: readonly number[] = DEFAULT_ORDERS): number[] {
  let perQuery: number[];
  if (spec.mechanism === 'gnmax') perQuery = rdpGnmaxDataIndependent(spec.sigma, orders);
  else if (spec.mechanism === 'confident-gnmax') {
    const check = rdpGnmaxDataIndependent(spec.sigma1, orders);
    perQuery = rdpGnmaxDataIndependent(spec.sigma2, orders).map((r, i) => r + check[i]);
  } else perQuery = rdpGaussian(spec.sigma / clippedSumL2Sensitivity(spec.clipNorm), orders);
  return perQuery.map((r) => r * queries);
}

/** Values each client sends per proxy input and class: confident-gnmax sends two noisy vote vectors. */
export function privateValuesPerEntry(spec: PrivateMechanism): number {
  return spec.mechanism === 'confident-gnmax' ? 2 : 1;
}
