/** `rules/caps.yaml`. See rules/README.md. */
import { z } from 'zod'

export const capsSchema = z.strictObject({}).prefault({})

export type CapsRules = z.output<typeof capsSchema>
