import { describe, expect, it } from 'vitest'
import { buildTarget, parseOrigin } from './target'

const origin = new URL('http://127.0.0.1:8788')

describe('the origin target of a request', () => {
  it.each([
    ['http://shop.example/cart?x=1', 'shop.example', 'http://127.0.0.1:8788/cart?x=1'],
    ['https://shop.example/a/b/../c', null, 'http://127.0.0.1:8788/a/c'],
    ['https://shop.example/@evil.example', 'shop.example', 'http://127.0.0.1:8788/@evil.example'],
    ['https://shop.example/%2F%2Fevil.example', null, 'http://127.0.0.1:8788/%2F%2Fevil.example'],
    ['https://shop.example/?next=//evil.example', null, 'http://127.0.0.1:8788/?next=//evil.example'],
  ])('sends %s to the configured origin', (url, host, expected) => {
    expect(buildTarget(origin, new URL(url), host)).toEqual({ ok: true, value: new URL(expected) })
  })

  it.each([
    ['http://shop.example//evil.example/x', null],
    ['http://shop.example/\\evil.example', null],
    ['http://shop.example/https://evil.example/', null],
    ['http://shop.example///evil.example', null],
    ['http://evil.example/x', 'shop.example'],
  ])('refuses %s as an open proxy attempt', (url, host) => {
    const result = buildTarget(origin, new URL(url), host)
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.error.reason).toBe('open_proxy')
  })

  it.each([
    ['not a url', 'bad_origin'],
    ['ftp://files.example', 'bad_origin'],
    ['http://user:pw@origin.example', 'bad_origin'],
  ])('rejects the configured origin %s', (value, reason) => {
    const result = parseOrigin(value)
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.error.reason).toBe(reason)
  })

  it('ignores any path on the configured origin', () => {
    expect(parseOrigin('https://origin.example/app/')).toEqual({
      ok: true,
      value: new URL('https://origin.example'),
    })
  })
})
