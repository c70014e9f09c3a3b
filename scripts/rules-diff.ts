/**
 * `npm run rules:diff -- [<git ref>] [--ack <experiment>]... [--at <ISO time>] [--json]`: compiles
 * the rules at a git ref (default HEAD, the last commit) and in the working tree with the same
 * compiler, and prints what changes (worker/rules/diff.ts) for the sample visitors in
 * examples/visitors/ plus visitors generated for every audience and jurisdiction.
 *
 * Exit status: 0 nothing blocks, 1 a running experiment's traffic moves without `--ack`, or a rule
 * set does not compile, 2 bad usage or a ref git does not know.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { compileRules, formatRuleError } from '../worker/rules/compile'
import { diffAccepted, diffRules, formatDiff } from '../worker/rules/diff'
import { generatedVisitors, type SampleVisitor } from '../worker/rules/diff-visitors'
import type { RuleSet } from '../worker/rules/types'
import { withoutSimulation } from './simulate'
import { validateVisitorFile } from './visitor-file'

const RULE_FILE = /\.ya?ml$/

interface DiffArgs {
  ref: string
  ack: string[]
  at: number
  json: boolean
}

function parseArgs(args: string[]): DiffArgs | string {
  const out: DiffArgs = { ref: 'HEAD', ack: [], at: Date.now(), json: false }
  let refSeen = false
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '--json') out.json = true
    else if (a === '--ack') {
      const e = args[++i]
      if (!e) return '--ack needs an experiment id'
      out.ack.push(e)
    } else if (a === '--at') {
      const t = Date.parse(args[++i] ?? '')
      if (Number.isNaN(t)) return '--at needs an ISO 8601 time, e.g. 2026-03-10T10:30:00Z'
      out.at = t
    } else if (a.startsWith('--')) return `unknown option "${a}"`
    else if (refSeen) return `one git ref only (got "${out.ref}" and "${a}")`
    else {
      out.ref = a
      refSeen = true
    }
  }
  return out
}

function git(cwd: string, args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** The rule files at `ref` (git show), keyed by file name. */
function filesAtRef(top: string, dir: string, ref: string): Record<string, string> {
  const rel = relative(top, dir).split('\\').join('/')
  const names = git(top, ['ls-tree', '--name-only', `${ref}:${rel}`])
    .split('\n')
    .filter((n) => RULE_FILE.test(n))
  const files: Record<string, string> = {}
  for (const name of names) files[name] = git(top, ['show', `${ref}:${rel}/${name}`])
  return files
}

function filesInTree(dir: string): Record<string, string> {
  const files: Record<string, string> = {}
  for (const name of readdirSync(dir).sort()) {
    if (RULE_FILE.test(name)) files[name] = readFileSync(join(dir, name), 'utf8')
  }
  return files
}

function compileOrReport(files: Record<string, string>, label: string): RuleSet | null {
  const r = compileRules(files)
  if (r.ok) return r.ruleset
  console.error(`the rules at ${label} do not compile:`)
  for (const e of r.errors) console.error(`  ${formatRuleError(e)}`)
  return null
}

/** examples/visitors/*.json under the repository, in name order. */
function exampleVisitors(top: string): SampleVisitor[] {
  const dir = join(top, 'examples/visitors')
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((n) => {
      const v = validateVisitorFile(JSON.parse(readFileSync(join(dir, n), 'utf8')))
      if (!v.ok) throw new Error(`${n}: ${v.issues.join('; ')}`)
      // Decisions are compared at one moment; the timeline is for rules:explain.
      return { name: `examples/visitors/${n}`, visitor: withoutSimulation(v.value) }
    })
}

/** Runs the command in the repository around `cwd`; returns the exit status. */
export function diffCommand(args: string[], cwd = process.cwd()): number {
  const parsed = parseArgs(args)
  if (typeof parsed === 'string') {
    console.error(
      `${parsed}\nusage: npm run rules:diff -- [<git ref>] [--ack <experiment>] [--at <time>] [--json]`,
    )
    return 2
  }
  let top: string
  try {
    top = git(cwd, ['rev-parse', '--show-toplevel']).trim()
  } catch {
    console.error('rules:diff needs a git repository')
    return 2
  }
  const dir = resolve(cwd, process.env.GATEHOUSE_RULES_DIR || join(top, 'rules'))
  let oldFiles: Record<string, string>
  try {
    git(top, ['rev-parse', '--verify', '--quiet', `${parsed.ref}^{commit}`])
    oldFiles = filesAtRef(top, dir, parsed.ref)
  } catch {
    console.error(`unknown git ref "${parsed.ref}" (or it has no ${relative(top, dir) || '.'} folder)`)
    return 2
  }
  const old = compileOrReport(oldFiles, parsed.ref)
  const next = compileOrReport(filesInTree(dir), 'the working tree')
  if (!old || !next) return 1
  let examples: SampleVisitor[]
  try {
    examples = exampleVisitors(top)
  } catch (e) {
    console.error(`examples/visitors: ${(e as Error).message}`)
    return 2
  }
  // Generated from both sides (the candidate's first), so a removed audience still has a visitor.
  const seen = new Set<string>()
  const visitors = [...examples, ...generatedVisitors(next), ...generatedVisitors(old)].filter(
    (v) => !seen.has(v.name) && seen.add(v.name),
  )
  const d = diffRules(old, next, { visitors, ack: parsed.ack, at: parsed.at })
  console.log(parsed.json ? JSON.stringify(d, null, 2) : formatDiff(d))
  return diffAccepted(d) ? 0 : 1
}
