/**
 * How many visitors, and how many days, an experiment needs to detect its minimum effect at its
 * power: `npm run rules:plan -- <experiment> [options]`.
 *
 *   npm run rules:plan -- hero_test --baseline 0.05 --daily 2000
 *   npm run rules:plan -- hero_test --report hero_test.json     # baseline and pace from a saved report
 *
 * The experiment's arms and split come from rules/experiments.yaml; its minimum effect, α and power
 * from its `measure` block when the rules have one, otherwise from --min-effect (required), --alpha
 * (0.05) and --power (0.8). The baseline and daily traffic come from the options, or from an
 * experiment report saved as JSON (the engine's report, as the admin API serves it: the control's
 * mean and spread on the deciding metric, and units per day so far). Flags override both.
 *
 * Options: --baseline <mean> --daily <units/day> --sd <unit sd, non-binary metrics>
 *          --min-effect <relative, e.g. 0.05> --alpha <a> --power <p> --tuning <N*> --report <file>
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEFAULT_SEQUENTIAL_TUNING, planSampleSize } from '../worker/experiments/plan'
import type { ExperimentReport } from '../worker/experiments/report'
import { compileRules } from '../worker/rules/compile'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const rulesDir = process.env.GATEHOUSE_RULES_DIR ?? join(root, 'rules')

// What this script reads of a compiled experiment. `measure` and `metrics` are optional so the
// script works on rule sets with and without a decision policy.
interface ExperimentRule {
  control: string
  arms: { variant: string; weight: number }[]
  bandit?: unknown
  measure?: { primary?: string; alpha?: number; power?: number; minimumEffect?: number }
}
interface ExperimentsSection {
  experiments: Record<string, ExperimentRule>
  metrics?: Record<string, { kind: string }>
}

function fail(message: string): never {
  console.error(message)
  process.exit(2)
}

function parseFlags(args: string[]): { id: string | undefined; flags: Map<string, string> } {
  const flags = new Map<string, string>()
  let id: string | undefined
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a.startsWith('--')) {
      const value = args[i + 1]
      if (value === undefined || value.startsWith('--')) fail(`${a} needs a value`)
      flags.set(a.slice(2), value)
      i++
    } else if (id === undefined) id = a
    else fail(`unexpected argument "${a}"`)
  }
  return { id, flags }
}

function num(flags: Map<string, string>, name: string): number | undefined {
  const raw = flags.get(name)
  if (raw === undefined) return undefined
  const v = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(v)) fail(`--${name}: "${raw}" is not a number`)
  return v
}

const KNOWN = new Set(['baseline', 'daily', 'sd', 'min-effect', 'alpha', 'power', 'tuning', 'report'])

function main(): void {
  const { id, flags } = parseFlags(process.argv.slice(2))
  for (const k of flags.keys())
    if (!KNOWN.has(k)) fail(`unknown option --${k} (known: ${[...KNOWN].join(', ')})`)
  const files: Record<string, string> = {}
  for (const name of readdirSync(rulesDir).sort())
    if (/\.ya?ml$/.test(name)) files[name] = readFileSync(join(rulesDir, name), 'utf8')
  const compiled = compileRules(files)
  if (!compiled.ok) fail('rules/ does not compile: run `npm run rules:check`')
  const section = compiled.ruleset.experiments as unknown as ExperimentsSection
  const names = Object.keys(section.experiments)
  if (!id)
    fail(
      `usage: npm run rules:plan -- <experiment> [--baseline 0.05 --daily 2000]\nexperiments: ${names.join(', ')}`,
    )
  const rule = Object.hasOwn(section.experiments, id) ? section.experiments[id]! : undefined
  if (!rule) fail(`no experiment "${id}" in rules/experiments.yaml (experiments: ${names.join(', ')})`)

  let report: ExperimentReport | undefined
  const reportFile = flags.get('report')
  if (reportFile !== undefined) {
    try {
      report = JSON.parse(readFileSync(reportFile, 'utf8')) as ExperimentReport
    } catch (e) {
      fail(`--report: cannot read ${reportFile} as JSON (${(e as Error).message})`)
    }
  }
  const primaryId = rule.measure?.primary ?? report?.primary
  const primaryKind = primaryId ? section.metrics?.[primaryId]?.kind : undefined
  const fromReport = report?.metrics.find((m) => m.id === (report?.primary ?? primaryId))?.arms[0]
  const binary = primaryKind ? primaryKind === 'binary' : num(flags, 'sd') === undefined
  const baseline = num(flags, 'baseline') ?? fromReport?.mean ?? undefined
  const sd =
    num(flags, 'sd') ?? (fromReport?.variance != null && !binary ? Math.sqrt(fromReport.variance) : undefined)
  const daily =
    num(flags, 'daily') ??
    (report && report.days.elapsed > 0 ? report.totalUnits / report.days.elapsed : undefined)
  const minimumEffect = num(flags, 'min-effect') ?? rule.measure?.minimumEffect
  const alpha = num(flags, 'alpha') ?? rule.measure?.alpha ?? 0.05
  const power = num(flags, 'power') ?? rule.measure?.power ?? 0.8
  const tuning = num(flags, 'tuning') ?? DEFAULT_SEQUENTIAL_TUNING
  if (baseline === undefined)
    fail('the baseline is unknown: give --baseline (a rate such as 0.05) or --report')
  if (minimumEffect === undefined)
    fail(
      'the minimum effect is unknown: these rules have no measure block for it; give --min-effect (e.g. 0.05 for 5%)',
    )
  // A bandit's arms share traffic as it learns; plan as an even split.
  const arms = rule.arms.map((a) => a.variant)
  const weights = rule.bandit ? undefined : rule.arms.map((a) => a.weight)

  const plan = planSampleSize({
    baseline,
    ...(sd !== undefined ? { sd } : {}),
    binary,
    minimumEffect,
    alpha,
    power,
    arms: arms.length,
    ...(weights ? { weights } : {}),
    ...(daily !== undefined ? { dailyUnits: daily } : {}),
    sequentialTuning: tuning,
  })
  if (!plan.ok) fail(`cannot plan: ${plan.error.field} is out of range (see --help in the file header)`)

  const fmt = (n: number): string => n.toLocaleString('en-US')
  const days = (d: number | null): string => (d === null ? 'give --daily for a duration' : `${fmt(d)} days`)
  const pct = (x: number): string => `${(x * 100).toFixed(2).replace(/\.?0+$/, '')}%`
  console.log(`${id}: ${arms.join(' vs ')} (control ${rule.control})`)
  console.log(
    `  detect ${minimumEffect > 0 ? '+' : ''}${pct(minimumEffect)} on ${primaryId ?? 'the deciding metric'} ` +
      `(baseline ${binary ? pct(baseline) : fmt(baseline)}${binary ? '' : `, sd ${fmt(sd ?? 0)}`}) with power ${power}, ` +
      `alpha ${alpha}${plan.comparisons > 1 ? ` (${alpha}/${plan.comparisons} per arm, Bonferroni)` : ''}`,
  )
  if (daily !== undefined)
    console.log(
      `  traffic: ${fmt(Math.round(daily))} units a day${report && !flags.has('daily') ? ' (from the report)' : ''}`,
    )
  console.log(
    `  one look at the end:    ${fmt(plan.fixed.perArm)} units per arm, ${fmt(plan.fixed.total)} in all, ${days(plan.fixed.days)}`,
  )
  console.log(
    `  reading it every day:   ${fmt(plan.sequential.perArm)} units per arm, ${fmt(plan.sequential.total)} in all, ${days(plan.sequential.days)} (sequential, tuned at ${fmt(tuning)})`,
  )
  if (!flags.has('tuning')) {
    // GrowthBook's advice: tune the sequence near the size you expect to reach.
    const tuned = planSampleSize({
      baseline,
      ...(sd !== undefined ? { sd } : {}),
      binary,
      minimumEffect,
      alpha,
      power,
      arms: arms.length,
      ...(weights ? { weights } : {}),
      ...(daily !== undefined ? { dailyUnits: daily } : {}),
      sequentialTuning: plan.fixed.total,
    })
    if (tuned.ok && tuned.sequential.total < plan.sequential.total)
      console.log(
        `  tip: an analysis tuned at ${fmt(plan.fixed.total)} units needs ${fmt(tuned.sequential.total)} in all, ${days(tuned.sequential.days)} when read every day`,
      )
  }
}

main()
