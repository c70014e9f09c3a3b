import { describe, expect, it } from 'vitest'
import { buildTarget, parseOrigin } from './target'

const origin = new URL('http://127.0.0.1:8788')

describe('the origin target of a request', () => {
  it.each([
    ['http://shop.example/cart?x=1', 'http://127.0.0.1:8788/cart?x=1'],
    ['https://shop.example/a/b/../c', 'http://127.0.0.1:8788/a/c'],
    ['https://shop.example/@evil.example', 'http://127.0.0.1:8788/@evil.example'],
    ['https://shop.example/%2F%2Fevil.example', 'http://127.0.0.1:8788/%2F%2Fevil.example'],
    ['https://shop.example/?next=//evil.example', 'http://127.0.0.1:8788/?next=//evil.example'],
    ['http://evil.example/steal', 'http://127.0.0.1:8788/steal'],
    ['http://user:pw@evil.example:444/steal', 'http://127.0.0.1:8788/steal'],
  ])('sends %s to the configured origin', (url, expected) => {
    expect(buildTarget(origin, new URL(url))).toEqual({ ok: true, value: new URL(expected) })
  })

  it.each([
    'http://shop.example//evil.example/x',
    'http://shop.example/\\evil.example',
    'http://shop.example/https://evil.example/',
    'http://shop.example///evil.example',
  ])('refuses %s as an open proxy attempt', (url) => {
    const result = buildTarget(origin, new URL(url))
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
