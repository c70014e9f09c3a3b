/**
 * The shape limits of a parsed JSON value (nesting depth, number of values), checked with an
 * explicit stack so that no input, however deep, can exhaust the call stack. Pure: no Workers
 * imports, so event validation (worker/events/validate.ts) and the body reader share it in Node.
 */
import type { FieldError } from './problem'

export type ShapeResult = { ok: true } | { ok: false; error: FieldError & { reason: 'depth' | 'nodes' } }

// One value to visit: its depth (the top level is 1), and its key under its parent frame, from
// which the path is rebuilt only when a limit is hit (no string is built per value).
interface Frame {
  v: unknown
  depth: number
  key: string
  parent: Frame | null
}

function pathOf(f: Frame): string {
  const keys: string[] = []
  for (let at: Frame | null = f; at && at.parent; at = at.parent) keys.push(at.key)
  return keys.reverse().join('.')
}

/**
 * Checks a parsed JSON value's nesting depth and value count with an explicit stack (never
 * recursion): the first value past a limit is named by its path (`events.0.props.a.a`). Pure.
 *
 * @example
 *   checkShape({ a: { b: [1] } }, { maxDepth: 2, maxNodes: 100 })
 *   // -> { ok: false, error: { reason: 'depth', path: 'a.b', message: 'nested at most 2 levels' } }
 */
export function checkShape(value: unknown, limits: { maxDepth: number; maxNodes: number }): ShapeResult {
  const stack: Frame[] = [{ v: value, depth: 1, key: '', parent: null }]
  let nodes = 0
  while (stack.length > 0) {
    const f = stack.pop()!
    if (++nodes > limits.maxNodes) {
      const message = `at most ${limits.maxNodes} values in one body`
      return { ok: false, error: { reason: 'nodes', path: pathOf(f), message } }
    }
    const v = f.v
    if (v === null || typeof v !== 'object') continue
    if (f.depth > limits.maxDepth) {
      const message = `nested at most ${limits.maxDepth} levels`
      return { ok: false, error: { reason: 'depth', path: pathOf(f), message } }
    }
    const depth = f.depth + 1
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], depth, key: String(i), parent: f })
    } else {
      const keys = Object.keys(v)
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!
        stack.push({ v: (v as Record<string, unknown>)[k], depth, key: k, parent: f })
      }
    }
  }
  return { ok: true }
}
