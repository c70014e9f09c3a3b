/**
 * The consent stage itself: one Consent on every request (gateway routes included), enforcement
 * hooks only for proxied paths, fail closed if resolution ever breaks, the decoding cache, and the
 * helpers `/v1/decide` uses for the consent its body states.
 */
import { env } from 'cloudflare:workers'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import {
  consent,
  consentBodySchema,
  consentInputFromBody,
  consentInputFromRequest,
  resolveConsent,
} from '../../worker/consent'
import { Lru } from '../../worker/consent/signals'
import { context } from '../../worker/context'
import type { AppEnv, Env } from '../../worker/env'
import { bundledRules } from '../../worker/rules'
import { ALL_PURPOSES, located, tcCookie } from './consent-support'

function probeApp(logs: string[] = []) {
  const app = new Hono<AppEnv>()
  app.use('*', context({ logSink: (_level, line) => logs.push(line) }))
  app.use('*', consent({ rules: bundledRules }))
  app.all('*', (c) =>
    c.json({
      consent: c.var.consent,
      hooks: {
        originHeaders: c.var.hooks.originHeaders.length,
        setCookie: c.var.hooks.setCookie.length,
        html: c.var.hooks.html.length,
      },
    }),
  )
  return app
}

type Probe = {
  consent: { jurisdiction: string; purposes: Record<string, boolean>; snapshotId: string }
  hooks: Record<string, number>
}

const probe = async (path: string, headers: Record<string, string>) =>
  (await (
    await probeApp().fetch(new Request(`http://gate.test${path}`, { headers }), env as Env)
  ).json()) as Probe

describe('consent stage', () => {
  it('sets the consent on gateway routes without registering enforcement hooks', async () => {
    const body = await probe(
      '/v1/decide',
      located('DE', undefined, { cookie: `euconsent-v2=${tcCookie(ALL_PURPOSES)}` }),
    )
    expect(body.consent).toMatchObject({ jurisdiction: 'EU', purposes: { storage: true, advertising: true } })
    expect(body.hooks).toEqual({ originHeaders: 0, setCookie: 0, html: 0 })
  })

  it('sets the consent and registers enforcement on proxied paths', async () => {
    const body = await probe('/product/lamp', located('DE'))
    expect(body.consent.jurisdiction).toBe('EU')
    expect(body.hooks.originHeaders).toBe(1)
    expect(body.hooks.setCookie).toBe(1)
    expect(body.hooks.html).toBeGreaterThanOrEqual(2)
  })

  it('ignores an invalid signal and logs which one and why', async () => {
    const logs: string[] = []
    const res = await probeApp(logs).fetch(
      new Request('http://gate.test/v1/x?gdpr_consent=not-a-tc-string', { headers: located('DE') }),
      env as Env,
    )
    expect(((await res.json()) as Probe).consent.purposes.storage).toBe(false)
    const line = logs.map((l) => JSON.parse(l)).find((l) => l.event === 'consent_signal_ignored')
    expect(line).toMatchObject({
      level: 'info',
      signal: 'tcf',
      from: 'query:gdpr_consent',
      errors: [expect.any(String)],
    })
  })

  it('fails closed, and logs, if resolution ever throws', async () => {
    const logs: string[] = []
    const app = new Hono<AppEnv>()
    app.use('*', context({ logSink: (_l, line) => logs.push(line) }))
    app.use('*', async (c, next) => {
      // A location whose country cannot be read stands in for any bug inside resolution.
      const broken = Object.defineProperty({ region: null, source: 'cf' }, 'country', {
        get() {
          throw new Error('boom')
        },
      })
      c.set('request', { ...c.var.request, location: broken as never })
      await next()
    })
    app.use('*', consent({ rules: bundledRules }))
    app.all('*', (c) => c.json(c.var.consent))
    const res = await app.fetch(
      new Request('http://gate.test/v1/x', { headers: { cookie: `euconsent-v2=${tcCookie(ALL_PURPOSES)}` } }),
      env as Env,
    )
    expect(await res.json()).toMatchObject({
      purposes: { storage: false, measurement: false, personalization: false, advertising: false },
      saleShareOptOut: true,
    })
    expect(logs.some((l) => l.includes('consent_resolution_failed'))).toBe(true)
  })
})

describe('decide body helpers', () => {
  const location = { country: 'DE', region: null, source: 'cf' as const }

  it('resolves the consent a decide body states, before the cookies of the request', () => {
    const request = consentInputFromRequest(
      new Headers(),
      new Map([['euconsent-v2', tcCookie([1])]]),
      new URL('http://gate.test/v1/decide'),
    )
    const input = consentInputFromBody({ tcString: tcCookie(ALL_PURPOSES), gpc: true }, request)
    const { consent: c } = resolveConsent(input, bundledRules, location, new Date())
    expect(c.purposes).toEqual({
      storage: true,
      measurement: true,
      personalization: true,
      advertising: false,
    })
    expect(c.gpc).toBe(true)
    expect(c.sources).toEqual(
      expect.arrayContaining([
        { signal: 'tcf', from: 'body:consent.tcString', valid: true, used: true },
        { signal: 'tcf', from: 'cookie:euconsent-v2', valid: true, used: false },
        { signal: 'gpc', from: 'body:consent.gpc', valid: true, used: true },
      ]),
    )
  })

  it('checks a body gppSid against the GPP header', () => {
    const input = consentInputFromBody({ gppString: 'DBABBg~BUYAAABg.QA', gppSid: [7] })
    const { consent: c, signals } = resolveConsent(
      input,
      bundledRules,
      { country: 'US', region: 'CA', source: 'cf' },
      new Date(),
    )
    expect(signals.gpp).toMatchObject({ valid: false })
    // The mismatched string is unreadable, and in US-CA that fails safe: treated as an opt-out.
    expect(c.saleShareOptOut).toBe(true)
    expect(c.reasons.join('\n')).toContain('unreadable, treated as an opt-out')
  })

  it.each([
    [{ tcString: 42 }, 'tcString'],
    [{ gppSid: ['7'] }, 'gppSid.0'],
    [{ gpc: 'yes' }, 'gpc'],
    [{ usPrivacy: 'x'.repeat(65) }, 'usPrivacy'],
    [{ unknown: 1 }, ''],
  ])('rejects the malformed body consent %j naming the field', (body, path) => {
    const result = consentBodySchema.safeParse(body)
    expect(result.success).toBe(false)
    expect(result.error!.issues[0]!.path.join('.')).toBe(path)
  })
})

describe('decoding cache', () => {
  it('keeps at most its capacity, evicting the least recently used', () => {
    const lru = new Lru<number>(2)
    lru.set('a', 1)
    lru.set('b', 2)
    expect(lru.get('a')).toBe(1)
    lru.set('c', 3)
    expect(lru.size).toBe(2)
    expect(lru.get('b')).toBeUndefined()
    expect(lru.get('a')).toBe(1)
    expect(lru.get('c')).toBe(3)
  })
})
