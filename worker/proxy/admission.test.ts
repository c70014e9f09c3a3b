import { describe, expect, it } from 'vitest'
import { admitProxy, isNeverProxied, isPublicHost, parsePublicHosts, routingPath } from './admission'

const { hosts } = parsePublicHosts(['shop.example', 'www.shop.example', '127.0.0.1:8787', '[::1]:8787'])

describe('public hosts', () => {
  it.each([
    ['https://shop.example/cart', true],
    ['http://shop.example/cart', true],
    ['https://SHOP.example/', true],
    ['https://shop.example:443/', true],
    ['https://www.shop.example/', true],
    ['http://127.0.0.1:8787/', true],
    ['http://[::1]:8787/', true],
    ['https://evil.example/', false],
    ['https://shop.example.evil.example/', false],
    ['https://evilshop.example/', false],
    ['https://shop.example:8443/', false],
    ['http://127.0.0.1:8788/', false],
    ['http://127.0.0.1/', false],
    ['https://shop.example./', false],
    ['https://user:pw@evil.example/', false],
  ])('%s is listed: %s', (url, listed) => {
    expect(isPublicHost(new URL(url), hosts)).toBe(listed)
  })

  it('matches an entry that spells out the default port', () => {
    const spelled = parsePublicHosts(['shop.example:443']).hosts
    expect(isPublicHost(new URL('https://shop.example/'), spelled)).toBe(true)
    expect(isPublicHost(new URL('http://shop.example/'), spelled)).toBe(false)
  })

  it('leaves out entries that are not hosts and names them', () => {
    const parsed = parsePublicHosts([
      ' Shop.Example ',
      'https://x.example',
      '*.shop.example',
      'a.example/x',
      'b.example:99999',
      '',
    ])
    expect(parsed.hosts).toEqual([{ hostname: 'shop.example', port: null }])
    expect(parsed.rejected).toEqual(['https://x.example', '*.shop.example', 'a.example/x', 'b.example:99999'])
  })

  it('admits nothing when no host is configured', () => {
    expect(admitProxy(new URL('https://shop.example/'), [], [])).toMatchObject({
      ok: false,
      error: { reason: 'unknown_host' },
    })
  })
})

describe('paths never proxied', () => {
  const never = ['/__control', '/origin-admin/']

  it.each([
    ['/__control', true],
    ['/__control/', true],
    ['/__control/fault', true],
    ['/__CONTROL/fault', true],
    ['/%5F%5Fcontrol/fault', true],
    ['/%5f%5fcontrol/fault', true],
    ['/__control%2Ffault', true],
    ['/__control;jsessionid=1/fault', true],
    ['//__control/fault', true],
    ['/x/%2E%2E/__control/fault', true],
    ['/x/%2e./__control/fault', true],
    ['/origin-admin', true],
    ['/origin-admin/users', true],
    ['/__controlled', false],
    ['/product/__control', false],
    ['/', false],
    ['/cart', false],
  ])('%s is never proxied: %s', (path, blocked) => {
    expect(isNeverProxied(path, never)).toBe(blocked)
  })

  it('reads a path as an origin server might route it', () => {
    expect(routingPath('/A/%42/./c;p=1//d/../e')).toBe('/a/b/c/e')
    // A malformed escape is left as it is, the rest still decoded.
    expect(routingPath('/%zz/%5F')).toBe('/%zz/_')
  })

  it('refuses a never-proxied path on a listed host, and admits other paths', () => {
    const url = (path: string) => new URL(`https://shop.example${path}`)
    expect(admitProxy(url('/__control/fault'), hosts, never)).toMatchObject({
      ok: false,
      error: { reason: 'never_proxied' },
    })
    expect(admitProxy(url('/cart'), hosts, never)).toEqual({ ok: true })
    expect(admitProxy(url('/__control/fault'), hosts, [])).toEqual({ ok: true })
  })
})
