/**
 * The registry of rule files: one YAML file in rules/ per concern, each validated by its schema.
 * A missing file means "all defaults". Each concern's schema lives in its own module here.
 */
import { siteSchema } from './site'

export const concerns = {
  site: siteSchema,
} as const

export type ConcernName = keyof typeof concerns
