export * from './aggregation-rule';
export * from './validate-predictions';
export * from './mean-rule';
export * from './weighted-mean-rule';
export * from './entropy-weighted-rule';
export * from './median-rule';
export * from './trimmed-mean-rule';
export * from './create-aggregation-rule';
