import { describe, expect, it } from 'vitest'
import { fitAfterMeta, isNonce, nonceAttribute, planScripts, scriptHash } from './csp'

const page = new URL('https://shop.example/products')
const INLINE = "window.dataLayer=window.dataLayer||[];gtag('consent','default',{})"
const H = scriptHash(INLINE)
const BEACON = '/v1/beacon.js'

interface Row {
  name: string
  enforce?: string
  reportOnly?: string
  nonce?: string
  /** Expected values; omitted means unchanged. */
  enforceOut?: string
  reportOut?: string
  blocked?: Array<'enforce' | 'report'>
}

// `H` is the hash of the injected inline script. Every row injects it and the beacon.
const rows: Row[] = [
  { name: 'no policy at all' },
  { name: 'a policy that does not restrict scripts', enforce: "frame-ancestors 'self'; img-src *" },
  {
    name: 'a nonce with strict-dynamic (the nonce is reused, the policy untouched)',
    enforce: "script-src 'nonce-r4nd0m+/=' 'strict-dynamic'; object-src 'none'; base-uri 'none'",
    nonce: 'r4nd0m+/=',
  },
  {
    name: 'hashes only, with self',
    enforce: "script-src 'self' 'sha256-c2l0ZQ=='",
    enforceOut: `script-src 'self' 'sha256-c2l0ZQ==' ${H}`,
  },
  {
    name: 'hashes only, with strict-dynamic (the beacon is blocked, not allowed by adding self)',
    enforce: "script-src 'sha256-c2l0ZQ==' 'strict-dynamic' 'self'",
    enforceOut: `script-src 'sha256-c2l0ZQ==' 'strict-dynamic' 'self' ${H}`,
    blocked: ['enforce'],
  },
  { name: "'unsafe-inline' only (in effect: no hash added)", enforce: "script-src 'self' 'unsafe-inline'" },
  { name: "'UNSAFE-INLINE' in upper case", enforce: "script-src 'self' 'UNSAFE-INLINE'" },
  {
    name: "'unsafe-inline' without self blocks the beacon",
    enforce: "script-src 'unsafe-inline' https://cdn.example",
    blocked: ['enforce'],
  },
  {
    name: "'unsafe-inline' with a nonce (ignored by the browser: the nonce is used)",
    enforce: "script-src 'unsafe-inline' 'nonce-abc'",
    nonce: 'abc',
  },
  {
    name: "'unsafe-inline' switched off by strict-dynamic gets the hash",
    enforce: "script-src 'unsafe-inline' 'strict-dynamic'",
    enforceOut: `script-src 'unsafe-inline' 'strict-dynamic' ${H}`,
    blocked: ['enforce'],
  },
  {
    name: 'default-src only: a script-src copy gets the hash, styles keep their rules',
    enforce: "default-src 'self'; style-src 'self' 'unsafe-inline'",
    enforceOut: `default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' ${H}`,
  },
  {
    name: 'default-src with a nonce',
    enforce: "default-src 'self' 'nonce-abc'",
    nonce: 'abc',
  },
  { name: "default-src with 'unsafe-inline' in effect", enforce: "default-src 'self' 'unsafe-inline'" },
  {
    name: 'default-src with strict-dynamic: styles keep their unsafe-inline',
    enforce: "default-src 'unsafe-inline' 'strict-dynamic' 'sha256-c2l0ZQ=='",
    enforceOut: `default-src 'unsafe-inline' 'strict-dynamic' 'sha256-c2l0ZQ=='; script-src 'unsafe-inline' 'strict-dynamic' 'sha256-c2l0ZQ==' ${H}`,
    blocked: ['enforce'],
  },
  {
    name: 'script-src-elem wins over script-src for elements',
    enforce: "script-src 'nonce-abc'; script-src-elem 'self'",
    enforceOut: `script-src 'nonce-abc'; script-src-elem 'self' ${H}`,
  },
  {
    name: 'script-src-elem with the nonce',
    enforce: "script-src 'self'; script-src-elem 'nonce-abc'",
    nonce: 'abc',
  },
  {
    name: 'script-src wins over default-src',
    enforce: "default-src 'none'; script-src 'self'",
    enforceOut: `default-src 'none'; script-src 'self' ${H}`,
  },
  {
    name: 'several policies: each must allow the scripts',
    enforce: "script-src 'nonce-abc', script-src 'self' 'unsafe-inline', default-src 'none'",
    nonce: 'abc',
    enforceOut: `script-src 'nonce-abc', script-src 'self' 'unsafe-inline', default-src 'none'; script-src ${H}`,
    blocked: ['enforce'],
  },
  {
    name: 'several policies with different nonces: the first is used, the others get hashes',
    enforce: "script-src 'nonce-one', script-src 'nonce-two' 'self'",
    nonce: 'one',
    enforceOut: `script-src 'nonce-one', script-src 'nonce-two' 'self' ${H}`,
  },
  { name: 'report-only with a nonce', reportOnly: "script-src 'nonce-r'", nonce: 'r' },
  {
    name: 'report-only with hashes (the beacon would be reported)',
    reportOnly: "script-src 'sha256-c2l0ZQ=='",
    reportOut: `script-src 'sha256-c2l0ZQ==' ${H}`,
    blocked: ['report'],
  },
  {
    name: 'enforced nonce and a report-only self policy',
    enforce: "script-src 'nonce-e' 'strict-dynamic'",
    reportOnly: "script-src 'self'; report-uri /csp",
    nonce: 'e',
    reportOut: `script-src 'self' ${H}; report-uri /csp`,
  },
  {
    name: 'malformed nonce: not a nonce, so unsafe-inline stays in effect',
    enforce: "script-src 'nonce-<x>' 'unsafe-inline' 'self'",
  },
  {
    name: 'malformed nonce beside a valid one',
    enforce: `script-src 'nonce-a"b' 'nonce-good'`,
    nonce: 'good',
    blocked: [],
  },
  {
    name: 'names are case-insensitive, a duplicate directive is ignored, empty ones skipped',
    enforce: ";; SCRIPT-SRC 'NONCE-AbC' ;script-src 'self'",
    nonce: 'AbC',
  },
  {
    name: 'whitespace other than spaces between sources',
    enforce: "script-src\t'nonce-abc'\n 'self'",
    nonce: 'abc',
  },
  {
    name: 'a stray comma (an empty policy) is dropped when the policies are rewritten',
    enforce: "script-src 'self',  ,",
    enforceOut: `script-src 'self' ${H}`,
  },
  { name: 'a stray comma alone', enforce: ' , ' },
  {
    name: 'an empty script-src allows nothing: the hash alone',
    enforce: "script-src; object-src 'none'",
    enforceOut: `script-src ${H}; object-src 'none'`,
    blocked: ['enforce'],
  },
  {
    name: "a lone 'none' is replaced by the hash",
    enforce: "script-src 'none'",
    enforceOut: `script-src ${H}`,
    blocked: ['enforce'],
  },
  { name: 'the hash already listed', enforce: `script-src 'self' ${H}` },
  {
    name: 'the hash already listed in base64url',
    enforce: `script-src 'self' ${H.replace(/\+/g, '-').replace(/\//g, '_')}`,
  },
  {
    name: "the page's own host as a host-source allows the beacon",
    enforce: 'script-src https://shop.example',
    enforceOut: `script-src https://shop.example ${H}`,
  },
  {
    name: '*.host does not match the bare host',
    enforce: 'script-src *.shop.example',
    enforceOut: `script-src *.shop.example ${H}`,
    blocked: ['enforce'],
  },
  { name: 'a scheme-source', enforce: 'script-src https:', enforceOut: `script-src https: ${H}` },
  { name: 'a wildcard', enforce: 'script-src *', enforceOut: `script-src * ${H}` },
  {
    name: 'a path prefix',
    enforce: 'script-src shop.example/v1/',
    enforceOut: `script-src shop.example/v1/ ${H}`,
  },
  {
    name: 'another path',
    enforce: 'script-src shop.example/static/',
    enforceOut: `script-src shop.example/static/ ${H}`,
    blocked: ['enforce'],
  },
  {
    name: 'another port',
    enforce: 'script-src shop.example:8443',
    enforceOut: `script-src shop.example:8443 ${H}`,
    blocked: ['enforce'],
  },
  {
    name: 'the default port spelled out',
    enforce: 'script-src shop.example:443',
    enforceOut: `script-src shop.example:443 ${H}`,
  },
  {
    name: 'plain http for an https page',
    enforce: 'script-src http://shop.example',
    enforceOut: `script-src http://shop.example ${H}`,
  },
]

