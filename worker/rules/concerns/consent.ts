/**
 * `rules/consent.yaml`: which jurisdiction a visitor is in, what each jurisdiction's regime is
 * (opt-in or opt-out, which signals count), how CMP signals map to Gatehouse's four purposes, and
 * how conflicting signals are settled. See rules/README.md `## consent` and docs/consent.md.
 * Every field is defaulted: a missing file means the documented defaults below.
 */
import { z } from 'zod'
import { CMP_ADAPTERS, CMP_NAMES } from '../../consent/cmp'
import { CATEGORY_ID } from '../../consent/cmp/parse'

const SIGNALS = ['tcf', 'gpp', 'usp', 'gpc', 'cmp'] as const
export type SignalKind = (typeof SIGNALS)[number]

// TCF v2.2 policy, Appendix A: legitimate interest is not a permitted legal basis for purposes 1,
// 3, 4, 5 and 6, so a mapping may only accept LI for the others.
export const TCF_LI_FORBIDDEN: readonly number[] = [1, 3, 4, 5, 6]

/** The 27 EU member states plus the EEA's Iceland, Liechtenstein and Norway. */
const EU_EEA = [
  'AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE', 'IT',
  'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE', 'IS', 'LI', 'NO',
] // prettier-ignore

/** US states with a comprehensive privacy law and their own GPP section (GPP "US State sections"). */
export const US_STATE_SECTIONS: Record<string, string> = {
  CA: 'usca', VA: 'usva', CO: 'usco', UT: 'usut', CT: 'usct', FL: 'usfl', MT: 'usmt', OR: 'usor',
  TX: 'ustx', DE: 'usde', IA: 'usia', NE: 'usne', NH: 'usnh', NJ: 'usnj', TN: 'ustn', MN: 'usmn',
  MD: 'usmd', IN: 'usin', KY: 'usky', RI: 'usri',
} // prettier-ignore

const country = z.string().regex(/^[A-Z]{2}$/, 'a two-letter ISO 3166-1 country code in capitals, e.g. DE')
const region = z
  .string()
  .regex(/^[A-Z0-9]{1,3}$/, 'an ISO 3166-2 subdivision code without the country, e.g. CA')

const policyFields = {
  regime: z
    .enum(['opt-in', 'opt-out'])
    .describe(
      'opt-in: nothing but strictly necessary processing until a valid signal grants it (EU/EEA/UK). ' +
        'opt-out: everything allowed until a signal opts the visitor out (US states).',
    ),
  signals: z
    .array(z.enum(SIGNALS))
    .optional()
    .describe(
      'Signals that count here. Default: tcf, gpp, gpc and cmp for opt-in; gpp, usp, gpc and cmp for ' +
        'opt-out. TCF (and the tcfeuv2 section of GPP) can only grant in opt-in regimes; gpp US sections, ' +
        'usp and gpc can only opt out; cmp (CMP cookies) grants in opt-in regimes and takes away in both.',
    ),
  gppSections: z
    .array(z.enum(['usnat', ...Object.values(US_STATE_SECTIONS)]))
    .optional()
    .describe(
      'GPP US sections whose opt-outs count here. Default: usnat everywhere in the US, plus the ' +
        "state's own section (usca for US-CA, ...).",
    ),
}

const jurisdictionSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[A-Z][A-Z0-9-]{0,15}$/, 'capitals, digits and dashes, e.g. EU, US-CA')
      .describe('The jurisdiction name reported in GET /v1/consent and X-Gatehouse-Consent (EU, US-CA...).'),
    countries: z.array(country).min(1).describe('Countries this jurisdiction covers.'),
    regions: z
      .array(region)
      .optional()
      .describe('Only these subdivisions of the countries (e.g. [CA] with countries [US]). Omit for all.'),
    ...policyFields,
  })
  .describe('One jurisdiction; the first entry matching the visitor wins.')

export type JurisdictionRule = z.output<typeof jurisdictionSchema>

function defaultJurisdictions(): JurisdictionRule[] {
  const states = Object.entries(US_STATE_SECTIONS).map(([code, section]) => ({
    id: `US-${code}`,
    countries: ['US'],
    regions: [code],
    regime: 'opt-out' as const,
    gppSections: ['usnat', section],
  }))
  return [
    { id: 'EU', countries: [...EU_EEA], regime: 'opt-in' },
    { id: 'UK', countries: ['GB'], regime: 'opt-in' },
    { id: 'CH', countries: ['CH'], regime: 'opt-in' },
    ...states,
    { id: 'US', countries: ['US'], regime: 'opt-out', gppSections: ['usnat'] },
  ]
}

