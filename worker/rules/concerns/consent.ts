/** `rules/consent.yaml`. See rules/README.md. */
import { z } from 'zod'

export const consentSchema = z.strictObject({}).prefault({})

export type ConsentRules = z.output<typeof consentSchema>
