export * from './option-parsers';
export * from './progress';
export * from './compiled-script';
