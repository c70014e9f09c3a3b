/** `rules/profile.yaml`. See rules/README.md. */
import { z } from 'zod'

export const profileSchema = z.strictObject({}).prefault({})

export type ProfileRules = z.output<typeof profileSchema>
