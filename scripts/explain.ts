/**
 * `npm run rules:explain -- visitor.json [--json] [--placement name ...]`: what the compiled rule
 * set decides for a described visitor (examples/visitors/*.json), with the engine's own trace, and
 * when the file has a `timeline`, what its events and views do over time (./simulate.ts).
 */
import { readFileSync } from 'node:fs'
import { explainVisitor, formatExplanation } from '../worker/decide/explain'
import type { RuleSet } from '../worker/rules'
import { formatSimulation, simulateTimeline, withoutSimulation } from './simulate'
import { validateVisitorFile } from './visitor-file'

export async function explainCommand(ruleset: RuleSet, args: string[]): Promise<number> {
  const json = args.includes('--json')
  const placements: string[] = []
  const files: string[] = []
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--json') continue
    if (args[i] === '--placement') placements.push(args[++i] ?? '')
    else files.push(args[i]!)
  }
  if (files.length === 0) {
    console.error('usage: npm run rules:explain -- <visitor.json> [--json] [--placement <name>]')
    return 2
  }
  let status = 0
  for (const file of files) {
    let input: unknown
    try {
      input = JSON.parse(readFileSync(file, 'utf8'))
    } catch (e) {
      console.error(`${file}: cannot read a JSON visitor: ${(e as Error).message}`)
      status = 1
      continue
    }
    const unknown = placements.filter((p) => !(p in ruleset.placements.placements))
    if (unknown.length) {
      console.error(`unknown placement(s): ${unknown.join(', ')}`)
      return 1
    }
    const v = validateVisitorFile(input)
    if (!v.ok) {
      for (const issue of v.issues) console.error(`${file}: ${issue}`)
      status = 1
      continue
    }
    const r = explainVisitor(ruleset, withoutSimulation(v.value), placements.length ? placements : undefined)
    if (!r.ok) {
      for (const issue of r.error.issues) console.error(`${file}: ${issue}`)
      status = 1
      continue
    }
    const steps = v.value.timeline.length ? simulateTimeline(ruleset, v.value) : null
    if (json) console.log(JSON.stringify(steps ? { ...r.value, timeline: steps } : r.value, null, 2))
    else {
      console.log(`${file}\n${formatExplanation(r.value)}`)
      if (steps) console.log(formatSimulation(steps, v.value.timeZone))
    }
  }
  return status
}
