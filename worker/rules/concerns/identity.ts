/** `rules/identity.yaml`. See rules/README.md. */
import { z } from 'zod'

export const identitySchema = z.strictObject({}).prefault({})

export type IdentityRules = z.output<typeof identitySchema>
