/** `rules/cookies.yaml`. See rules/README.md. */
import { z } from 'zod'

export const cookiesSchema = z.strictObject({}).prefault({})

export type CookiesRules = z.output<typeof cookiesSchema>
