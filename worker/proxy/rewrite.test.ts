import { describe, expect, it } from 'vitest'
import { parseSetCookie } from '../lib/cookies'
import { processSetCookies, rewriteLocation } from './rewrite'

const origin = new URL('http://origin.internal:8080')
const publicUrl = new URL('https://shop.example/some/page')

describe('Location rewriting', () => {
  it.each([
    ['http://origin.internal:8080/cart?x=1#top', 'https://shop.example/cart?x=1#top'],
    ['//origin.internal:8080/cart', 'https://shop.example/cart'],
    ['/cart', '/cart'],
    ['cart', 'cart'],
    ['https://payments.example/checkout', 'https://payments.example/checkout'],
    ['http://origin.internal:9999/other-port', 'http://origin.internal:9999/other-port'],
  ])('%s -> %s', (value, expected) => {
    expect(rewriteLocation(value, origin, publicUrl)).toBe(expected)
  })
})

describe('Set-Cookie processing', () => {
  const lines = [
    'a=1; Path=/; Domain=origin.internal; Expires=Wed, 21 Oct 2026 07:28:00 GMT',
    'b=2; Domain=.origin.internal',
    'c=3; Domain=cdn.example',
    'd=4',
    '=nameless',
  ]

  it('rewrites the origin Domain, keeps the rest and drops nameless lines', () => {
    const out = processSetCookies(lines, [], 'origin.internal', 'shop.example')
    expect(out.kept).toEqual([
      'a=1; Path=/; Domain=shop.example; Expires=Wed, 21 Oct 2026 07:28:00 GMT',
      'b=2; Domain=shop.example',
      'c=3; Domain=cdn.example',
      'd=4',
    ])
    expect(out.malformed).toBe(1)
  })

  it('applies every filter to each cookie separately', () => {
    const out = processSetCookies(
      lines,
      [(c) => c.name !== 'b', (c) => c.name !== 'd'],
      'origin.internal',
      'shop.example',
    )
    expect(out.kept.map((l) => parseSetCookie(l)!.name)).toEqual(['a', 'c'])
    expect(out.dropped).toEqual(['b', 'd'])
  })
})
