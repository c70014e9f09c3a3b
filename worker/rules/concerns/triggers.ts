/** `rules/triggers.yaml`. See rules/README.md. */
import { z } from 'zod'

export const triggersSchema = z.strictObject({}).prefault({})

export type TriggersRules = z.output<typeof triggersSchema>
