/**
 * The injected scripts under the origin's Content-Security-Policy, through the whole Worker and
 * the demo storefront's `/csp/*` pages: the page's nonce reused on the Consent Mode script and the
 * beacon, the Consent Mode hash added to a hash-based policy (nothing else changed), a beacon the
 * policy blocks left out and logged once, the beacon fitted to a policy in a `<meta>` element, and
 * pages without a policy untouched.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, it } from 'vitest'
import { createApp } from '../../worker/app'
import { BEACON_PATH } from '../../worker/events/beacon'
import type { Env } from '../../worker/env'
import { scriptHash } from '../../worker/proxy/csp'
import { PAGE_ACCEPT, located } from './consent-support'

const lines: Array<Record<string, unknown>> = []
const app = createApp({ logSink: (level, line) => lines.push({ ...JSON.parse(line), level }) })

beforeEach(() => {
  lines.length = 0
})

async function get(path: string, headers: Record<string, string>) {
  const ctx = createExecutionContext()
  const res = await app.fetch(
    new Request(`http://gate.test${path}`, { headers: { accept: PAGE_ACCEPT, ...headers } }),
    env as unknown as Env,
    ctx,
  )
  const html = await res.text()
  await waitOnExecutionContext(ctx)
  return { res, html }
}

async function origin(path: string) {
  const res = await fetch(`${(env as unknown as Env).ORIGIN_URL}${path}`)
  return { res, html: await res.text() }
}

// Everything allowed (opt-out, no opt-out): Consent Mode granted and the beacon injected.
const US = located('US', 'CA')
// Nothing allowed: Consent Mode denied, no beacon.
const DE = located('DE')

/** The Consent Mode script's text as injected (the first inline script after <head>). */
function consentModeText(html: string): string {
  const m = /<head><script(?: nonce="[^"]*")?>(window\.dataLayer=[^<]*)<\/script>/.exec(html)
  expect(m, 'Consent Mode script first in <head>').not.toBeNull()
  return m![1]!
}

const nonceOf = (policy: string) => /'nonce-([^']+)'/.exec(policy)![1]!

describe('a nonce-based policy', () => {
  it('puts the page nonce on the Consent Mode script and the beacon, leaving the policy as sent', async () => {
    const { res, html } = await get('/csp/nonce', US)
    const policy = res.headers.get('content-security-policy')!
    const nonce = nonceOf(policy)
    expect(policy).toBe(`script-src 'nonce-${nonce}' 'strict-dynamic'; object-src 'none'; base-uri 'none'`)
    expect(html).toContain(`<head><script nonce="${nonce}">window.dataLayer=`)
    expect(html).toContain(`<script src="${BEACON_PATH}" defer nonce="${nonce}"></script>`)
    expect(html).toContain(`<script nonce="${nonce}">window.siteScriptRan = true</script>`)
    expect(lines.find((l) => l.event === 'csp_blocks_injected_script')).toBeUndefined()
  })

  it('reuses a Report-Only policy nonce the same way', async () => {
    const { res, html } = await get('/csp/report-only', US)
    expect(res.headers.get('content-security-policy')).toBeNull()
    const policy = res.headers.get('content-security-policy-report-only')!
    const nonce = nonceOf(policy)
    expect(policy).toBe(`script-src 'nonce-${nonce}'; report-uri /csp-reports`)
    expect(html).toContain(`<head><script nonce="${nonce}">window.dataLayer=`)
    expect(html).toContain(`<script src="${BEACON_PATH}" defer nonce="${nonce}"></script>`)
  })
})

