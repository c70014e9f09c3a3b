/**
 * Checks across rule files (a placement naming an audience defined elsewhere, ...). Each check
 * returns issues that point at the file and path of the offending value.
 */
import type { ConcernName } from './concerns'
import type { RuleSet } from './types'

export interface CrossIssue {
  concern: ConcernName
  path: Array<string | number>
  message: string
  /** Valid names: the compiler suggests the nearest one to the value found at `path`. */
  candidates?: string[]
  suggestion?: string
}

export type CrossCheck = (rules: Omit<RuleSet, 'version'>) => CrossIssue[]

export const crossChecks: CrossCheck[] = []
