export * from './accountant';
export * from './mechanisms';
export * from './ledger';
export * from './round-cost';
export * from './private-release';
