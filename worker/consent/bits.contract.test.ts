/**
 * The one contract every consent-string bit reader keeps (`BitSource` in ./bits.ts), run over the
 * reference reader (test/support/consent/bit-reader.ts) and the two request-path readers
 * (`WordReader` for TC strings, `SegmentReader` for GPP): exact integers up to 48 bits, reads past
 * the end that return a zero value, flag `overrun` and stay put, bitfields as ids and as merged
 * runs at any offset, letters, and (for GPP's readers) Fibonacci codes. Then each fast reader is
 * held to the reference read by read over random bits and random reads.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  BIT_SOURCES,
  FIBONACCI_SOURCES,
  REFERENCE,
  SEGMENT_READER,
  WORD_READER,
  type SourceKind,
} from '../../test/support/consent/bit-sources'
import { fibonacciCode, int, toBase64Url } from '../../test/support/consent/bit-strings'
import { BASE64URL, type BitSource, type FibonacciSource } from './bits'

const base64url = fc.string({ unit: fc.constantFrom(...BASE64URL.split('')), minLength: 1, maxLength: 200 })

/** Fields made of runs of set and clear bits, each run up to `maxRun` long. */
const runs = (maxRun: number, maxRuns: number) =>
  fc
    .array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: maxRun })), { maxLength: maxRuns })
    .map((spec) => spec.map(([set, n]) => (set ? '1' : '0').repeat(n)).join(''))

/** The runs of set bits in `bits[start .. start + n)` as [first id, last id] pairs, bit by bit. */
function runsOf(bits: string, start: number, n: number, firstId: number): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let i = 0; i < n; i++) {
    if (bits[start + i] !== '1') continue
    const last = out[out.length - 1]
    if (last && last[1] === firstId + i - 1) last[1] = firstId + i
    else out.push([firstId + i, firstId + i])
  }
  return out
}

/** The reader over `bits`, zero-padded to whole base64url characters, moved to `pos`. */
function at<S extends BitSource>(kind: SourceKind<S>, bits: string, pos = 0): S {
  const r = kind.of(toBase64Url(bits || '0'))
  r.skip(pos)
  return r
}

describe.each(BIT_SOURCES)('$name keeps the BitSource contract', (kind) => {
  it('reads integers up to 48 bits exactly, at any offset', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 48 }),
        fc.nat(),
        fc.integer({ min: 0, max: 40 }),
        (n, seed, lead) => {
          const value = n === 0 ? 0 : (seed % 2 ** Math.min(n, 31)) * (n > 31 ? 2 ** (n - 31) : 1)
          const r = at(kind, '1'.repeat(lead) + int(value, n) + '1', lead)
          expect(r.readInt(n)).toBe(value)
          expect([r.pos, r.overrun]).toEqual([lead + n, false])
        },
      ),
    )
    expect(at(kind, '1'.repeat(48)).readInt(48)).toBe(2 ** 48 - 1)
    expect(at(kind, '1'.repeat(40), 3).readBits(32)).toBe(2 ** 32 - 1)
  })

  it('returns a zero value, flags overrun and stays put instead of reading past the end', () => {
    // Two characters: 12 bits, all set.
    const r = kind.of('__')
    r.skip(5)
    expect(r.readInt(8)).toBe(0)
    expect(r.readBits(8)).toBe(0)
    expect(r.readBitfield(8)).toEqual([])
    expect(r.readBitfieldRanges(8)).toEqual([])
    expect(r.readString6(2)).toBeNull()
    expect([r.pos, r.overrun, r.remaining]).toEqual([5, true, 7])
    // Still readable where the bits are there; the flag stays set.
    expect(r.readInt(7)).toBe(127)
    expect(r.readBool()).toBe(false)
    expect([r.pos, r.overrun, r.remaining]).toEqual([12, true, 0])
  })

  it('takes a width outside 0..48 as an overrun', () => {
    for (const n of [-1, 49, 64]) {
      const r = kind.of('_'.repeat(20))
      expect(r.readInt(n)).toBe(0)
      expect([r.pos, r.overrun]).toEqual([0, true])
    }
  })

  it('reads bitfields as sorted ids and as merged ranges, from any first id', () => {
    expect(at(kind, '110100000001').readBitfield(12)).toEqual([1, 2, 4, 12])
    expect(at(kind, '110100000001').readBitfield(12, 0)).toEqual([0, 1, 3, 11])
    const bits = '0'.repeat(16) + '111' + '0'.repeat(20) + '1' + '0'.repeat(8) + '11'
    expect(at(kind, bits).readBitfieldRanges(bits.length)).toEqual([
      [17, 19],
      [40, 40],
      [49, 50],
    ])
    expect(at(kind, bits).readBitfieldRanges(bits.length, 5)).toEqual([
      [21, 23],
      [44, 44],
      [53, 54],
    ])
  })

  it('finds the runs a bit-by-bit scan finds, at any offset and length', () => {
    fc.assert(
      fc.property(
        runs(90, 60),
        fc.nat(40),
        fc.nat(),
        fc.integer({ min: 0, max: 9 }),
        (bits, a, b, firstId) => {
          const start = Math.min(a, bits.length)
          const n = b % (bits.length - start + 1)
          const r = at(kind, bits, start)
          expect(r.readBitfieldRanges(n, firstId)).toEqual(runsOf(bits, start, n, firstId))
          expect(r.pos).toBe(start + n)
          const ids = at(kind, bits, start).readBitfield(n, firstId)
          expect(ids).toEqual(runsOf(bits, start, n, firstId).flatMap(([s, e]) => range(s, e)))
        },
      ),
      { numRuns: 1500 },
    )
  })

  it('closes a run that reaches the end of a field ending on a 32-bit boundary', () => {
    for (const n of [32, 64, 96]) {
      expect(at(kind, '1'.repeat(n + 12)).readBitfieldRanges(n)).toEqual([[1, n]])
      expect(at(kind, '1'.repeat(n + 44), 32).readBitfieldRanges(n)).toEqual([[1, n]])
    }
  })

  it('reads a field longer than any vendor BitField (65,535 bits) as runs', () => {
    const bits = '01'.repeat(2000) + '1'.repeat(62_000) + '0110'.repeat(200)
    for (const n of [65_535, 65_536, 65_537, bits.length - 3]) {
      expect(at(kind, bits, 3).readBitfieldRanges(n, 2)).toEqual(runsOf(bits, 3, n, 2))
    }
  })

  it('reads 6-bit letters, and stops just after a letter past Z', () => {
    expect(at(kind, int(4, 6) + int(13, 6)).readString6(2)).toBe('EN')
    const r = at(kind, int(3, 6) + int(26, 6) + int(0, 6))
    expect(r.readString6(3)).toBeNull()
    expect([r.pos, r.overrun]).toEqual([12, false])
  })

  it('never throws, and never moves past the end, whatever is read', () => {
    fc.assert(
      fc.property(base64url, fc.array(op, { maxLength: 30 }), (text, ops) => {
        const r = kind.of(text)
        for (const o of ops) apply(r, o)
        expect(r.pos).toBeLessThanOrEqual(r.bitLength)
        expect(r.remaining).toBe(r.bitLength - r.pos)
      }),
    )
  })
})