describe('a hash-based policy', () => {
  it.each([
    ['an EU visitor without consent', DE],
    ['a US visitor', US],
  ])('adds the Consent Mode hash for %s and nothing else', async (_, who) => {
    const [{ res, html }, sent] = await Promise.all([get('/csp/hash', who), origin('/csp/hash')])
    const text = consentModeText(html)
    const policy = sent.res.headers.get('content-security-policy')!
    expect(policy).toMatch(
      /^script-src 'self' https:\/\/tags\.adnetwork\.example 'sha256-[^']+'; object-src 'none'$/,
    )
    const [scripts, rest] = policy.split('; ')
    expect(res.headers.get('content-security-policy')).toBe(`${scripts} ${scriptHash(text)}; ${rest}`)
    expect(html).not.toContain('nonce=')
  })

  it("gives the beacon no nonce where the policy allows 'self'", async () => {
    const { html } = await get('/csp/hash', US)
    expect(html).toContain(`<script src="${BEACON_PATH}" defer></script>`)
    expect(lines.find((l) => l.event === 'csp_blocks_injected_script')).toBeUndefined()
  })

  it("leaves out a beacon that 'strict-dynamic' without a nonce would block, and says so once", async () => {
    const [{ res, html }, sent] = await Promise.all([
      get('/csp/hash-strict-dynamic', US),
      origin('/csp/hash-strict-dynamic'),
    ])
    const text = consentModeText(html)
    expect(res.headers.get('content-security-policy')).toBe(
      `${sent.res.headers.get('content-security-policy')} ${scriptHash(text)}`,
    )
    expect(html).not.toContain('beacon.js')
    const logged = lines.filter((l) => l.event === 'csp_blocks_injected_script')
    expect(logged).toEqual([
      expect.objectContaining({ level: 'warn', scripts: [{ src: BEACON_PATH, disposition: 'enforce' }] }),
    ])
  })
})

describe('a policy in a <meta http-equiv> element', () => {
  // It governs only what follows it (CSP3): the Consent Mode script, first in <head>, comes
  // before it; the beacon, written at </head>, comes after and is fitted to it.
  const metaOf = (html: string) =>
    /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)![1]!

  it("gives the beacon the meta policy's nonce, leaving the page's policy and headers as sent", async () => {
    const { res, html } = await get('/csp/meta-nonce', US)
    const policy = metaOf(html)
    const nonce = nonceOf(policy)
    expect(policy).toBe(`script-src 'nonce-${nonce}' 'strict-dynamic'; object-src 'none'`)
    expect(res.headers.get('content-security-policy')).toBeNull()
    expect(html).toContain('<head><script>window.dataLayer=')
    expect(html).toContain(`<script src="${BEACON_PATH}" defer nonce="${nonce}"></script></head>`)
    expect(lines.find((l) => l.event === 'csp_blocks_injected_script')).toBeUndefined()
  })

  it("gives the beacon no nonce where the meta policy allows 'self'", async () => {
    const { html } = await get('/csp/meta-self', US)
    expect(html).toContain(`<script src="${BEACON_PATH}" defer></script></head>`)
    expect(html).not.toContain('nonce=')
    expect(lines.find((l) => l.event === 'csp_blocks_injected_script')).toBeUndefined()
  })

  it('leaves out a beacon the meta policy would block, and says so once', async () => {
    const [{ res, html }, sent] = await Promise.all([get('/csp/meta-hash', US), origin('/csp/meta-hash')])
    expect(metaOf(html)).toBe(metaOf(sent.html))
    expect(res.headers.get('content-security-policy')).toBeNull()
    expect(html).toContain('<head><script>window.dataLayer=')
    expect(html).not.toContain('beacon.js')
    const logged = lines.filter((l) => l.event === 'csp_blocks_injected_script')
    expect(logged).toEqual([
      expect.objectContaining({
        level: 'warn',
        scripts: [{ src: BEACON_PATH, disposition: 'enforce', policy: 'meta' }],
      }),
    ])
  })
})

describe('a page without a policy', () => {
  it('gets the scripts without a nonce and no policy header', async () => {
    const { res, html } = await get('/', US)
    expect(res.headers.get('content-security-policy')).toBeNull()
    expect(res.headers.get('content-security-policy-report-only')).toBeNull()
    expect(html).toContain('<head><script>window.dataLayer=')
    expect(html).toContain(`<script src="${BEACON_PATH}" defer></script>`)
    expect(html).not.toContain('nonce=')
  })
})
