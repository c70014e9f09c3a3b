/**
 * What the TC string decoder's word reader adds to the `BitSource` contract (which
 * bits.contract.test.ts holds it to): base64url decoded straight into words, the same bits as
 * `decodeBase64Url`, with every bad character refused; reads at fixed offsets; bitfield values as
 * ids.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { WORD_READER } from '../../../test/support/consent/bit-sources'
import { badCharacterAt, BASE64URL, decodeBase64Url } from '../bits'
import { asciiBytes, decodeWords, idsOfBits, WordReader, wordsFor } from './words'

const base64url = fc.string({ unit: fc.constantFrom(...BASE64URL.split('')), minLength: 1, maxLength: 200 })

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
        const expected = decoded.ok ? decoded.value.bytes : new Uint8Array()
        for (let pos = 0; pos < bitLength; pos++) {
          const bit = ((expected[pos >> 3] as number) >> (7 - (pos & 7))) & 1
          expect(((words[pos >>> 5] as number) >>> (31 - (pos & 31))) & 1).toBe(bit)
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
  it('reads fields at fixed offsets as the sequential reads do', () => {
    fc.assert(
      fc.property(base64url, fc.nat(), fc.integer({ min: 0, max: 48 }), (text, at, n) => {
        const words = WORD_READER.of(text)
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
