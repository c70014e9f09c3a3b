/**
 * The compiled rule set bundled into the Worker. `npm run rules:build` (also the wrangler
 * build step and `pretest`) writes generated/ruleset.json from rules/*.yaml.
 */
import compiled from './generated/ruleset.json'
import type { RuleSet } from './types'

export type { RuleSet } from './types'

export const bundledRules = compiled as unknown as RuleSet