describe('planScripts', () => {
  it.each(rows)('$name', (row) => {
    const plan = planScripts(
      { enforce: row.enforce ?? null, reportOnly: row.reportOnly ?? null },
      { inline: [INLINE], external: [BEACON] },
      page,
    )
    expect(plan).toEqual({
      nonce: row.nonce ?? null,
      enforce: row.enforceOut ?? row.enforce ?? null,
      reportOnly: row.reportOut ?? row.reportOnly ?? null,
      blocked: (row.blocked ?? []).map((disposition) => ({ src: BEACON, disposition })),
    })
  })

  it('adds one hash per distinct inline script, once', () => {
    const plan = planScripts(
      { enforce: "script-src 'self'", reportOnly: null },
      { inline: ['a()', 'b()', 'a()'], external: [] },
      page,
    )
    expect(plan.enforce).toBe(`script-src 'self' ${scriptHash('a()')} ${scriptHash('b()')}`)
  })

  it('adds nothing but the hash (and a script-src name for a default-src copy), whatever the policy', () => {
    const words = (s: string | null | undefined) => new Set((s ?? '').split(/[\s;,]+/).filter(Boolean))
    for (const row of rows) {
      const plan = planScripts(
        { enforce: row.enforce ?? null, reportOnly: row.reportOnly ?? null },
        { inline: [INLINE], external: [BEACON] },
        page,
      )
      for (const [before, after] of [
        [row.enforce, plan.enforce],
        [row.reportOnly, plan.reportOnly],
      ]) {
        const added = [...words(after)].filter((w) => !words(before).has(w))
        expect(added.filter((w) => w !== H && w !== 'script-src')).toEqual([])
      }
    }
  })
})

