/**
 * The primitives the consent-string decoders share behave as the specs define them: base64url is
 * strict and capped, datetimes read through any reader and format as Date does, and the Fibonacci
 * numbers are exact. The readers' own contract is bits.contract.test.ts; range lists,
 * bits-ranges.test.ts.
 */
/// <reference types="vite/client" />
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import consentDocs from '../../docs/consent.md?raw'
import { BIT_SOURCES } from '../../test/support/consent/bit-sources'
import { int, toBase64Url } from '../../test/support/consent/bit-strings'
import {
  DECODE_REASONS,
  decodeBase64Url,
  fibonacciNumbers,
  isoFromDeciseconds,
  isoFromEpochMs,
  readDatetime,
  readIsoDatetime,
} from './bits'

describe('decodeBase64Url', () => {
  it('decodes base64url into bytes and keeps the exact bit length', () => {
    const r = decodeBase64Url('CQ')
    expect(r.ok && Array.from(r.value.bytes)).toEqual([0b00001001, 0b00000000])
    expect(r.ok && r.value.bitLength).toBe(12)
  })

  it('agrees with the platform base64 decoder on whole bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (data) => {
        const text = Buffer.from(data).toString('base64url')
        const r = decodeBase64Url(text)
        expect(r.ok).toBe(true)
        if (r.ok) expect(Array.from(r.value.bytes.subarray(0, data.length))).toEqual(Array.from(data))
      }),
    )
  })

  it.each([
    ['', 'empty'],
    ['AB+C', 'bad_base64'],
    ['AB/C', 'bad_base64'],
    ['ABC=', 'bad_base64'],
    ['AB C', 'bad_base64'],
    ['ABé', 'bad_base64'],
  ])('rejects %j as %s', (input, reason) => {
    const r = decodeBase64Url(input)
    expect(r.ok ? null : r.error.reason).toBe(reason)
  })

  it('rejects input over the length cap before decoding it', () => {
    const r = decodeBase64Url('A'.repeat(101), { maxLength: 100, field: 'TCString' })
    expect(r.ok ? null : r.error).toMatchObject({ reason: 'too_long', field: 'TCString' })
  })
})

describe('datetimes', () => {
  it.each(BIT_SOURCES)('reads 36-bit deciseconds as milliseconds and as ISO 8601 through $name', (kind) => {
    const ds = Date.UTC(2025, 5, 3) / 100
    const r = kind.of(toBase64Url(int(ds, 36).repeat(2)))
    expect(readDatetime(r)).toBe(Date.UTC(2025, 5, 3))
    expect(readIsoDatetime(r)).toBe('2025-06-03T00:00:00.000Z')
    expect(r.pos).toBe(72)
  })

  it('formats every 36-bit decisecond count as Date does', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 36 - 1 }), (ds) => {
        expect(isoFromDeciseconds(ds)).toBe(new Date(ds * 100).toISOString())
      }),
      { numRuns: 20_000 },
    )
    for (const ds of [0, 2 ** 36 - 1, 9_510_048_000, 9_511_775_990]) {
      expect(isoFromDeciseconds(ds)).toBe(new Date(ds * 100).toISOString())
    }
  })

  it('formats any millisecond time as Date does, whole deciseconds or not', () => {
    const ms = fc.oneof(
      fc.integer({ min: 0, max: 2 ** 36 - 1 }).map((ds) => ds * 100),
      fc.integer({ min: -8.64e15, max: 8.64e15 }),
    )
    fc.assert(
      fc.property(ms, (t) => {
        expect(isoFromEpochMs(t)).toBe(new Date(t).toISOString())
      }),
      { numRuns: 20_000 },
    )
    for (const t of [0, -100, 1, 2 ** 36 * 100, 2 ** 36 * 100 - 100, 8.64e15]) {
      expect(isoFromEpochMs(t)).toBe(new Date(t).toISOString())
    }
  })
})

describe('fibonacciNumbers', () => {
  it('lists F(2), F(3), ... exactly, as far as they stay safe integers', () => {
    expect(fibonacciNumbers(8)).toEqual([1, 2, 3, 5, 8, 13, 21, 34])
    const all = fibonacciNumbers(76)
    for (let i = 2; i < all.length; i++) expect(all[i]).toBe(all[i - 1]! + all[i - 2]!)
    expect(Number.isSafeInteger(all[75])).toBe(true)
  })
})

describe('decode failure reasons', () => {
  it('are each described in docs/consent.md "Decode failures", in the order bits.ts lists them', () => {
    const section = consentDocs.split('### Decode failures')[1]?.split('\n#')[0] ?? ''
    const rows = [...section.matchAll(/^\| `(\w+)` \| \S/gm)].map((m) => m[1])
    expect(rows).toEqual([...DECODE_REASONS])
  })
})
