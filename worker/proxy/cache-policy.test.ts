import { describe, expect, it } from 'vitest'
import { decideCopy, parseCacheControl } from './cache-policy'
import cases from './cache-policy.cases.json'

interface Case {
  name: string
  method?: string
  status: number
  request?: Record<string, string>
  response: Record<string, string>
  keep?: number
  refused?: string
}

const limits = { staleCopySeconds: 86_400, staleCopyMaxBytes: 2 * 1024 * 1024 }

describe('which origin responses are kept as the last good copy', () => {
  it.each(cases as Case[])('$name', (c) => {
    const decision = decideCopy(
      c.method ?? 'GET',
      new Headers(c.request ?? {}),
      c.status,
      new Headers(c.response),
      limits,
      Date.parse('Mon, 23 Nov 2026 10:00:00 GMT'),
    )
    if (c.refused) expect(decision).toEqual({ ok: false, error: { reason: c.refused } })
    else expect(decision).toEqual({ ok: true, value: { keepSeconds: c.keep } })
  })

  it('keeps nothing when copies are disabled', () => {
    const decision = decideCopy('GET', new Headers(), 200, new Headers({ 'cache-control': 'max-age=60' }), {
      staleCopySeconds: 60,
      staleCopyMaxBytes: 0,
    })
    expect(decision).toEqual({ ok: false, error: { reason: 'disabled' } })
  })

  it('parses directives case-insensitively with quoted arguments', () => {
    expect(parseCacheControl('Public, MAX-AGE="30", private="set-cookie"')).toEqual(
      new Map<string, string | true>([
        ['public', true],
        ['max-age', '30'],
        ['private', 'set-cookie'],
      ]),
    )
  })
})
