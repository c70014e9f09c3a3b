/**
 * The gateway's own page-view recording and the beacon script: recorded and injected only with
 * measurement consent, served small, cacheable and versioned.
 */
import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { BEACON_PATH, BEACON_SOURCE, BEACON_VERSION } from '../../worker/events/beacon'
import { customer, eventsApp } from './harness'

const PAGE = '<!doctype html><html><head><title>Shop</title></head><body><h1>Shoes</h1></body></html>'

async function pageViews(stateKey: string) {
  for (let i = 0; i < 40; i++) {
    const rows = await runInDurableObject(customer(stateKey), (_i, state) =>
      state.storage.sql
        .exec<{ type: string; source: string; props: string }>(
          "SELECT type, source, props FROM events WHERE type = 'page_view'",
        )
        .toArray(),
    )
    if (rows.length) return rows
    await new Promise((r) => setTimeout(r, 50))
  }
  return []
}

describe('page views recorded by the gateway', () => {
  it('records a page view and injects the beacon with measurement consent', async () => {
    const gate = eventsApp(
      { purposes: { storage: true, measurement: true }, stateKey: 'a:pv-consented' },
      { origin: PAGE },
    )
    const res = await gate.request('/shoes?utm_source=mail&email=x@example.com', {
      headers: { accept: 'text/html', referer: 'https://search.example/q?x=1' },
    })
    const html = await res.text()
    expect(html).toContain(`<script src="${BEACON_PATH}" defer></script></head>`)
    const rows = await pageViews('a:pv-consented')
    expect(rows).toHaveLength(1)
    expect(rows[0]!.source).toBe('gateway')
    // Path and referrer host only: no query strings (they can carry identifiers).
    expect(JSON.parse(rows[0]!.props)).toEqual({ path: '/shoes', referrerHost: 'search.example' })
  })

  it('neither records nor injects anything without measurement consent', async () => {
    const gate = eventsApp({ purposes: { storage: true }, stateKey: 'a:pv-no-consent' }, { origin: PAGE })
    const html = await (await gate.request('/shoes', { headers: { accept: 'text/html' } })).text()
    expect(html).not.toContain('beacon.js')
    await new Promise((r) => setTimeout(r, 200))
    expect((await customer('a:pv-no-consent').getDecisionState()).events).toEqual({})
  })

  it('does not record gateway routes or non-GET requests as page views', async () => {
    const gate = eventsApp(
      { purposes: { storage: true, measurement: true }, stateKey: 'a:pv-api' },
      { origin: PAGE },
    )
    await gate.request('/v1/beacon.js')
    await gate.request('/shoes', { method: 'POST', headers: { accept: 'text/html' } })
    await new Promise((r) => setTimeout(r, 200))
    expect((await customer('a:pv-api').getDecisionState()).events.page_view).toBeUndefined()
  })
})

describe('GET /v1/beacon.js', () => {
  it('serves a small versioned script, immutable under its version', async () => {
    const gate = eventsApp({})
    const res = await gate.request(`/v1/beacon.js?v=${BEACON_VERSION}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    const body = await res.text()
    expect(body).toBe(BEACON_SOURCE)
    expect(new TextEncoder().encode(body).length).toBeLessThan(4096)
    const unversioned = await gate.request('/v1/beacon.js')
    expect(unversioned.headers.get('cache-control')).toBe('public, max-age=300')
  })

  it('posts only to the same origin with sendBeacon and sends only the path', () => {
    expect(BEACON_SOURCE).toContain("E='/v1/events'")
    expect(BEACON_SOURCE).toContain('navigator.sendBeacon')
    expect(BEACON_SOURCE).not.toMatch(/https?:\/\//)
    expect(BEACON_SOURCE).not.toContain('location.search')
    expect(BEACON_SOURCE).not.toContain('location.href')
  })
})
