/**
 * Strict objects for hand-written validators: the keys of a JSON object that a body does not
 * define, each named with the nearest known key as a hint (`contxt` -> "did you mean
 * "context"?"). The zod-validated bodies get the same message from their strict schemas
 * (worker/decide/routes.ts). Pure: no Workers imports, so event validation runs it in Node.
 */
import { nearest } from '../rules/suggest'
import type { FieldError } from './problem'

/**
 * Errors naming the keys of `value` that are not in `allowed`, each with the nearest allowed name
 * as a hint; `prefix` is the path of `value` in the body. Empty for anything that is not a plain
 * object (the route's own validation answers that).
 *
 * @example
 *   unknownKeys({ contxt: {} }, ['placements', 'context'])
 *   // -> [{ path: 'contxt', message: 'unknown field (did you mean "context"?)' }]
 */
export function unknownKeys(value: unknown, allowed: readonly string[], prefix = ''): FieldError[] {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return []
  const errors: FieldError[] = []
  for (const key of Object.keys(value)) {
    if (allowed.includes(key)) continue
    errors.push({ path: prefix ? `${prefix}.${key}` : key, message: unknownFieldMessage(key, allowed) })
  }
  return errors
}

/** `unknown field`, with a "did you mean" hint when a known name is close to `key`. */
export function unknownFieldMessage(key: string, known: Iterable<string>): string {
  const hint = nearest(key, known)
  return `unknown field${hint ? ` (did you mean "${hint}"?)` : ''}`
}
