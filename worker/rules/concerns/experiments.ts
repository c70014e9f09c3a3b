/** `rules/experiments.yaml`. See rules/README.md. */
import { z } from 'zod'

export const experimentsSchema = z.strictObject({}).prefault({})

export type ExperimentsRules = z.output<typeof experimentsSchema>
