/**
 * The reverse proxy passes traffic through faithfully: every method with its body, the query,
 * bytes untouched, and only the headers a proxy must change changed.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { bundledRules } from '../../worker/rules'
import { gate, originFetch } from './support'

interface Echo {
  method: string
  url: string
  headers: Record<string, string>
  bodyLength: number
  bodySha256: string
}

async function sha256(bytes: ArrayBuffer | Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes)
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

describe('proxying to the origin', () => {
  it.each(['POST', 'PUT', 'PATCH', 'DELETE'])('forwards %s with its body to the origin', async (method) => {
    const body = JSON.stringify({ item: 'lamp', qty: 2 })
    const res = await gate('/echo/orders?sort=asc&page=2', {
      method,
      headers: { 'content-type': 'application/json' },
      body,
    })
    expect(res.status).toBe(200)
    const echo = (await res.json()) as Echo
    expect(echo.method).toBe(method)
    expect(echo.url).toBe('/echo/orders?sort=asc&page=2')
    expect(echo.bodyLength).toBe(body.length)
    expect(echo.bodySha256).toBe(await sha256(new TextEncoder().encode(body)))
  })

  it('forwards GET and HEAD without a body and keeps the query string as sent', async () => {
    const get = (await (await gate('/echo?q=a%20b&x=1&x=2')).json()) as Echo
    expect(get).toMatchObject({ method: 'GET', url: '/echo?q=a%20b&x=1&x=2', bodyLength: 0 })
    const head = await gate('/api/products', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
  })

  it('serves the JSON API exactly as the origin sends it', async () => {
    const [direct, proxied] = await Promise.all([originFetch('/api/products'), gate('/api/products')])
    expect(proxied.headers.get('content-type')).toBe('application/json')
    expect(await proxied.text()).toBe(await direct.text())
  })

  it('returns binary responses byte for byte, even when declared as HTML-like text', async () => {
    for (const type of ['application/octet-stream', 'image/png']) {
      const [direct, proxied] = await Promise.all([
        originFetch(`/bytes?n=300000&type=${encodeURIComponent(type)}`),
        gate(`/bytes?n=300000&type=${encodeURIComponent(type)}`),
      ])
      const a = new Uint8Array(await direct.arrayBuffer())
      const b = new Uint8Array(await proxied.arrayBuffer())
      expect(b.length).toBe(300_000)
      expect(await sha256(b)).toBe(await sha256(a))
    }
  })

  it('uploads binary request bodies byte for byte', async () => {
    const bytes = new Uint8Array(1_000_003)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff
    const res = await gate('/echo-bytes', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    })
    const back = new Uint8Array(await res.arrayBuffer())
    expect(back.length).toBe(bytes.length)
    expect(await sha256(back)).toBe(await sha256(bytes))
  })

  it('passes origin error statuses through for non-page requests', async () => {
    const res = await gate('/api/missing', { headers: { accept: 'application/json' } })
    expect(res.status).toBe(404)
  })
})

describe('header hygiene', () => {
  it('removes hop-by-hop request headers, including those named by Connection (RFC 9110 7.6.1)', async () => {
    const res = await gate('/echo', {
      headers: {
        connection: 'keep-alive, x-secret-hop',
        'keep-alive': 'timeout=5',
        'x-secret-hop': 'must not reach the origin',
        'proxy-authorization': 'Basic Zm9vOmJhcg==',
        te: 'trailers',
        trailer: 'x-checksum',
        upgrade: 'h2c',
        'x-end-to-end': 'kept',
      },
    })
    const { headers } = (await res.json()) as Echo
    for (const name of ['x-secret-hop', 'keep-alive', 'proxy-authorization', 'te', 'trailer', 'upgrade']) {
      expect(headers, name).not.toHaveProperty(name)
    }
    expect(headers['x-end-to-end']).toBe('kept')
  })

  it('sets X-Forwarded-For to CF-Connecting-IP alone, and X-Forwarded-Proto/-Host from the public URL', async () => {
    const res = await gate('/echo', {
      headers: {
        'cf-connecting-ip': '203.0.113.9',
        'x-forwarded-for': '198.51.100.1',
        'x-forwarded-host': 'forged.example',
        'x-forwarded-proto': 'gopher',
      },
    })
    const { headers } = (await res.json()) as Echo
    // The client's chain is dropped, not extended: the origin must never take it for the visitor's.
    expect(headers['x-forwarded-for']).toBe('203.0.113.9')
    expect(headers['x-forwarded-host']).toBe('gate.test')
    expect(headers['x-forwarded-proto']).toBe('http')
    // The origin is addressed by its own name.
    expect(headers.host).toBe(new URL(env.ORIGIN_URL!).host)
  })

  it('never passes the development location override headers to the origin', async () => {
    const res = await gate('/echo', { headers: { 'x-gatehouse-country': 'DE', 'x-gatehouse-region': 'BY' } })
    const { headers } = (await res.json()) as Echo
    expect(headers).not.toHaveProperty('x-gatehouse-country')
    expect(headers).not.toHaveProperty('x-gatehouse-region')
  })

  it('does not send hop-by-hop response headers to the client', async () => {
    const res = await gate('/big?mb=1')
    expect(res.headers.get('connection')).toBeNull()
    expect(res.headers.get('keep-alive')).toBeNull()
    expect(res.headers.get('transfer-encoding')).toBeNull()
    await res.body?.cancel()
  })
})

describe('request id and health', () => {
  it('keeps a sane client request id and echoes it on the response', async () => {
    const res = await gate('/api/products', { headers: { 'x-request-id': 'req-0123456789abcdef' } })
    expect(res.headers.get('x-request-id')).toBe('req-0123456789abcdef')
    await res.body?.cancel()
  })

  it.each([
    ['too short', 'abc'],
    ['with spaces', 'hello world 123456'],
    ['with an injection attempt', 'abc123456\r\nset-cookie: x=1'.replace(/[\r\n]/g, '')],
    ['too long', 'a'.repeat(200)],
  ])('replaces a client request id that is %s', async (_label, supplied) => {
    const res = await gate('/api/products', { headers: { 'x-request-id': supplied } })
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    await res.body?.cancel()
  })

  it('answers GET /v1/health with the rules version, never proxying it', async () => {
    const res = await gate('/v1/health')
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ status: 'ok', rulesVersion: bundledRules.version })
  })
})
