export * from './distillation-loss';
export { stopGradient } from './loss-terms';
export * from './response-loss';
export * from './hint-loss';
export * from './relation-loss';
export * from './mutual-loss';
export * from './one-loss';
export * from './one-student';
export * from './create-loss';
