export * from './temperature-softmax';
export * from './losses';
export * from './aggregation';
export * from './training/student-trainer';
export * from './training/evaluate';
export * from './baselines';
export * from './ensembles/teacher-ensemble';
