/** `rules/privacy.yaml`. See rules/README.md. */
import { z } from 'zod'

export const privacySchema = z.strictObject({}).prefault({})

export type PrivacyRules = z.output<typeof privacySchema>
