/**
 * The TC string decoder's word reader behaves exactly as the shared byte reader (`BitReader`,
 * tested in bits.test.ts) on the same bits: same values, same positions, same overrun, for every
 * read at every offset, and its base64url decoding agrees with `decodeBase64Url`.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BitReader, decodeBase64Url } from '../bits'
import { asciiBytes, badCharacterAt, decodeWords, idsOfBits, WordReader, wordsFor } from './words'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const base64url = fc.string({ unit: fc.constantFrom(...ALPHABET.split('')), minLength: 1, maxLength: 200 })

/** Both readers over the same base64url text. */
function readers(text: string): [BitReader, WordReader] {
  const decoded = decodeBase64Url(text, { maxLength: text.length })
  if (!decoded.ok) throw new Error(decoded.error.message)
  const words = new Int32Array(wordsFor(text.length))
  const bitLength = decodeWords(asciiBytes(text, new Uint8Array(text.length)), 0, text.length, words)
  return [BitReader.of(decoded.value), new WordReader(words, bitLength)]
}

type Op = {
  kind: 'int' | 'bits' | 'bool' | 'bitfield' | 'ranges' | 'letters' | 'datetime' | 'skip'
  n: number
  id: number
}
const op: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom('int', 'bits', 'bool', 'bitfield', 'ranges', 'letters', 'datetime', 'skip'),
  n: fc.integer({ min: -2, max: 80 }),
  id: fc.integer({ min: 0, max: 9 }),
})

function apply(r: BitReader | WordReader, o: Op): unknown {
  const n = Math.max(0, o.n)
  switch (o.kind) {
    case 'int':
      return r.readInt(o.n)
    case 'bits':
      // WordReader.readBits is readInt for 1..32 bits.
      return r instanceof WordReader ? r.readBits(1 + (n % 32)) : r.readInt(1 + (n % 32))
    case 'bool':
      return r.readBool()
    case 'bitfield':
      return r.readBitfield(n, o.id)
    case 'ranges':
      return r.readBitfieldRanges(n * 7, o.id)
    case 'letters':
      return r.readString6(n % 5)
    case 'datetime':
      // BitReader formats the date (GPP reports it so); WordReader leaves it in milliseconds.
      return r instanceof WordReader ? new Date(r.readDatetime()).toISOString() : r.readDatetime()
    case 'skip':
      return r.skip(n)
  }
}

describe('decodeWords', () => {
  it('decodes the same bits as decodeBase64Url, at any segment offset', () => {
    fc.assert(
      fc.property(base64url, fc.string({ maxLength: 9 }), (text, before) => {
        const input = before + text
        const bytes = asciiBytes(input, new Uint8Array(input.length))
        const words = new Int32Array(wordsFor(text.length))
        const bitLength = decodeWords(bytes, before.length, input.length, words)
        const decoded = decodeBase64Url(text)
        expect(decoded.ok && bitLength).toBe(text.length * 6)
        const r = new BitReader(decoded.ok ? decoded.value.bytes : new Uint8Array(), bitLength)
        for (let pos = 0; pos < bitLength; pos++) {
          expect(((words[pos >>> 5] as number) >>> (31 - (pos & 31))) & 1).toBe(r.readInt(1))
        }
      }),
    )
  })

  it('refuses any character outside the alphabet, and finds the first one as decodeBase64Url does', () => {
    fc.assert(
      fc.property(
        base64url,
        fc.nat(),
        fc.constantFrom('=', '+', '/', ' ', '.', 'é', '😀', '\u0100'),
        (text, at, bad) => {
          const i = at % (text.length + 1)
          const input = text.slice(0, i) + bad + text.slice(i)
          const words = new Int32Array(wordsFor(input.length))
          expect(
            decodeWords(asciiBytes(input, new Uint8Array(input.length * 4)), 0, input.length, words),
          ).toBe(-1)
          const expected = decodeBase64Url(input)
          expect(expected.ok ? null : expected.error.message).toContain(`position ${i}`)
          expect(badCharacterAt(input, 0, input.length)).toBe(i)
        },
      ),
    )
  })

  it('keeps byte i for character i when the string holds multi-byte characters', () => {
    const bytes = asciiBytes('Aé😀B', new Uint8Array(16))
    expect(Array.from(bytes.subarray(0, 5))).toEqual([65, 0xff, 0xff, 0xff, 66])
  })
})

describe('WordReader', () => {
  it('reads what BitReader reads, field by field, overruns included', () => {
    fc.assert(
      fc.property(base64url, fc.array(op, { maxLength: 30 }), (text, ops) => {
        const [bytes, words] = readers(text)
        for (const o of ops) {
          expect(apply(words, o)).toEqual(apply(bytes, o))
          expect([words.pos, words.overrun, words.remaining]).toEqual([
            bytes.pos,
            bytes.overrun,
            bytes.remaining,
          ])
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('finds the same vendor runs as BitReader over long mostly-set or mostly-clear fields', () => {
    const runs = fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 90 })), { maxLength: 60 })
    fc.assert(
      fc.property(runs, fc.nat(40), fc.nat(), (spec, start, cut) => {
        let bits = spec.map(([set, n]) => (set ? '1' : '0').repeat(n)).join('')
        bits = bits.padEnd(Math.ceil(bits.length / 6) * 6 || 6, '0')
        let text = ''
        for (let i = 0; i < bits.length; i += 6) text += ALPHABET[parseInt(bits.slice(i, i + 6), 2)]
        const [bytes, words] = readers(text)
        const from = Math.min(start, bits.length)
        const n = cut % (bits.length - from + 1)
        bytes.skip(from)
        words.skip(from)
        expect(words.readBitfieldRanges(n, 1)).toEqual(bytes.readBitfieldRanges(n, 1))
        expect(words.pos).toBe(bytes.pos)
      }),
      { numRuns: 2000 },
    )
  })

  it('reads a BitField longer than any vendor BitField (65,535 bits) as BitReader does', () => {
    const text = 'A_'.repeat(5000) + '__' + 'gA'.repeat(1000)
    for (const n of [65_535, 65_536, 65_537, text.length * 6 - 3]) {
      const [bytes, words] = readers(text)
      bytes.skip(3)
      words.skip(3)
      expect(words.readBitfieldRanges(n, 2)).toEqual(bytes.readBitfieldRanges(n, 2))
      expect(words.pos).toBe(bytes.pos)
    }
  })

  it('reads fields at fixed offsets as the sequential reads do', () => {
    fc.assert(
      fc.property(base64url, fc.nat(), fc.integer({ min: 0, max: 48 }), (text, at, n) => {
        const [, words] = readers(text)
        const pos = words.bitLength > n ? at % (words.bitLength - n + 1) : 0
        if (pos + n > words.bitLength) return
        const seq = new WordReader(words.words, words.bitLength)
        seq.skip(pos)
        expect(words.intAt(pos, n)).toBe(seq.readInt(n))
      }),
    )
  })
})

describe('idsOfBits', () => {
  it('lists the set bits of an n-bit value as 1-based ids, top bit first', () => {
    expect(idsOfBits(0b1011, 4)).toEqual([1, 3, 4])
    expect(idsOfBits(0, 24)).toEqual([])
    expect(idsOfBits(0xffffffff, 32, 5)).toEqual(Array.from({ length: 32 }, (_, i) => i + 5))
    expect(idsOfBits(0b1, 0)).toEqual([])
  })
})
