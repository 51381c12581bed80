import type { InputSet } from '@fedkd/engine';

/**
 * Images with their class ids. `Dataset` of @fedkd/data fits this shape; declaring it here keeps
 * libs/distill free of a dependency on libs/data.
 */
export interface LabelledSet extends InputSet {
  labels: ArrayLike<number>;
}
