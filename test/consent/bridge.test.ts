/**
 * The consent bridge through the real Worker: `GET /v1/consent-bridge.js` is served like the
 * beacon (script type, immutable when versioned, revalidated when bare), and the `gh_cmp` cookie
 * it writes is read as the CMP's own string on the next request.
 */
import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { BRIDGE_PATH, BRIDGE_VERSION } from '../../worker/consent/bridge/script'
import { GPP, located, tcCookie } from './consent-support'

const gate = (path: string, headers: Record<string, string> = {}) =>
  exports.default.fetch(new Request(`http://gate.test${path}`, { headers }))

describe('GET /v1/consent-bridge.js', () => {
  it('serves the script immutable at its versioned URL and revalidated at the bare one', async () => {
    const versioned = await gate(BRIDGE_PATH)
    expect(versioned.status).toBe(200)
    expect(versioned.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(versioned.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(versioned.headers.get('x-content-type-options')).toBe('nosniff')
    expect(versioned.headers.get('etag')).toBe(`"${BRIDGE_VERSION}"`)
    const source = await versioned.text()
    expect(source).toContain("__tcfapi('addEventListener',2,")
    expect(source).toContain("__gpp('addEventListener',")
    expect(source).not.toMatch(/\beval\(|new Function/)
    const bare = await gate('/v1/consent-bridge.js')
    expect(bare.headers.get('cache-control')).toBe('public, max-age=300')
  })

  it('answers 405 with Allow for another method', async () => {
    const res = await exports.default.fetch('http://gate.test/v1/consent-bridge.js', { method: 'POST' })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toContain('GET')
  })
})

describe('the gh_cmp cookie on the next request', () => {
  it('grants in the EU what the bridged TC string grants, and reports where it came from', async () => {
    const res = await gate(
      '/v1/consent',
      located('DE', undefined, { cookie: `gh_cmp=1~t~${tcCookie([1, 7, 8, 9, 10])}` }),
    )
    const body = (await res.json()) as { purposes: Record<string, boolean>; sources: unknown[] }
    expect(body.purposes).toMatchObject({ storage: true, measurement: true, advertising: false })
    expect(body.sources).toContainEqual(expect.objectContaining({ from: 'cookie:gh_cmp', valid: true }))
  })

  it('reads a bridged GPP string with its section ids', async () => {
    const res = await gate(
      '/v1/consent',
      located('US', 'CA', { cookie: `gh_cmp=1~g~8~${GPP.uscaSaleOptOut}` }),
    )
    const body = (await res.json()) as { saleShareOptOut: boolean; sources: unknown[] }
    expect(body.saleShareOptOut).toBe(true)
    expect(body.sources).toContainEqual(
      expect.objectContaining({ signal: 'gpp', from: 'cookie:gh_cmp', valid: true }),
    )
  })

  it('grants nothing from a gh_cmp it cannot read, and is never a 5xx', async () => {
    const res = await gate('/v1/consent', located('DE', undefined, { cookie: 'gh_cmp=1~t~granted;all' }))
    expect(res.status).toBe(200)
    const body = (await res.json()) as { purposes: Record<string, boolean> }
    expect(Object.values(body.purposes).some(Boolean)).toBe(false)
  })
})
