import { DistillationLoss } from './distillation-loss';
import { HintLoss, HintLossOptions } from './hint-loss';
import { MutualLoss, MutualLossOptions } from './mutual-loss';
import { OneLoss, OneLossOptions } from './one-loss';
import { RelationLoss, RelationLossOptions } from './relation-loss';
import { ResponseLoss, ResponseLossOptions } from './response-loss';

/** A distillation loss as plain config: its name and its options, e.g. `{ name: 'response', temperature: 3 }`. */
export type LossSpec =
  | ({ name: 'response' } & ResponseLossOptions)
  | ({ name: 'hint' } & HintLossOptions)
  | ({ name: 'relation' } & RelationLossOptions)
  | ({ name: 'mutual' } & MutualLossOptions)
  | ({ name: 'one' } & OneLossOptions);

export type LossName = LossSpec['name'];

/** Each loss's options: a key not listed here is a typo, and is rejected rather than ignored. */
const LOSS_OPTION_KEYS: { readonly [N in LossName]: readonly string[] } = {
  response: ['temperature', 'alpha'],
  hint: ['studentWidth', 'teacherWidth', 'seed', 'beta', 'temperature', 'alpha'],
  relation: ['distanceWeight', 'angleWeight', 'representation', 'beta', 'temperature', 'alpha'],
  mutual: ['temperature', 'peerWeight'],
  one: ['temperature', 'klWeight'],
};

export const LOSS_NAMES: readonly LossName[] = Object.keys(LOSS_OPTION_KEYS) as LossName[];

/**
 * Builds a distillation loss from plain config (a JSON file, a CLI flag, a round's spec).
 * Throws naming the problem on an unknown name (listing the known ones), an unknown option, or an
 * option out of range (each loss's constructor validates its own).
 */
export function createLoss(spec: LossSpec): DistillationLoss {
  if (typeof spec !== 'object' || spec === null) throw new TypeError(`createLoss: expected { name, ...options }, got ${String(spec)}`);
  const name = (spec as { name?: unknown }).name;
  if (typeof name !== 'string' || !Object.prototype.hasOwnProperty.call(LOSS_OPTION_KEYS, name)) {
    throw new RangeError(`createLoss: unknown loss '${String(name)}' (known: ${LOSS_NAMES.join(', ')})`);
  }
  const known = LOSS_OPTION_KEYS[name as LossName];
  const unknown = Object.keys(spec).filter((k) => k !== 'name' && !known.includes(k));
  if (unknown.length > 0) {
    throw new RangeError(`createLoss: unknown option(s) ${unknown.join(', ')} for loss '${name}' (known: ${known.join(', ')})`);
  }
  switch (spec.name) {
    case 'response':
      return new ResponseLoss(spec);
    case 'hint':
      return new HintLoss(spec);
    case 'relation':
      return new RelationLoss(spec);
    case 'mutual':
      return new MutualLoss(spec);
    case 'one':
      return new OneLoss(spec);
  }
}
