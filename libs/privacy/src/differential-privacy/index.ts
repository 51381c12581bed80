export * from './accountant';
export * from './mechanisms';
export * from './ledger';
export * from './privacy-mechanism';
