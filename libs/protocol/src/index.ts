export * from './messages';
export * from './validated';
export * from './prediction-codec';
export * from './message-size-limits';
export * from './validate-client-messages';
export * from './validate-round-predictions';
export * from './validate-coordinator-messages';
export * from './signature-envelope';
