/**
 * The rule compiler: YAML files from rules/ -> one validated, versioned rule set (JSON).
 * Runs in Node at build time (scripts/rules.ts, the wrangler build step); the Worker only
 * ever imports the JSON it produces. Errors name file, line and column, and suggest the
 * nearest valid name for a typo.
 */
import { createHash } from 'node:crypto'
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml'
import type { z } from 'zod'
import { concerns, type ConcernName } from './concerns'
import { crossChecks, pruneUnapproved, type CrossIssue } from './cross'
import { nearest } from './suggest'
import type { RuleSet } from './types'

export interface RuleError {
  file: string
  line: number
  column: number
  path: string
  message: string
  suggestion?: string
}

/** `warnings` say what was compiled out (unapproved variants); they never stop a build. */
export type CompileResult =
  | { ok: true; ruleset: RuleSet; warnings: RuleError[] }
  | { ok: false; errors: RuleError[]; warnings?: RuleError[] }

interface ParsedFile {
  file: string
  doc: ReturnType<typeof parseDocument>
  lines: LineCounter
}

/** Compiles the rule files (file name -> YAML text). Unknown file names are errors. */
export function compileRules(files: Record<string, string>): CompileResult {
  const errors: RuleError[] = []
  const parsed = new Map<ConcernName, ParsedFile>()
  const data: Record<string, unknown> = {}

  for (const [file, text] of Object.entries(files)) {
    const name = file.replace(/\.ya?ml$/, '')
    if (!(name in concerns)) {
      const hint = nearest(name, Object.keys(concerns))
      errors.push({
        file,
        line: 1,
        column: 1,
        path: '',
        message: `unknown rule file "${file}"; rule files are ${Object.keys(concerns)
          .map((n) => n + '.yaml')
          .join(', ')}`,
        ...(hint ? { suggestion: `${hint}.yaml` } : {}),
      })
      continue
    }
    const lines = new LineCounter()
    const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false })
    errors.push(...yamlErrors(file, text, doc.errors, lines))
    parsed.set(name as ConcernName, { file, doc, lines })
  }
  if (errors.length) return { ok: false, errors }

  for (const [name, schema] of Object.entries(concerns) as Array<[ConcernName, z.ZodType]>) {
    const p = parsed.get(name)
    const input = p ? (p.doc.toJS() ?? {}) : {}
    const result = schema.safeParse(input)
    if (result.success) {
      data[name] = result.data
      continue
    }
    for (const issue of result.error.issues) {
      errors.push(toRuleError(p, `${name}.yaml`, issue))
    }
  }
  if (errors.length) return { ok: false, errors }

  const body = data as Omit<RuleSet, 'version'>
  const warnings: RuleError[] = []
  for (const check of crossChecks) {
    for (const issue of check(body))
      (issue.severity === 'warning' ? warnings : errors).push(crossToRuleError(parsed, issue))
  }
  if (errors.length) return { ok: false, errors, warnings }

  const pruned = pruneUnapproved(body)
  for (const w of pruned.warnings) warnings.push(crossToRuleError(parsed, w))
  for (const issue of pruned.errors) errors.push(crossToRuleError(parsed, issue))
  if (errors.length) return { ok: false, errors, warnings }

  // The version hashes what deploys (after pruning), so two sources that deploy the same rules agree.
  const version =
    'sha256:' + createHash('sha256').update(canonicalJson(pruned.rules)).digest('hex').slice(0, 32)
  return { ok: true, ruleset: { version, ...pruned.rules } as RuleSet, warnings }
}

/**
 * Formats an error the way editors and CI annotate: `file:line:col: message (did you mean x?)`.
 * `dir` is the rules folder as the reader knows it (default `rules`).
 */
export function formatRuleError(e: RuleError, dir?: string): string {
  // Also safe as a `.map(formatRuleError)` callback, whose second argument is an index.
  const folder = typeof dir === 'string' ? dir : 'rules'
  const where = `${folder}/${e.file}:${e.line}:${e.column}`
  const at = e.path ? ` at ${e.path}` : ''
  return `${where}: ${e.message}${at}${e.suggestion ? ` (did you mean "${e.suggestion}"?)` : ''}`
}

/**
 * The YAML parser's errors in plain words: one error for a file indented with tabs (not one per
 * line), the real column of a mis-indented key, the key a duplicate names, one error per line.
 */
