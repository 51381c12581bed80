export * from './identity';
export * from './secure-aggregation';
export * from './differential-privacy';
