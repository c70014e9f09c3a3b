/**
 * Limits on marketer-written regular expressions, checked at compile time so a pattern that could
 * backtrack catastrophically (ReDoS) never reaches the Worker. Pure.
 *
 * The check is conservative: it rejects nested quantifiers (`(a+)+`, `(a*)*`, `(\w+\s?)*`),
 * quantified groups whose alternatives can match the same text (`(a|a)*`, `(a|ab)*`),
 * backreferences and lookbehinds, and anything longer than `MAX_PATTERN_LENGTH`.
 */

export const MAX_PATTERN_LENGTH = 200
/** Values longer than this are cut before matching: a bounded input bounds the work. */
export const MAX_SUBJECT_LENGTH = 1000

export type RegexCheck =
  { ok: true; value: RegExp } | { ok: false; error: { reason: string; message: string } }

/** Compiles `pattern` if it is within the limits, else says why not. */
export function checkRegex(pattern: string, flags = ''): RegexCheck {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    return fail('too_long', `pattern is ${pattern.length} characters; the limit is ${MAX_PATTERN_LENGTH}`)
  }
  if (/\\[1-9]|\\k</.test(pattern)) return fail('backreference', 'backreferences are not allowed')
  if (/\(\?<[=!]/.test(pattern)) return fail('lookbehind', 'lookbehind assertions are not allowed')
  let re: RegExp
  try {
    re = new RegExp(pattern, flags)
  } catch (e) {
    return fail('syntax', `invalid regular expression: ${(e as Error).message}`)
  }
  const nested = findNestedQuantifier(pattern)
  if (nested) return fail('catastrophic', nested)
  return { ok: true, value: re }
}

function fail(reason: string, message: string): RegexCheck {
  return { ok: false, error: { reason, message } }
}

interface Group {
  /** The group contains a quantifier (or is itself unbounded inside). */
  quantified: boolean
  alternatives: string[]
  current: string
}

// Walks the pattern once, tracking for each open group whether anything inside it repeats; a
// quantifier applied to such a group is "star height 2", the classic catastrophic shape.
function findNestedQuantifier(p: string): string | null {
  const stack: Group[] = [{ quantified: false, alternatives: [], current: '' }]
  let lastClosed: Group | null = null
  for (let i = 0; i < p.length; i++) {
    const ch = p[i]!
    const top = stack[stack.length - 1]!
    if (ch === '\\') {
      top.current += p.slice(i, i + 2)
      i++
      lastClosed = null
      continue
    }
    if (ch === '[') {
      const end = classEnd(p, i)
      top.current += p.slice(i, end + 1)
      i = end
      lastClosed = null
      continue
    }
    if (ch === '(') {
      stack.push({ quantified: false, alternatives: [], current: '' })
      // Skip the group's prefix: `(?:`, `(?=`, `(?!` or a named group `(?<name>`.
      if (p[i + 1] === '?') i = p[i + 2] === '<' ? p.indexOf('>', i) : i + 2
      lastClosed = null
      continue
    }
    if (ch === ')') {
      const group = stack.pop()
      if (!group || stack.length === 0) return null
      group.alternatives.push(group.current)
      const parent = stack[stack.length - 1]!
      parent.current += `(${group.alternatives.join('|')})`
      if (group.quantified) parent.quantified = true
      lastClosed = group
      continue
    }
    if (ch === '|') {
      top.alternatives.push(top.current)
      top.current = ''
      lastClosed = null
      continue
    }
    if (ch === '*' || ch === '+' || ch === '{' || ch === '?') {
      const unbounded = ch === '*' || ch === '+' || (ch === '{' && /^\{\d*,\}/.test(p.slice(i)))
      const repeats =
        unbounded ||
        (ch === '{' && /^\{\d+,\d+\}/.test(p.slice(i)) && Number(/,(\d+)/.exec(p.slice(i))![1]) > 1)
      if (ch === '{') i = p.indexOf('}', i)
      if (p[i + 1] === '?') i++ // lazy quantifier: same backtracking shape
      if (repeats && lastClosed) {
        if (lastClosed.quantified) {
          return `nested quantifier: a repeated group contains a repetition (for example "(a+)+"), which can take exponential time`
        }
        if (overlappingAlternatives(lastClosed.alternatives)) {
          return `a repeated group has alternatives that can match the same text (for example "(a|ab)*"), which can take exponential time`
        }
      }
      if (repeats) top.quantified = true
      top.current += ch
      lastClosed = null
      continue
    }
    top.current += ch
    lastClosed = null
  }
  return null
}

function classEnd(p: string, start: number): number {
  for (let i = start + 1; i < p.length; i++) {
    if (p[i] === '\\') i++
    else if (p[i] === ']' && i > start + 1) return i
  }
  return p.length - 1
}

// Two alternatives overlap when one is a prefix of the other (or either is empty/a wildcard):
// the engine may then try both at every position.
function overlappingAlternatives(alts: string[]): boolean {
  if (alts.length < 2) return false
  for (let i = 0; i < alts.length; i++) {
    for (let j = 0; j < alts.length; j++) {
      if (i === j) continue
      const a = alts[i]!
      const b = alts[j]!
      if (a === '' || a.startsWith('.') || a.startsWith('\\w') || a.startsWith('\\S')) return true
      if (b.startsWith(a)) return true
    }
  }
  return false
}
