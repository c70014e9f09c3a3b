/**
 * The one Result type of the project: what pure decoders, validators, checks and time budgets
 * return instead of throwing. A failure carries a tagged error (`reason`) that callers map to a
 * wire error or a log line with an exhaustive `switch`. Pure: no Workers imports.
 *
 * @example
 *   function parsePort(s: string): Result<number, { reason: 'not_a_port' }> {
 *     const n = Number(s)
 *     return Number.isInteger(n) && n > 0 && n < 65536 ? ok(n) : err({ reason: 'not_a_port' })
 *   }
 */

export type Result<T, E> = { ok: true; value: T } | { ok: false; error: E }

/** A success carrying `value`. */
export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value }
}

/** A failure carrying `error`. */
export function err<E>(error: E): { ok: false; error: E } {
  return { ok: false, error }
}
