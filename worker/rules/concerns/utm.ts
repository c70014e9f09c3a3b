/**
 * `rules/utm.yaml`: the campaign taxonomy (sources, mediums and their aliases), the click ids the
 * gateway recognises, how many touchpoints are kept per person, and the attribution models.
 * See rules/README.md "## utm".
 */
import { z } from 'zod'

// Taxonomy names are what reports show: lower case, digits, `_`, `-` and `.`.
const taxonName = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'lower case letters, digits, _, - and .')
const alias = z
  .string()
  .min(1)
  .max(128)
  .transform((s) => s.trim().toLowerCase().replace(/\s+/g, ' '))
// A referrer host (`facebook.com`, matching it and its subdomains) or `name.*` (any top-level domain).
const referrerPattern = z
  .string()
  .regex(
    /^([a-z0-9-]+\.)*[a-z0-9-]+(\.\*)?$/,
    'a host such as facebook.com, or google.* for any top-level domain',
  )

const sourceSchema = z.strictObject({
  aliases: z
    .array(alias)
    .default([])
    .describe('Other spellings that mean this source (`FB`, `facebook.com`).'),
  referrers: z
    .array(referrerPattern)
    .default([])
    .describe('Referrer hosts that mean a visit from this source when the URL has no UTM parameters.'),
  referrerMedium: taxonName
    .default('referral')
    .describe(
      'Medium recorded for a visit referred by this source without UTM parameters (`organic` for search engines).',
    ),
})

const mediumSchema = z.strictObject({
  aliases: z
    .array(alias)
    .default([])
    .describe('Other spellings that mean this medium (`ppc`, `paid-search`).'),
})

const clickIdSchema = z.strictObject({
  param: z
    .string()
    .regex(/^[A-Za-z0-9_]{2,32}$/)
    .describe('Query parameter name (matched case-insensitively).'),
  source: taxonName
    .nullable()
    .default(null)
    .describe('Source implied by this click id when utm_source is absent.'),
  medium: taxonName
    .nullable()
    .default(null)
    .describe('Medium implied by this click id when utm_medium is absent.'),
})

const DEFAULT_SOURCES = {
  google: {
    aliases: ['google.com', 'www.google.com', 'adwords', 'google ads', 'googleads', 'gads'],
    referrers: ['google.*'],
    referrerMedium: 'organic',
  },
  bing: { aliases: ['bing.com', 'microsoft', 'msn'], referrers: ['bing.com'], referrerMedium: 'organic' },
  duckduckgo: {
    aliases: ['ddg', 'duckduckgo.com'],
    referrers: ['duckduckgo.com'],
    referrerMedium: 'organic',
  },
  yahoo: { aliases: ['yahoo.com'], referrers: ['yahoo.*'], referrerMedium: 'organic' },
  ecosia: { aliases: ['ecosia.org'], referrers: ['ecosia.org'], referrerMedium: 'organic' },
  facebook: {
    aliases: ['fb', 'facebook.com', 'www.facebook.com', 'm.facebook.com', 'l.facebook.com', 'meta'],
    referrers: ['facebook.com', 'fb.com'],
    referrerMedium: 'social',
  },
  instagram: {
    aliases: ['ig', 'insta', 'instagram.com'],
    referrers: ['instagram.com'],
    referrerMedium: 'social',
  },
  twitter: {
    aliases: ['x', 'x.com', 'twitter.com', 't.co'],
    referrers: ['twitter.com', 'x.com', 't.co'],
    referrerMedium: 'social',
  },
  linkedin: {
    aliases: ['li', 'linkedin.com', 'lnkd.in'],
    referrers: ['linkedin.com', 'lnkd.in'],
    referrerMedium: 'social',
  },
  tiktok: { aliases: ['tiktok.com', 'tt'], referrers: ['tiktok.com'], referrerMedium: 'social' },
  pinterest: { aliases: ['pinterest.com', 'pin'], referrers: ['pinterest.*'], referrerMedium: 'social' },
  youtube: {
    aliases: ['yt', 'youtube.com', 'youtu.be'],
    referrers: ['youtube.com', 'youtu.be'],
    referrerMedium: 'social',
  },
  reddit: { aliases: ['reddit.com'], referrers: ['reddit.com'], referrerMedium: 'social' },
  snapchat: { aliases: ['snap', 'snapchat.com'], referrers: ['snapchat.com'], referrerMedium: 'social' },
  newsletter: {
    aliases: ['news letter', 'mailing', 'mailchimp', 'klaviyo', 'braze'],
    referrers: [],
    referrerMedium: 'referral',
  },
}

