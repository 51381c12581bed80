import { DEFAULT_ORDERS, validateNoiseScale, validateOrders } from './rdp-orders';

/**
 * RDP of one Gaussian mechanism: noise N(0, sigma^2 * s^2) added to a query of L2 sensitivity s
 * is (alpha, alpha / (2 sigma^2))-RDP at every order alpha (Mironov 2017, Proposition 7).
 *
 * `sigmaOverSensitivity` is sigma (the noise multiplier, noise std / sensitivity). sigma = 0 (no
 * noise) gives Infinity, sigma = Infinity gives 0. Compose k releases by adding k times.
 */
export function rdpGaussian(sigmaOverSensitivity: number, orders: ArrayLike<number> = DEFAULT_ORDERS): number[] {
  validateNoiseScale(sigmaOverSensitivity, 'rdpGaussian: sigmaOverSensitivity');
  validateOrders(orders, 'rdpGaussian: orders');
  return Array.from(orders, (alpha) => gaussianRdpAt(alpha, sigmaOverSensitivity));
}

/** alpha / (2 sigma^2) with the limits sigma = 0 -> Infinity and sigma = Infinity -> 0. */
export function gaussianRdpAt(alpha: number, sigma: number): number {
  if (sigma === Infinity) return 0;
  if (sigma === 0) return Infinity;
  return alpha / (2 * sigma * sigma);
}
