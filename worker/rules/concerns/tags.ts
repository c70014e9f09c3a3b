/** `rules/tags.yaml`. See rules/README.md. */
import { z } from 'zod'

export const tagsSchema = z.strictObject({}).prefault({})

export type TagsRules = z.output<typeof tagsSchema>
