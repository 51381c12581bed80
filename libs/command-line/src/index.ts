export * from './option-parsers';
export * from './progress';
