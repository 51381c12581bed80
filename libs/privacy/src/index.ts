export * from './identity';
export * from './secure-aggregation';
