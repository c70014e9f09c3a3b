/**
 * `rules/cookies.yaml`: which category each cookie belongs to, so the gateway can drop the
 * origin's `Set-Cookie` lines and withhold request cookies the visitor has not consented to.
 * See rules/README.md `## cookies` and docs/consent.md.
 */
import { z } from 'zod'

export const COOKIE_CATEGORIES = ['essential', 'measurement', 'personalization', 'advertising'] as const
export type CookieCategory = (typeof COOKIE_CATEGORIES)[number]

// Cookie names are RFC 6265 tokens; `*` is the only wildcard.
const namePattern = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'a cookie name, where * matches any run of characters')

const categoryRule = z.strictObject({
  category: z.enum(COOKIE_CATEGORIES).describe('What the cookies are for.'),
  names: z
    .array(namePattern)
    .min(1)
    .describe('Cookie names; `*` matches any characters (`_ga_*`). Case-sensitive.'),
  note: z.string().max(200).optional().describe('Who sets these cookies, for the next reader.'),
})

export type CookieCategoryRule = z.output<typeof categoryRule>

/** The documented default: consent-signal and session cookies essential, well-known trackers categorised. */
const DEFAULT_COOKIE_CATEGORIES: CookieCategoryRule[] = [
  {
    category: 'essential',
    names: ['euconsent-v2', '__gpp', '__gpp_sid', 'usprivacy', 'OptanonConsent', 'OptanonAlertBoxClosed',
      'CookieConsent', 'didomi_token', 'cmpconsentx*'],
    note: 'consent records written by CMPs: the origin and the gateway need them to honour the choice',
  },
  {
    category: 'essential',
    names: ['PHPSESSID', 'JSESSIONID', 'ASP.NET_SessionId', 'connect.sid', 'session', 'sessionid', 'csrftoken',
      'XSRF-TOKEN', '__Host-*'],
    note: 'common session and CSRF cookies',
  },
  {
    category: 'measurement',
    names: ['_ga', '_ga_*', '_gid', '_gat', '_gat_*', '_hjSession*', '_hjSessionUser*', '_hjid', '_clck', '_clsk',
      'ajs_anonymous_id', 'ajs_user_id', 'amplitude_id*', 'AMP_*', 'mp_*_mixpanel', '_pk_id*', '_pk_ses*'],
    note: 'Google Analytics, Hotjar, Microsoft Clarity, Segment, Amplitude, Mixpanel, Matomo',
  },
  {
    category: 'advertising',
    names: ['_gcl_*', '_fbp', '_fbc', 'fr', 'IDE', 'test_cookie', '_uetsid', '_uetvid', 'MUID', '_ttp', '_tt_*',
      '_pin_unauth', '_scid', '_rdt_uuid', 'li_fat_id', 'criteo*', 'cto_*'],
    note: 'Google Ads, Meta, Microsoft Ads, TikTok, Pinterest, Snap, Reddit, LinkedIn, Criteo',
  },
] // prettier-ignore

export const cookiesSchema = z
  .strictObject({
    categories: z
      .array(categoryRule)
      .default(() => DEFAULT_COOKIE_CATEGORIES.map((r) => ({ ...r, names: [...r.names] })))
      .describe('Cookie name patterns by category; the first matching rule wins.'),
    unknown: z
      .enum([...COOKIE_CATEGORIES, 'all'])
      .default('all')
      .describe(
        'Category of a cookie no rule names. Default `all`: kept only when storage, measurement, ' +
          'personalization and advertising are all allowed, so an unlisted cookie never slips through.',
      ),
    gatewayCookies: z
      .array(namePattern)
      .default(['gh_*'])
      .describe("Gatehouse's own cookies: left to the features that set and sign them, never filtered here."),
  })
  .prefault({})

export type CookiesRules = z.output<typeof cookiesSchema>
