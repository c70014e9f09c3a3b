/**
 * `*` wildcard patterns from rules/ compiled to anchored regular expressions (once per rule set).
 * Pure: no Workers imports.
 */

const SPECIAL = /[.+?^${}()|[\]\\/-]/g

/** `_ga_*` -> /^_ga_.*$/ ; every character but `*` is literal. */
export function globToRegExp(patterns: readonly string[], flags = ''): RegExp {
  const alternatives = patterns.map((p) => p.split('*').map(escape).join('.*'))
  return new RegExp(`^(?:${alternatives.join('|')})$`, flags)
}

export function escape(literal: string): string {
  return literal.replace(SPECIAL, '\\$&')
}

/**
 * Memoises a compile step per rules object: the rule set is fixed for the life of an isolate (or a
 * test app), so each compiled form is built once.
 */
export function perRules<R extends object, T>(build: (rules: R) => T): (rules: R) => T {
  const cache = new WeakMap<R, T>()
  return (rules) => {
    let v = cache.get(rules)
    if (v === undefined) {
      v = build(rules)
      cache.set(rules, v)
    }
    return v
  }
}
