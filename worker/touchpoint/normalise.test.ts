/**
 * The touchpoint normaliser against the default taxonomy (rules/utm.yaml): a table of cases (a bug
 * report becomes a new row) and properties that hold for any input.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bundledRules } from '../rules'
import { normaliseTouchpoint, touchpointHeader } from './normalise'
import cases from './normalise.cases.json'

interface Case {
  name: string
  url: string
  referrer?: string
  advertising?: boolean
  expect: Record<string, unknown> | null
  strip?: string[]
}

const rules = bundledRules.utm
const NOW = 1_795_430_000_000

describe('UTM normalisation table', () => {
  it.each((cases as Case[]).map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const out = normaliseTouchpoint(
      { url: new URL(c.url), referrer: c.referrer ?? null, advertising: c.advertising ?? false, now: NOW },
      rules,
    )
    if (c.expect === null) expect(out.touchpoint).toBeNull()
    else expect(out.touchpoint).toMatchObject({ ...c.expect, at: NOW })
    if (c.strip) expect(out.strip).toEqual(c.strip)
  })
})

describe('touchpoint header for the origin', () => {
  it('is compact form-encoding with absent fields omitted and click ids by name only', () => {
    const out = normaliseTouchpoint(
      {
        url: new URL(
          'https://shop.test/?utm_source=FB&utm_medium=paid%20social&utm_campaign=Spring%20Sale&gclid=secret',
        ),
        referrer: 'https://l.facebook.com/',
        advertising: true,
        now: NOW,
      },
      rules,
    )
    const header = touchpointHeader(out.touchpoint!)
    expect(header).toBe(
      `v=1&src=facebook&med=paid_social&cmp=spring+sale&ref=l.facebook.com&clk=gclid&at=${NOW}`,
    )
    expect(header).not.toContain('secret')
  })
})

describe('normaliser properties', () => {
  const clickParams = rules.clickIds.map((c) => c.param)
  const param = fc.oneof(
    fc.constantFrom(
      'utm_source',
      'utm_medium',
      'utm_campaign',
      'utm_term',
      'utm_content',
      'UTM_SOURCE',
      'q',
      'page',
    ),
    fc.constantFrom(...clickParams),
    fc.constantFrom(...clickParams.map((p) => p.toUpperCase())),
    fc.string({ maxLength: 12 }),
  )
  const query = fc.array(fc.tuple(param, fc.string({ maxLength: 40 })), { maxLength: 8 })
  const referrer = fc.option(fc.oneof(fc.webUrl(), fc.string({ maxLength: 40 })), { nil: null })

  it('never throws, and never keeps a click id without advertising consent', () => {
    fc.assert(
      fc.property(query, referrer, (pairs, ref) => {
        const url = new URL('https://shop.test/landing')
        for (const [k, v] of pairs) url.searchParams.append(k, v)
        const out = normaliseTouchpoint({ url, referrer: ref, advertising: false, now: NOW }, rules)
        expect(out.touchpoint?.clickIds ?? {}).toEqual({})
        // Every click-id parameter with a value is stripped from the origin URL.
        const lower = new Set(clickParams.map((p) => p.toLowerCase()))
        for (const [k, v] of url.searchParams)
          if (lower.has(k.toLowerCase()) && v.trim()) expect(out.strip).toContain(k)
      }),
      { numRuns: 300 },
    )
  })

  it('only ever reports sources and mediums from the taxonomy or (other)', () => {
    const sources = new Set([...Object.keys(rules.sources), '(other)'])
    const mediums = new Set([...Object.keys(rules.mediums), '(other)'])
    fc.assert(
      fc.property(query, referrer, fc.boolean(), (pairs, ref, advertising) => {
        const url = new URL('https://shop.test/')
        for (const [k, v] of pairs) url.searchParams.append(k, v)
        const tp = normaliseTouchpoint({ url, referrer: ref, advertising, now: NOW }, rules).touchpoint
        if (tp?.source != null) expect(sources).toContain(tp.source)
        if (tp?.medium != null) expect(mediums).toContain(tp.medium)
      }),
      { numRuns: 300 },
    )
  })
})
