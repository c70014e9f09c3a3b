/** The compiled rule set's type: one validated value per concern, plus the content-hash version. */
import type { z } from 'zod'
import type { concerns } from './concerns'

export type RuleSet = { version: string } & {
  [K in keyof typeof concerns]: z.output<(typeof concerns)[K]>
}
