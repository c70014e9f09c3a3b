/**
 * The shared bit-level primitives behave as the IAB specs define them: base64url is strict and
 * capped, integers are exact up to 48 bits, reads past the end never throw, and range lists stay
 * merged ranges whatever their entries claim.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BitReader, decodeBase64Url, isoFromDeciseconds, isoFromEpochMs, readRangeList } from './bits'

/** A reader over a string of '0'/'1' characters (test helper). */
function bitsOf(bits: string): BitReader {
  const bytes = new Uint8Array(Math.ceil(bits.length / 8))
  for (let i = 0; i < bits.length; i++) if (bits[i] === '1') bytes[i >> 3]! |= 0x80 >> (i & 7)
  return new BitReader(bytes, bits.length)
}
const int = (v: number, n: number) => v.toString(2).padStart(n, '0')

/** Fibonacci code as GPP's reference encoder writes it. */
function fibCode(value: number): string {
  const fib = [1, 2]
  while (fib[fib.length - 1]! + fib[fib.length - 2]! <= value)
    fib.push(fib[fib.length - 1]! + fib[fib.length - 2]!)
  let bits = ''
  let rest = value
  for (let i = fib.length - 1; i >= 0; i--) {
    if (rest >= fib[i]!) {
      bits = '1' + bits
      rest -= fib[i]!
    } else bits = '0' + bits
  }
  return bits.replace(/0+$/, '') + '1'
}

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

describe('BitReader', () => {
  it('reads integers up to 48 bits exactly', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 48 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (n, seed, lead) => {
          const value = (seed % 2 ** Math.min(n, 31)) * (n > 31 ? 2 ** (n - 31) : 1)
          const r = bitsOf('1'.repeat(lead) + int(value, n))
          r.readInt(lead)
          expect(r.readInt(n)).toBe(value)
          expect(r.overrun).toBe(false)
        },
      ),
    )
    expect(bitsOf('1'.repeat(48)).readInt(48)).toBe(2 ** 48 - 1)
  })

  it('returns zero and flags overrun instead of reading past the end', () => {
    const r = bitsOf('101')
    expect(r.readInt(4)).toBe(0)
    expect(r.overrun).toBe(true)
    expect(r.pos).toBe(0)
  })

  it('reads bitfields as sorted 1-based ids and as merged ranges', () => {
    expect(bitsOf('110100000001').readBitfield(12)).toEqual([1, 2, 4, 12])
    const bits = '0'.repeat(16) + '111' + '0'.repeat(20) + '1' + '0'.repeat(8) + '11'
    expect(bitsOf(bits).readBitfieldRanges(bits.length)).toEqual([
      [17, 19],
      [40, 40],
      [49, 50],
    ])
  })

  it('finds the same runs as a bit-by-bit scan, at any offset and length', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 40 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 9 }),
        (data, a, b, firstId) => {
          const bits = Array.from(data, (byte) => byte.toString(2).padStart(8, '0')).join('')
          const start = bits.length ? a % bits.length : 0
          const n = bits.length ? b % (bits.length - start + 1) : 0
          const expected: Array<[number, number]> = []
          for (let i = 0; i < n; i++) {
            if (bits[start + i] !== '1') continue
            const last = expected[expected.length - 1]
            if (last && last[1] === firstId + i - 1) last[1] = firstId + i
            else expected.push([firstId + i, firstId + i])
          }
          const r = new BitReader(data)
          r.skip(start)
          expect(r.readBitfieldRanges(n, firstId)).toEqual(expected)
          expect(r.pos).toBe(start + n)
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('reads 6-bit letters and rejects values past Z', () => {
    expect(bitsOf(int(4, 6) + int(13, 6)).readString6(2)).toBe('EN')
    expect(bitsOf(int(26, 6) + int(0, 6)).readString6(2)).toBeNull()
  })

  it('reads 36-bit deciseconds as an ISO datetime', () => {
    const ds = Date.UTC(2025, 5, 3) / 100
    expect(bitsOf(int(ds, 36)).readDatetime()).toBe('2025-06-03T00:00:00.000Z')
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

  it('reads Fibonacci integers as GPP encodes them', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), (v) => {
        const r = bitsOf(fibCode(v) + '0101')
        expect(r.readFibonacci()).toBe(v)
        expect(r.remaining).toBe(4)
      }),
    )
    expect(bitsOf('0011').readFibonacci()).toBe(3)
    expect(bitsOf('01010').readFibonacci()).toBe(-1)
  })

  it('never throws on arbitrary bytes and reads', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 16 }),
        fc.array(fc.integer({ min: -2, max: 60 })),
        (data, ops) => {
          const r = new BitReader(data)
          for (const n of ops) {
            r.readInt(n)
            r.readBitfield(Math.max(0, n))
            r.readFibonacci()
            r.readString6(Math.max(0, n) % 4)
          }
          expect(r.pos).toBeLessThanOrEqual(r.bitLength)
        },
      ),
    )
  })
})

describe('range lists', () => {
  const entry = (start: number, end?: number) =>
    end === undefined ? '0' + int(start, 16) : '1' + int(start, 16) + int(end, 16)

  it('reads int range lists into merged ranges', () => {
    const r = bitsOf(int(3, 12) + entry(10, 12) + entry(1) + entry(2, 4))
    expect(readRangeList(r, { field: 'VendorConsents', maxId: 20 })).toEqual({
      ok: true,
      value: [
        [1, 4],
        [10, 12],
      ],
    })
  })

  it('names the field when a range ends before it starts or beyond the maximum id', () => {
    const backwards = readRangeList(bitsOf(int(1, 12) + entry(9, 3)), {
      field: 'VendorConsents',
      names: { end: 'EndVendorId' },
    })
    expect(backwards.ok ? null : backwards.error).toMatchObject({
      reason: 'bad_range',
      field: 'VendorConsents.EndVendorId',
    })
    const tooHigh = readRangeList(bitsOf(int(1, 12) + entry(3, 90)), { field: 'V', maxId: 50 })
    expect(tooHigh.ok ? null : tooHigh.error).toMatchObject({ reason: 'out_of_range', field: 'V.EndId' })
  })

  it('rejects a NumEntries the remaining bits cannot hold before reading entries', () => {
    const r = readRangeList(bitsOf(int(4095, 12) + entry(1)), { field: 'V' })
    expect(r.ok ? null : r.error).toMatchObject({ reason: 'truncated', field: 'V.NumEntries' })
  })

  it('reads Fibonacci range lists as offsets from the previous id', () => {
    // GPP header example: sections 2 and 6 -> offsets 2, 4.
    const r = bitsOf(int(2, 12) + '0' + fibCode(2) + '0' + fibCode(4))
    expect(readRangeList(r, { field: 'SectionIds', encoding: 'fibonacci' })).toEqual({
      ok: true,
      value: [
        [2, 2],
        [6, 6],
      ],
    })
    const range = bitsOf(int(1, 12) + '1' + fibCode(3) + fibCode(2))
    expect(readRangeList(range, { field: 'S', encoding: 'fibonacci' })).toEqual({ ok: true, value: [[3, 5]] })
  })
})