const DEFAULT_MEDIUMS = {
  cpc: {
    aliases: ['ppc', 'paid', 'paid search', 'paid-search', 'paid_search', 'paidsearch', 'sem', 'search_ads'],
  },
  display: { aliases: ['banner', 'cpm', 'programmatic', 'display_ads'] },
  social: {
    aliases: ['social-network', 'social_network', 'social-media', 'social_media', 'sm', 'organic_social'],
  },
  paid_social: {
    aliases: ['paid social', 'paid-social', 'paidsocial', 'social_paid', 'social-paid', 'cpc_social'],
  },
  email: { aliases: ['e-mail', 'e_mail', 'mail', 'newsletter'] },
  sms: { aliases: ['text', 'mms'] },
  push: { aliases: ['push_notification', 'push-notification', 'notification'] },
  affiliate: { aliases: ['affiliates', 'partner', 'partners'] },
  referral: { aliases: ['ref', 'link'] },
  organic: { aliases: ['seo', 'organic_search', 'organic-search'] },
  video: { aliases: ['preroll', 'pre-roll', 'video_ads'] },
  qr: { aliases: ['qr_code', 'qr-code', 'qrcode'] },
  print: { aliases: ['offline', 'flyer', 'poster'] },
}

const DEFAULT_CLICK_IDS = [
  { param: 'gclid', source: 'google', medium: 'cpc' },
  { param: 'gbraid', source: 'google', medium: 'cpc' },
  { param: 'wbraid', source: 'google', medium: 'cpc' },
  { param: 'gclsrc', source: 'google', medium: 'cpc' },
  { param: 'dclid', source: 'google', medium: 'display' },
  { param: 'fbclid', source: 'facebook', medium: 'paid_social' },
  { param: 'msclkid', source: 'bing', medium: 'cpc' },
  { param: 'ttclid', source: 'tiktok', medium: 'paid_social' },
  { param: 'twclid', source: 'twitter', medium: 'paid_social' },
  { param: 'li_fat_id', source: 'linkedin', medium: 'paid_social' },
  { param: 'epik', source: 'pinterest', medium: 'paid_social' },
  { param: 'ScCid', source: 'snapchat', medium: 'paid_social' },
  { param: 'yclid', source: null, medium: 'cpc' },
  { param: 'igshid', source: 'instagram', medium: 'social' },
  { param: 'mc_eid', source: 'newsletter', medium: 'email' },
  { param: 'irclickid', source: null, medium: 'affiliate' },
  { param: 'rdt_cid', source: 'reddit', medium: 'paid_social' },
]

const ATTRIBUTION_MODELS = ['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based'] as const
export type AttributionModel = (typeof ATTRIBUTION_MODELS)[number]

const attributionSchema = z
  .strictObject({
    conversionEvents: z
      .array(z.string().min(1).max(64))
      .default(['purchase'])
      .describe(
        'Event types that are conversions: when one is recorded with measurement consent, it is credited to ' +
          "the person's touchpoints by every model and the credit is stored with the person's state.",
      ),
    models: z
      .array(z.enum(ATTRIBUTION_MODELS))
      .min(1)
      .default([...ATTRIBUTION_MODELS])
      .describe('Models computed for each conversion.'),
    lookbackDays: z
      .number()
      .int()
      .min(1)
      .max(400)
      .default(90)
      .describe('Touchpoints older than this (before the conversion) get no credit.'),
    timeDecayHalfLifeDays: z
      .number()
      .positive()
      .max(365)
      .default(7)
      .describe(
        'time_decay: a touchpoint this many days before the conversion gets half the weight of one at the conversion.',
      ),
    positionBased: z
      .strictObject({
        first: z.number().min(0).max(1).default(0.4).describe('Share of credit for the first touchpoint.'),
        last: z.number().min(0).max(1).default(0.4).describe('Share of credit for the last touchpoint.'),
      })
      .prefault({})
      .refine((p) => p.first + p.last <= 1, { message: 'first + last must not exceed 1' })
      .describe(
        'position_based: first and last shares; the rest is split evenly between the touchpoints in between.',
      ),
  })
  .prefault({})

