/**
 * The shape limits of a parsed JSON value (nesting depth, number of values), checked with an
 * explicit stack so that no input, however deep, can exhaust the call stack. Pure: no Workers
 * imports, so event validation (worker/events/validate.ts) and the body reader share it in Node.
 */
import type { FieldError } from './problem'

export type ShapeResult = { ok: true } | { ok: false; error: FieldError & { reason: 'depth' | 'nodes' } }

/**
 * Checks a parsed JSON value's nesting depth and value count with an explicit stack (never
 * recursion): the first value past a limit is named by its path (`events.0.props.a.a`). Pure.
 *
 * @example
 *   checkShape({ a: { b: [1] } }, { maxDepth: 2, maxNodes: 100 })
 *   // -> { ok: false, error: { reason: 'depth', path: 'a.b', message: 'nested at most 2 levels' } }
 */
export function checkShape(value: unknown, limits: { maxDepth: number; maxNodes: number }): ShapeResult {
  // Each frame: the value, its depth (the top level is 1 when it is an object or array), its path.
  const stack: Array<{ v: unknown; depth: number; path: string }> = [{ v: value, depth: 1, path: '' }]
  let nodes = 0
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!
    if (++nodes > limits.maxNodes) {
      return {
        ok: false,
        error: { reason: 'nodes', path, message: `at most ${limits.maxNodes} values in one body` },
      }
    }
    if (v === null || typeof v !== 'object') continue
    if (depth > limits.maxDepth) {
      return {
        ok: false,
        error: { reason: 'depth', path, message: `nested at most ${limits.maxDepth} levels` },
      }
    }
    const entries: Array<[string, unknown]> = Array.isArray(v)
      ? v.map((x, i) => [String(i), x])
      : Object.entries(v as Record<string, unknown>)
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, x] = entries[i]!
      stack.push({ v: x, depth: depth + 1, path: path ? `${path}.${k}` : k })
    }
  }
  return { ok: true }
}