const tcfMapping = z
  .strictObject({
    purposes: z
      .array(z.number().int().min(1).max(24))
      .describe(
        'TCF purposes that must ALL be allowed for this Gatehouse purpose. Empty: TCF never grants it.',
      ),
    legitimateInterest: z
      .boolean()
      .default(false)
      .describe(
        'Accept legitimate interest instead of consent for these TCF purposes. TCF forbids it for purposes 1, 3, 4, 5, 6.',
      ),
  })
  .superRefine((m, ctx) => {
    if (!m.legitimateInterest) return
    for (const p of m.purposes) {
      if (TCF_LI_FORBIDDEN.includes(p)) {
        ctx.addIssue({
          code: 'custom',
          path: ['legitimateInterest'],
          message: `TCF purpose ${p} can only be based on consent, never on legitimate interest`,
        })
      }
    }
  })

const PURPOSE_NAMES = ['storage', 'measurement', 'personalization', 'advertising'] as const
const purposeList = z
  .array(z.enum(PURPOSE_NAMES))
  .max(4)
  .describe('The Gatehouse purposes this CMP category stands for; [] for strictly necessary.')

// Per CMP: its own fixed category ids (anything else is a typo, with a suggestion), or the site's.
const cmpCategories = z
  .strictObject(
    Object.fromEntries(
      CMP_ADAPTERS.map((a) => [
        a.name,
        (a.fixedCategories
          ? z.strictObject(
              Object.fromEntries(Object.keys(a.standard).map((c) => [c, purposeList.optional()])),
            )
          : z.record(
              z.string().regex(CATEGORY_ID, 'a category id: letters, digits and _ - . : $'),
              purposeList,
            )
        )
          .optional()
          .describe(
            `${a.label} (${a.cookies.join(', ')}): category -> purposes, over the standard ` +
              Object.entries(a.standard)
                .map(([c, ps]) => `${c}: [${ps.join(', ')}]`)
                .join('; '),
          ),
      ]),
    ),
  )
  .default({})
  .describe(
    "Per CMP, the site's categories and what they stand for; merged over the standard mapping " +
      '(a category listed here replaces its standard entry).',
  )

const cmpSchema = z
  .strictObject({
    read: z
      .array(z.enum(CMP_NAMES))
      .max(CMP_NAMES.length)
      .default([...CMP_NAMES])
      .describe(
        `The CMPs whose cookies are read (the site's CMP). Default: every supported one, ${CMP_NAMES.join(', ')}.`,
      ),
    conflicts: z
      .enum(['most-restrictive', 'prefer-cmp', 'prefer-iab'])
      .default('most-restrictive')
      .describe(
        'When a CMP cookie and a valid TCF carrier (TC string or GPP tcfeuv2) disagree on a purpose in an ' +
          'opt-in regime: most-restrictive (granted only if both grant), prefer-cmp, prefer-iab.',
      ),
    categories: cmpCategories,
  })
  .prefault({})
  .describe('CMP cookies (OneTrust, Cookiebot, vanilla-cookieconsent, ...): which are read and how they map.')

