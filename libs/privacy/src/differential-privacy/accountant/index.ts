export { DEFAULT_ORDERS, RDP_ROUNDING_TOLERANCE, TF_PRIVACY_ORDERS, nonNegativeRdp, validateOrders } from './rdp-orders';
export { rdpGaussian } from './rdp-gaussian';
export { rdpSubsampledGaussian } from './rdp-subsampled-gaussian';
export {
  gnmaxLogProbabilityNotPlurality,
  rdpGnmaxDataDependent,
  rdpGnmaxDataIndependent,
  rdpGnmaxFromLogQ,
} from './rdp-gnmax';
export {
  confidentThresholdLogProbabilityAnswered,
  rdpConfidentGnmaxDataDependent,
  rdpConfidentGnmaxDataIndependent,
  rdpConfidentThreshold,
  rdpConfidentThresholdDataDependent,
  rdpConfidentThresholdFromLogProbabilityAnswered,
} from './rdp-confident-gnmax';
export {
  epsilonFromRdp,
  epsilonFromRdpBalle2020,
  epsilonFromRdpClassic,
  type EpsilonAtOrder,
  type EpsilonConversion,
} from './rdp-to-epsilon';
export {
  RdpAccountant,
  type BudgetCheck,
  type ComposeOptions,
  type EpsilonBasis,
  type PrivacySpent,
  type RdpAccountantJson,
} from './rdp-accountant';
export { ORDER_GRID_MECHANISMS, sweepOvershoot, type OrderGridMechanism, type Overshoot } from './order-grid-sweep';
export {
  checkSmoothSensitivityConditions,
  discountedMax,
  gnmaxLocalSensitivity,
  gnmaxLocalSensitivityBounds,
  gnmaxLogQ0,
  gnmaxLogQ1,
  gnmaxSmoothSensitivity,
  rdpSmoothSensitivityGaussian,
  smoothSensitivityBetaGrid,
  smoothSensitivityNoiseScale,
  smoothSensitivityReleaseParameters,
  thresholdLocalSensitivityBounds,
} from './smooth-sensitivity';
export {
  analyseRelease,
  gnmaxAlwaysDataIndependent,
  thresholdAlwaysDataIndependent,
  type AnalysedMechanism,
  type EpsilonWithOrder,
  type ReleaseAnalysis,
  type ReleaseAnalysisInput,
  type SanitisedEpsilon,
} from './data-dependent-release';
