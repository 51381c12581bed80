export * from './random/seeded-rng';
export * from './models/model-spec';
export * from './models/build-model';
