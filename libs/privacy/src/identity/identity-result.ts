/**
 * What every identity check returns at a boundary: the value, or a code with a reason. Checks of
 * untrusted input never throw; they throw only for programmer errors (a key of the wrong length,
 * a negative round number passed to a signing function). Structurally the same as the protocol's
 * `Validated<T>` / `Ack<T>`, so a refusal can be mapped onto an acknowledgement directly.
 */
export type IdentityResult<T, Code extends string> =
  | { ok: true; value: T }
  | { ok: false; code: Code; message: string };

export type IdentityRefusal<Code extends string> = { ok: false; code: Code; message: string };

export function succeed<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function refuse<Code extends string>(code: Code, message: string): IdentityRefusal<Code> {
  return { ok: false, code, message };
}