export const consentSchema = z
  .strictObject({
    jurisdictions: z
      .array(jurisdictionSchema)
      .superRefine((list, ctx) => {
        const seen = new Set<string>()
        list.forEach((j, i) => {
          if (seen.has(j.id)) {
            ctx.addIssue({
              code: 'custom',
              path: [i, 'id'],
              message: `jurisdiction "${j.id}" is listed twice`,
            })
          }
          seen.add(j.id)
        })
      })
      .default(defaultJurisdictions)
      .describe(
        'Jurisdictions in match order. Default: EU (27 EU states + IS, LI, NO), UK, CH opt-in; the 20 US ' +
          'states with a privacy law opt-out with their GPP section; the rest of the US opt-out with usnat.',
      ),
    unknownLocation: z
      .strictObject(policyFields)
      .default({ regime: 'opt-in' })
      .describe(
        'Policy when the location is unknown (jurisdiction OTHER). Default: opt-in, i.e. fail closed.',
      ),
    elsewhere: z
      .strictObject(policyFields)
      .default({ regime: 'opt-in' })
      .describe(
        'Policy for a known country no jurisdiction lists (reported as its country code). Default: opt-in.',
      ),
    conflicts: z
      .enum(['most-restrictive', 'prefer-gpp', 'prefer-tcf'])
      .default('most-restrictive')
      .describe(
        'When two valid signals disagree: most-restrictive (a purpose is granted only if every valid signal ' +
          'grants it; any opt-out wins), prefer-gpp (GPP over the TC string and USP), prefer-tcf (the TC string ' +
          "over GPP's tcfeuv2 section; US signals stay most-restrictive). GPC is never overruled.",
      ),
    unreadableOptOut: z
      .enum(['opt-out', 'ignore'])
      .default('opt-out')
      .describe(
        'In opt-out regimes, what a GPP or US Privacy string that is present but cannot be read means when no ' +
          'valid string of the same kind is there: opt-out (default: it may have carried an opt-out, so fail ' +
          'safe and treat it as one) or ignore (as if absent).',
      ),
    mapping: z
      .strictObject({
        tcf: z
          .strictObject({
            storage: tcfMapping.default({ purposes: [1], legitimateInterest: false }),
            personalization: tcfMapping.default({ purposes: [5, 6], legitimateInterest: false }),
            advertising: tcfMapping.default({ purposes: [2, 3, 4], legitimateInterest: false }),
            measurement: tcfMapping.default({ purposes: [7, 8, 9], legitimateInterest: false }),
          })
          .prefault({})
          .describe('TCF purposes behind each Gatehouse purpose (opt-in regimes).'),
        optOut: z
          .strictObject({
            gppFields: z
              .array(z.string().regex(/^[A-Za-z]+$/))
              .default(['SaleOptOut', 'SharingOptOut', 'TargetedAdvertisingOptOut'])
              .describe(
                'GPP US section fields whose value 1 ("opted out") opts the visitor out of sale/share.',
              ),
            denies: z
              .array(z.enum(['storage', 'measurement', 'personalization', 'advertising']))
              .default(['advertising'])
              .describe(
                'Gatehouse purposes switched off by a sale/share opt-out (GPP, USP optOutSale Y, GPC).',
              ),
          })
          .prefault({})
          .describe('What a US opt-out (or GPC anywhere it counts) switches off.'),
      })
      .prefault({}),
    cmp: cmpSchema,
    gvlVendorId: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .nullable()
      .default(null)
      .describe(
        "Gatehouse operator's own IAB Global Vendor List id: when set, this vendor must also have consent " +
          '(or legitimate interest where allowed) and publisher restrictions apply to it.',
      ),
    usePublisherTC: z
      .boolean()
      .default(true)
      .describe(
        "Use the TC string's PublisherTC segment (the publisher's own purposes) when present: Gatehouse acts " +
          'as the publisher.',
      ),
    tcf: z
      .strictObject({
        maxAgeMonths: z
          .number()
          .int()
          .min(1)
          .max(120)
          .default(13)
          .describe('A TC string whose LastUpdated is older than this many months is expired (default 13).'),
        disclosedVendorsRequiredFrom: z.iso
          .date()
          .nullable()
          .default('2026-03-01')
          .describe(
            'TC strings created on or after this date must carry a DisclosedVendors segment; null: never.',
          ),
      })
      .prefault({})
      .describe('When a TC string counts as valid.'),
    consentMode: z
      .strictObject({
        enabled: z
          .boolean()
          .default(true)
          .describe("Inject gtag('consent','default',...) at the top of <head> of proxied HTML."),
      })
      .prefault({}),
    gpcWellKnown: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Serve /.well-known/gpc.json.'),
        lastUpdate: z.iso
          .date()
          .nullable()
          .default(null)
          .describe('The lastUpdate date (YYYY-MM-DD) in gpc.json; null omits it.'),
      })
      .prefault({})
      .describe('The GPC support resource (GPC specification, "The GPC Support Resource").'),
  })
  .prefault({})

export type ConsentRules = z.output<typeof consentSchema>
export type JurisdictionPolicy = z.output<z.ZodObject<typeof policyFields>>