function yamlErrors(
  file: string,
  text: string,
  found: ReadonlyArray<{ code: string; message: string; pos: [number, number] }>,
  lines: LineCounter,
): RuleError[] {
  if (found.length === 0) return []
  const rows = text.split('\n')
  const tabbed = rows.flatMap((r, i) => (/^ *\t/.test(r) ? [i + 1] : []))
  if (tabbed.length > 0) {
    return [
      {
        file,
        line: tabbed[0]!,
        column: rows[tabbed[0]! - 1]!.indexOf('\t') + 1,
        path: '',
        message: `YAML indents with spaces, not tabs: replace the tabs with spaces (${tabbed.length === 1 ? 'this line' : `${tabbed.length} lines, from this one`})`,
      },
    ]
  }
  const out: RuleError[] = []
  for (const e of found) {
    const pos = lines.linePos(e.pos[0])
    if (out.some((o) => o.line === pos.line)) continue
    const row = rows[pos.line - 1] ?? ''
    const indent = row.length - row.trimStart().length
    let message = e.message.split('\n')[0]!
    let column = pos.col
    if (e.code === 'DUPLICATE_KEY') {
      const key = row
        .slice(pos.col - 1)
        .split(':')[0]!
        .trim()
      message = `duplicate key "${key}": a key may appear once in a mapping; remove or rename one`
    } else if (/compact mappings|single line/i.test(message) && rows[pos.line] !== undefined) {
      // "- id: a" followed by a deeper "limit:": the next line is the one out of line.
      const next = rows[pos.line]!
      const nextIndent = next.length - next.trimStart().length
      out.push({
        file,
        line: pos.line + 1,
        column: nextIndent + 1,
        path: '',
        message: `"${keyOf(next)}" is indented ${nextIndent} spaces but "${keyOf(row)}" on the line above starts after ${keyIndent(row)}: keys of one mapping line up`,
      })
      continue
    } else if (/indent|same column/i.test(message)) {
      column = indent + 1
      const above = rows
        .slice(0, pos.line - 1)
        .reverse()
        .find((r) => r.trim() !== '' && !r.trimStart().startsWith('#') && keyIndent(r) <= indent)
      message = above
        ? `"${keyOf(row)}" is indented ${indent} spaces but "${keyOf(above)}" above is indented ${keyIndent(above)}: keys of one mapping line up`
        : `"${keyOf(row)}" is indented ${indent} spaces: keys of one mapping line up`
    }
    out.push({ file, line: pos.line, column, path: '', message })
  }
  // One error per line: the parser often reports one mistake twice.
  return out.filter((o, i) => out.findIndex((x) => x.line === o.line) === i)
}

/** Spaces before a line's key, counting a list dash as indentation (`  - id: a` -> 4). */
function keyIndent(row: string): number {
  return /^[ -]*/.exec(row)![0].length
}

function keyOf(row: string): string {
  return row.slice(keyIndent(row)).split(':')[0]!.trim()
}

export const TIME_ZONES: readonly string[] = [...Intl.supportedValuesOf('timeZone'), 'UTC']

/** What was found, for messages: `"abc"`, `1.5`, `a list`, `nothing`. */
function shown(v: unknown): string {
  if (v === undefined || v === null) return 'nothing'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  return JSON.stringify(v)
}

const EXPECTED: Record<string, string> = {
  int: 'a whole number',
  number: 'a number',
  string: 'text',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping (key: value lines)',
}

function toRuleError(p: ParsedFile | undefined, file: string, issue: z.core.$ZodIssue): RuleError {
  const path = issue.path.map(String)
  let message = issue.message
  let suggestion: string | undefined
  let nodePath = path
  let keyNode = false
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!
    const parentShape = shapeAt(concerns[file.replace(/\.ya?ml$/, '') as ConcernName], path)
    suggestion = parentShape ? nearest(key, parentShape) : undefined
    message = `unknown field "${key}"`
    nodePath = [...path, key]
    keyNode = true
  } else if (issue.code === 'invalid_value' && 'values' in issue) {
    const got = p ? valueAt(p.doc, path) : undefined
    if (typeof got === 'string') suggestion = nearest(got, issue.values.map(String))
    message = `${shown(got)} is not allowed here; allowed: ${issue.values.map(String).join(', ')}`
  } else if (issue.code === 'invalid_type' || (issue.code === 'invalid_format' && issue.format === 'regex')) {
    const got = p ? valueAt(p.doc, path) : undefined
    const expected =
      issue.code === 'invalid_type'
        ? (EXPECTED[issue.expected] ?? issue.expected)
        : // A pattern without words of its own: say what was wrong, not the regular expression.
          issue.message.startsWith('Invalid string')
          ? 'text of another form (see the field description)'
          : issue.message
    message =
      got === undefined && issue.code === 'invalid_type'
        ? `missing: expected ${expected}`
        : `expected ${expected}, got ${shown(got)}`
  } else if (issue.code === 'invalid_key') {
    const key = path[path.length - 1] ?? ''
    const why = issue.issues[0]?.message ?? 'not allowed'
    message = `"${key}" is not a valid name here: ${why}`
    const fixed = key.toLowerCase().replace(/[^a-z0-9_]+/g, '_')
    if (fixed !== key && /^[a-z][a-z0-9_]*$/.test(fixed)) suggestion = fixed
    keyNode = true
  } else if (issue.code === 'custom' && issue.message.startsWith('not an IANA time zone')) {
    const got = p ? valueAt(p.doc, path) : undefined
    if (typeof got === 'string') {
      message = `unknown IANA time zone "${got}": use a name such as "Europe/Berlin", "America/New_York" or "UTC"`
      suggestion = nearest(got, TIME_ZONES)
    }
  }
  const pos = p ? positionOf(p, nodePath, keyNode) : { line: 1, column: 1 }
  return { file, ...pos, path: path.join('.'), message, ...(suggestion ? { suggestion } : {}) }
}

