export * from './labelled-set';
export * from './federated-average';
export * from './fedavg-baseline';
export * from './centralised-baseline';
export * from './local-only-baseline';
