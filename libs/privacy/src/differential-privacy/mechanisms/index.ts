export { addGaussianNoise, type NormalSource } from './normal-source';
export { teacherVotes } from './teacher-votes';
export { confidentGnmax, gnmax, type ConfidentGnmaxParameters, type ConfidentGnmaxResult, type GnmaxResult } from './gnmax';
export {
  clippedSum,
  clippedSumL2Sensitivity,
  clipRowsL2,
  type NeighbouringRelation,
} from './clipping';
export { distributedNoiseShare, shareVarianceFor } from './distributed-noise';
export { projectRowsToSimplex } from './simplex-projection';
export { secureNormalRng, SecureNormalRng } from './secure-normal-rng';