function crossToRuleError(parsed: Map<ConcernName, ParsedFile>, issue: CrossIssue): RuleError {
  const p = parsed.get(issue.concern)
  const got = p ? valueAt(p.doc, issue.path.map(String)) : undefined
  const suggestion =
    issue.candidates && typeof got === 'string' ? nearest(got, issue.candidates) : issue.suggestion
  const pos = p ? positionOf(p, issue.path.map(String), false) : { line: 1, column: 1 }
  const first = issue.firstAt && p ? positionOf(p, issue.firstAt.map(String), false) : undefined
  return {
    file: `${issue.concern}.yaml`,
    ...pos,
    path: issue.path.join('.'),
    message: first ? issue.message.replace('{first}', `line ${first.line}`) : issue.message,
    ...(suggestion ? { suggestion } : {}),
  }
}

/** The deepest YAML node along `path`, and its line/column (1-based). */
function positionOf(p: ParsedFile, path: string[], keyNode: boolean): { line: number; column: number } {
  let node: unknown = p.doc.contents
  let range: [number, number, number] | undefined = (node as YamlNode | null)?.range ?? undefined
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === seg)
      if (!pair) break
      const target = keyNode && seg === path[path.length - 1] ? pair.key : (pair.value ?? pair.key)
      node = target
      range = (target as YamlNode | null)?.range ?? range
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)]
      if (item === undefined) break
      node = item
      range = (item as YamlNode | null)?.range ?? range
    } else break
  }
  const pos = p.lines.linePos(range?.[0] ?? 0)
  return { line: pos.line, column: pos.col }
}

function valueAt(doc: ReturnType<typeof parseDocument>, path: string[]): unknown {
  let v: unknown = doc.toJS()
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string, unknown>)[seg]
  }
  return v
}

/** Field names of the object schema found at `path` inside `schema`, for key suggestions. */
function shapeAt(schema: z.ZodType, path: string[]): string[] | undefined {
  let s: unknown = schema
  const unwrap = (x: unknown): unknown => {
    let cur = x as {
      def?: {
        type?: string
        innerType?: unknown
        element?: unknown
        valueType?: unknown
        getter?: () => unknown
      }
    }
    for (let i = 0; i < 10 && cur?.def; i++) {
      const t = cur.def.type
      if (t === 'optional' || t === 'default' || t === 'prefault' || t === 'nullable' || t === 'readonly')
        cur = cur.def.innerType as typeof cur
      // Recursive schemas (conditions) are lazy: follow the getter to the object inside.
      else if (t === 'lazy' && cur.def.getter) cur = cur.def.getter() as typeof cur
      else break
    }
    return cur
  }
  s = unwrap(s)
  for (const seg of path) {
    const def = (
      s as {
        def?: { type?: string; shape?: Record<string, unknown>; element?: unknown; valueType?: unknown }
      }
    ).def
    if (!def) return undefined
    if (def.type === 'object' && def.shape) s = unwrap(def.shape[seg])
    else if (def.type === 'array') s = unwrap(def.element)
    else if (def.type === 'record') s = unwrap(def.valueType)
    else return undefined
    void seg
  }
  const def = (s as { def?: { type?: string; shape?: Record<string, unknown> } }).def
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : undefined
}

/** JSON with sorted keys, so the version depends on content only. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}
