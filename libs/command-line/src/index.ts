export * from './option-parsers';
export * from './progress';
export * from './compiled-script';
export * from './schema-options';
