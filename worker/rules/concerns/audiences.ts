/** `rules/audiences.yaml`. See rules/README.md. */
import { z } from 'zod'

export const audiencesSchema = z.strictObject({}).prefault({})

export type AudiencesRules = z.output<typeof audiencesSchema>