describe.each(FIBONACCI_SOURCES)('$name reads Fibonacci codes (GPP "Fibonacci Integer")', (kind) => {
  it('reads every code as GPP encodes it, short or up to 48 bits long', () => {
    const value = fc.oneof(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 2 ** 32 }))
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: 40 }), (v, lead) => {
        const r = at(kind, '1'.repeat(lead) + fibonacciCode(v) + '0101', lead)
        expect(r.readFibonacci()).toBe(v)
        expect(r.pos).toBe(lead + fibonacciCode(v).length)
      }),
    )
    expect(at(kind, '0011').readFibonacci()).toBe(3)
  })

  it('returns -1 without moving when no terminator comes within 48 bits or before the end', () => {
    const long = at(kind, '10'.repeat(40))
    expect(long.readFibonacci()).toBe(-1)
    expect([long.pos, long.overrun]).toEqual([0, false])
    const cut = kind.of('V') // 010101
    expect(cut.readFibonacci()).toBe(-1)
    expect([cut.pos, cut.overrun]).toEqual([0, true])
  })
})

/** A read of the contract: which one, a width, a first id. */
type Op = {
  kind: 'int' | 'bits' | 'bool' | 'bitfield' | 'ranges' | 'letters' | 'skip' | 'fibonacci'
  n: number
  id: number
}
const op: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom('int', 'bits', 'bool', 'bitfield', 'ranges', 'letters', 'skip', 'fibonacci'),
  n: fc.integer({ min: -2, max: 80 }),
  id: fc.integer({ min: 0, max: 9 }),
})

function apply(r: BitSource, o: Op): unknown {
  const n = Math.max(0, o.n)
  switch (o.kind) {
    case 'int':
      return r.readInt(o.n)
    case 'bits':
      return r.readBits(1 + (n % 32))
    case 'bool':
      return r.readBool()
    case 'bitfield':
      return r.readBitfield(n, o.id)
    case 'ranges':
      return r.readBitfieldRanges(n * 7, o.id)
    case 'letters':
      return r.readString6(n % 5)
    case 'skip':
      return r.skip(n)
    case 'fibonacci':
      return 'readFibonacci' in r ? (r as FibonacciSource).readFibonacci() : undefined
  }
}

describe.each([WORD_READER, SEGMENT_READER] as SourceKind[])(
  '$name reads what the reference reads',
  (kind) => {
    it('read by read: the same values, positions and overruns', () => {
      fc.assert(
        fc.property(base64url, fc.array(op, { maxLength: 30 }), (text, ops) => {
          const reference = REFERENCE.of(text)
          const reader = kind.of(text)
          for (const o of ops) {
            // Fibonacci codes only where the reader reads them (GPP's).
            if (o.kind === 'fibonacci' && !('readFibonacci' in reader)) continue
            expect(apply(reader, o)).toEqual(apply(reference, o))
            expect([reader.pos, reader.overrun, reader.remaining]).toEqual([
              reference.pos,
              reference.overrun,
              reference.remaining,
            ])
          }
        }),
        { numRuns: 2000 },
      )
    })
  },
)

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i)
}
