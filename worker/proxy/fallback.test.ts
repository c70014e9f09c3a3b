import { describe, expect, it } from 'vitest'
import { acceptsHtml, claimCopyRefresh } from './fallback'

describe('good copy refresh', () => {
  it('rewrites a copy at most once per refresh interval', () => {
    const url = new URL(`http://origin.test/page-${crypto.randomUUID()}`)
    const t0 = 1_000_000
    expect(claimCopyRefresh(url, 60, t0)).toBe(true)
    expect(claimCopyRefresh(url, 60, t0 + 1_000)).toBe(false)
    expect(claimCopyRefresh(url, 60, t0 + 59_999)).toBe(false)
    expect(claimCopyRefresh(url, 60, t0 + 60_000)).toBe(true)
  })

  it('rewrites on every good response when the interval is 0', () => {
    const url = new URL(`http://origin.test/page-${crypto.randomUUID()}`)
    expect(claimCopyRefresh(url, 0, 5)).toBe(true)
    expect(claimCopyRefresh(url, 0, 5)).toBe(true)
  })
})

describe('page requests', () => {
  it.each([
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', true],
    ['application/xhtml+xml', true],
    ['TEXT/HTML', true],
    ['application/json', false],
    ['*/*', false],
    ['text/html;q=0, application/json', false],
    ['', false],
  ])('Accept %j is a page request: %s', (accept, page) => {
    expect(acceptsHtml(new Headers(accept ? { accept } : {}))).toBe(page)
  })
})
