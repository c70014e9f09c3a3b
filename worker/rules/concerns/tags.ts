/**
 * `rules/tags.yaml`: which third-party tags (script, iframe, img) serve which purpose, so the
 * gateway can neutralise them in proxied HTML until the visitor consents. See rules/README.md
 * `## tags` and docs/consent.md.
 */
import { z } from 'zod'

export const TAG_PURPOSES = ['measurement', 'personalization', 'advertising'] as const
export type TagPurpose = (typeof TAG_PURPOSES)[number]
const TAG_ELEMENTS = ['script', 'iframe', 'img'] as const

// `host/path` with `*` wildcards; a leading `*.` also matches the bare domain.
const srcPattern = z
  .string()
  .min(1)
  .max(300)
  .regex(
    /^[A-Za-z0-9*.-]+(:\d+)?(\/\S*)?$/,
    'host[/path] without scheme, e.g. *.doubleclick.net or cdn.x.com/px/*',
  )

const tagRule = z.strictObject({
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower case letters, digits, _ and -')
    .describe('A name for the tag, used in logs and docs.'),
  purpose: z.enum(TAG_PURPOSES).describe('The consent purpose this tag needs.'),
  src: z
    .array(srcPattern)
    .min(1)
    .describe('Where the tag loads from: host[/path] patterns, `*` matches anything, no scheme, no query.'),
  elements: z
    .array(z.enum(TAG_ELEMENTS))
    .default([...TAG_ELEMENTS])
    .describe('Which elements the rule applies to.'),
})

export type TagRule = z.output<typeof tagRule>

// A host with `*` wildcards; a leading `*.` also matches the bare domain.
const hostPattern = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^[A-Za-z0-9*.-]+$/,
    'a host without scheme, port or path, e.g. cdn.example.com or *.example-static.com',
  )

// Unknown hosts run by default: blocking every CDN, font host and image service no rule names
// breaks sites in ways nobody notices until visitors do. Operators who know their site opt in.
const unlisted = z
  .strictObject({
    thirdParty: z
      .enum(['allow', 'essential', ...TAG_PURPOSES])
      .default('allow')
      .describe(
        'What a third-party tag that no rule or data-category covers needs: `allow` (runs, the default), ' +
          '`essential` (runs, stated), or the purpose it is held back for until the visitor consents.',
      ),
    firstParty: z
      .array(hostPattern)
      .default([])
      .describe(
        "Hosts treated as the site's own besides the page's host (its CDN, static or API hosts); " +
          '`*` matches anything, `*.x.com` also matches `x.com`.',
      ),
    elements: z
      .array(z.enum(TAG_ELEMENTS))
      .default([...TAG_ELEMENTS])
      .describe('Which elements from unlisted third-party hosts `thirdParty` applies to.'),
  })
  .prefault({})

// Google Tag Manager and gtag.js are deliberately absent: they read the injected Consent Mode
// defaults and hold back on their own, and blocking the container would also block essential tags.
const DEFAULT_TAG_RULES: TagRule[] = [
  { id: 'google-analytics', purpose: 'measurement', src: ['*.google-analytics.com', '*.analytics.google.com'], elements: ['script', 'iframe', 'img'] },
  { id: 'hotjar', purpose: 'measurement', src: ['*.hotjar.com'], elements: ['script', 'iframe', 'img'] },
  { id: 'clarity', purpose: 'measurement', src: ['*.clarity.ms'], elements: ['script', 'iframe', 'img'] },
  { id: 'google-ads', purpose: 'advertising', src: ['*.doubleclick.net', '*.googlesyndication.com', '*.googleadservices.com', '*.adservice.google.com'], elements: ['script', 'iframe', 'img'] },
  { id: 'meta-pixel', purpose: 'advertising', src: ['connect.facebook.net', 'www.facebook.com/tr*'], elements: ['script', 'iframe', 'img'] },
  { id: 'microsoft-ads', purpose: 'advertising', src: ['bat.bing.com'], elements: ['script', 'iframe', 'img'] },
  { id: 'tiktok-pixel', purpose: 'advertising', src: ['analytics.tiktok.com'], elements: ['script', 'iframe', 'img'] },
  { id: 'linkedin-insight', purpose: 'advertising', src: ['snap.licdn.com', 'px.ads.linkedin.com'], elements: ['script', 'iframe', 'img'] },
  { id: 'pinterest-tag', purpose: 'advertising', src: ['s.pinimg.com/ct/*', 'ct.pinterest.com'], elements: ['script', 'iframe', 'img'] },
  { id: 'criteo', purpose: 'advertising', src: ['*.criteo.com', '*.criteo.net'], elements: ['script', 'iframe', 'img'] },
] // prettier-ignore

export const tagsSchema = z
  .strictObject({
    rules: z
      .array(tagRule)
      .default(() => DEFAULT_TAG_RULES.map((r) => ({ ...r, src: [...r.src], elements: [...r.elements] })))
      .describe('Tag rules; the first matching rule wins.'),
    dataCategories: z
      .record(z.string().regex(/^[a-z0-9_-]{1,40}$/), z.enum([...TAG_PURPOSES, 'essential']))
      .default({
        necessary: 'essential',
        essential: 'essential',
        functional: 'personalization',
        preferences: 'personalization',
        personalization: 'personalization',
        analytics: 'measurement',
        statistics: 'measurement',
        performance: 'measurement',
        measurement: 'measurement',
        marketing: 'advertising',
        advertising: 'advertising',
        targeting: 'advertising',
        ads: 'advertising',
      })
      .describe(
        'A tag with `data-category="<value>"` needs this purpose; the attribute wins over src rules. ' +
          'Values are compared in lower case; an unlisted value is treated as advertising.',
      ),
    unlisted: unlisted.describe(
      "Tags from a host that is neither the page's own nor listed in `firstParty`, and that no rule or " +
        'data-category covers.',
    ),
  })
  .prefault({})

export type TagsRules = z.output<typeof tagsSchema>