export const utmSchema = z
  .strictObject({
    sources: z
      .record(taxonName, sourceSchema)
      .default(DEFAULT_SOURCES)
      .describe('Allowed utm_source values (the key) with their aliases. Anything else becomes `(other)`.'),
    mediums: z
      .record(taxonName, mediumSchema)
      .default(DEFAULT_MEDIUMS)
      .describe('Allowed utm_medium values (the key) with their aliases. Anything else becomes `(other)`.'),
    freeText: z
      .strictObject({
        maxLength: z
          .number()
          .int()
          .min(8)
          .max(500)
          .default(100)
          .describe('utm_campaign, utm_term and utm_content are cut to this many characters.'),
        lowercase: z.boolean().default(true).describe('Lower-case utm_campaign, utm_term and utm_content.'),
      })
      .prefault({})
      .describe('Normalisation of the free-text UTM fields (trimmed, inner whitespace collapsed).'),
    clickIds: z
      .array(clickIdSchema)
      .default(DEFAULT_CLICK_IDS)
      .describe(
        'Ad click ids. Kept only with advertising consent; otherwise removed from the URL the origin sees.',
      ),
    internalHosts: z
      .array(referrerPattern)
      .default([])
      .describe(
        'Referrer hosts that count as this site (besides the request host): visits from them are not touchpoints.',
      ),
    redirectToCleanUrl: z
      .boolean()
      .default(false)
      .describe(
        'After capturing UTM parameters and click ids on a page view (GET), 302 to the same URL without them.',
      ),
    historyLimit: z
      .number()
      .int()
      .min(2)
      .max(500)
      .default(50)
      .describe('Touchpoints kept per person (the first touch is always kept, plus the most recent ones).'),
    attribution: attributionSchema.describe('How conversions are credited to touchpoints.'),
  })
  .prefault({})
  .superRefine((utm, ctx) => {
    // An alias that points at two names would make normalisation depend on file order.
    for (const [kind, table] of [
      ['sources', utm.sources],
      ['mediums', utm.mediums],
    ] as const) {
      const owner = new Map<string, string>()
      for (const [name, entry] of Object.entries(table)) {
        for (const [i, a] of [name, ...entry.aliases].entries()) {
          const prev = owner.get(a)
          if (prev !== undefined && prev !== name) {
            ctx.addIssue({
              code: 'custom',
              path: i === 0 ? [kind, name] : [kind, name, 'aliases', i - 1],
              message: `"${a}" already means ${kind === 'sources' ? 'source' : 'medium'} "${prev}"`,
            })
          }
          owner.set(a, name)
        }
      }
    }
    const params = new Set<string>()
    utm.clickIds.forEach((c, i) => {
      const lower = c.param.toLowerCase()
      if (params.has(lower))
        ctx.addIssue({
          code: 'custom',
          path: ['clickIds', i, 'param'],
          message: `duplicate click id "${c.param}"`,
        })
      params.add(lower)
      if (c.source !== null && !(c.source in utm.sources)) {
        ctx.addIssue({
          code: 'custom',
          path: ['clickIds', i, 'source'],
          message: `"${c.source}" is not a source in sources`,
        })
      }
      if (c.medium !== null && !(c.medium in utm.mediums)) {
        ctx.addIssue({
          code: 'custom',
          path: ['clickIds', i, 'medium'],
          message: `"${c.medium}" is not a medium in mediums`,
        })
      }
    })
    for (const [name, s] of Object.entries(utm.sources)) {
      if (!(s.referrerMedium in utm.mediums)) {
        ctx.addIssue({
          code: 'custom',
          path: ['sources', name, 'referrerMedium'],
          message: `"${s.referrerMedium}" is not a medium in mediums`,
        })
      }
    }
  })

export type UtmRules = z.output<typeof utmSchema>
