/** `rules/utm.yaml`. See rules/README.md. */
import { z } from 'zod'

export const utmSchema = z.strictObject({}).prefault({})

export type UtmRules = z.output<typeof utmSchema>
