/**
 * The gateway is never an open proxy: whatever a client puts in the request line, Host header or
 * path, the request goes to the configured origin; paths that name another host are refused with
 * 400 problem+json.
 */
import { env, exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { gate } from './support'

const refused = [
  { label: 'a scheme-relative path', url: 'http://gate.test//evil.example/steal' },
  {
    label: 'a backslash path browsers read as a host',
    url: 'http://gate.test/%5Cevil.example/steal'.replace('%5C', '\\'),
  },
  { label: 'an absolute URL in the path', url: 'http://gate.test/http://evil.example/steal' },
  { label: 'a WebSocket URL in the path', url: 'http://gate.test/wss://evil.example/socket' },
]

describe('open proxy attempts', () => {
  it.each(refused)('refuses $label with 400 problem+json', async ({ url }) => {
    const res = await exports.default.fetch(new Request(url))
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    const problem = (await res.json()) as { title: string; errors: Array<{ path: string }> }
    expect(problem.title).toBe('Open proxy request refused')
    expect(problem.errors[0]?.path).toBe('url')
  })

  it.each([
    ['an absolute-form target naming another host', 'http://evil.example/echo/steal'],
    ['credentials in the request URL', 'http://user:pw@evil.example:444/echo/steal'],
  ])('refuses a request with %s with 421 (not a configured public host)', async (_label, url) => {
    const res = await exports.default.fetch(new Request(url))
    expect(res.status).toBe(421)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    const problem = (await res.json()) as { errors: Array<{ path: string }> }
    expect(problem.errors[0]?.path).toBe('host')
  })

  it.each([['a Host header naming another host', 'http://gate.test/echo/steal', { host: 'evil.example' }]])(
    'sends a request with %s to the configured origin only',
    async (_label, url, headers) => {
      const res = await exports.default.fetch(new Request(url, { headers }))
      expect(res.status).toBe(200)
      const echo = (await res.json()) as { url: string; headers: Record<string, string> }
      expect(echo.url).toBe('/echo/steal')
      expect(echo.headers.host).toBe(new URL(env.ORIGIN_URL!).host)
    },
  )

  it.each([
    ['@ after the host', '/@evil.example/x'],
    ['credentials-like text in the path', '/user:pass@evil.example/'],
    ['an encoded double slash', '/%2F%2Fevil.example/x'],
  ])('sends paths with %s to the origin as plain paths', async (_label, path) => {
    const res = await gate(`/echo${path}`)
    expect(res.status).toBe(200)
    const echo = (await res.json()) as { url: string; headers: Record<string, string> }
    expect(echo.url).toBe(`/echo${path}`)
    expect(echo.headers.host).toBe(new URL(env.ORIGIN_URL!).host)
  })
})
