export * from './option-parsers';