describe('fitAfterMeta', () => {
  type Case = [string, string[], string | null, { nonce: string | null } | null]
  const cases: Case[] = [
    [
      "takes the meta policy's nonce when the headers gave none",
      ["script-src 'nonce-m1' 'strict-dynamic'"],
      null,
      { nonce: 'm1' },
    ],
    [
      "keeps the headers' nonce when the meta policy lists it too",
      ["script-src 'nonce-h1' 'nonce-m1'"],
      'h1',
      { nonce: 'h1' },
    ],
    [
      "refuses when the meta policy lists only another nonce than the headers'",
      ["script-src 'nonce-m1'"],
      'h1',
      null,
    ],
    ["allows by 'self' without a nonce", ["script-src 'self' 'sha256-AAAA'"], null, { nonce: null }],
    ["allows by 'self' with the headers' nonce too", ["script-src 'self'"], 'h1', { nonce: 'h1' }],
    ['refuses a hash-only policy', ["script-src 'sha256-AAAA'"], null, null],
    [
      "refuses 'strict-dynamic' without a nonce, whatever the hosts",
      ["script-src 'self' 'strict-dynamic'"],
      null,
      null,
    ],
    ['falls back to default-src', ["default-src 'none'"], null, null],
    [
      'allows under a policy that does not restrict scripts',
      ["img-src 'self'; style-src 'none'"],
      null,
      { nonce: null },
    ],
    [
      'needs every meta policy to allow it',
      ["script-src 'self'", 'script-src https://cdn.example'],
      null,
      null,
    ],
    [
      'reads a meta value as one policy, commas and all (CSP3: not a list)',
      ["script-src 'sha256-AAAA', script-src 'self'"],
      null,
      { nonce: null },
    ],
  ]
  it.each(cases)('%s', (_, policies, nonce, expected) => {
    expect(fitAfterMeta(policies, BEACON, nonce, page)).toEqual(expected)
  })
})

describe('scriptHash', () => {
  it('is the SHA-256 of the UTF-8 text, base64, as the browser computes it', async () => {
    const text = "gtag('consent','default',{x:'é'})"
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))
    expect(scriptHash(text)).toBe(`'sha256-${btoa(String.fromCharCode(...digest))}'`)
    expect(scriptHash('')).toBe("'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='")
  })
})

describe('nonce attribute', () => {
  it.each([
    ['abc123', ' nonce="abc123"'],
    ['r4nd0m+/==', ' nonce="r4nd0m+/=="'],
    ['r4nd0m-_', ' nonce="r4nd0m-_"'],
    ['a"onload="x', ''],
    ['a&b', ''],
    ['', ''],
    ['abc===', ''],
    [null, ''],
  ])('writes %j as %j', (nonce, attribute) => {
    expect(nonceAttribute(nonce)).toBe(attribute)
    if (nonce) expect(isNonce(nonce)).toBe(attribute !== '')
  })
})
