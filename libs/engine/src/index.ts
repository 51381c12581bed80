export * from './random/seeded-rng';
export * from './models/model-spec';
export * from './models/build-model';
export * from './models/input-set';
export * from './models/concat-arrays';
export * from './weights';
export * from './backend/select-backend';
export { registerWasmKernels } from './backend/wasm-kernels';
