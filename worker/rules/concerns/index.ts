/**
 * The registry of rule files: one YAML file in rules/ per concern, each validated by its schema.
 * A missing file means "all defaults". Each concern's schema lives in its own module here.
 */
import { siteSchema } from './site'
import { consentSchema } from './consent'
import { cookiesSchema } from './cookies'
import { tagsSchema } from './tags'
import { identitySchema } from './identity'
import { utmSchema } from './utm'
import { audiencesSchema } from './audiences'
import { placementsSchema } from './placements'
import { experimentsSchema } from './experiments'
import { capsSchema } from './caps'
import { triggersSchema } from './triggers'
import { profileSchema } from './profile'
import { privacySchema } from './privacy'

export const concerns = {
  site: siteSchema,
  consent: consentSchema,
  cookies: cookiesSchema,
  tags: tagsSchema,
  identity: identitySchema,
  utm: utmSchema,
  audiences: audiencesSchema,
  placements: placementsSchema,
  experiments: experimentsSchema,
  caps: capsSchema,
  triggers: triggersSchema,
  profile: profileSchema,
  privacy: privacySchema,
} as const

export type ConcernName = keyof typeof concerns
