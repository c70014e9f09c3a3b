/**
 * The GPP segment reader's bitfields (vendor bitfields as runs, purpose bitfields as ids, both from
 * one scan): the same as the shared `BitReader`, at every offset and length (including fields that
 * end on a 32-bit word boundary with a run still open), over long mostly-set and mostly-clear
 * fields as well as random ones.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BitReader, decodeBase64Url } from '../bits'
import { SegmentReader } from './reader'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

function textOf(bits: string): string {
  const padded = bits.padEnd(Math.ceil(bits.length / 6) * 6 || 6, '0')
  let text = ''
  for (let i = 0; i < padded.length; i += 6) text += ALPHABET[parseInt(padded.slice(i, i + 6), 2)]
  return text
}

function both(text: string): [BitReader, SegmentReader] {
  const decoded = decodeBase64Url(text)
  if (!decoded.ok) throw new Error(decoded.error.message)
  const segment = new SegmentReader()
  expect(segment.load(text, 0, text.length)).toBe(text.length)
  return [BitReader.of(decoded.value), segment]
}

/**
 * For random fields of runs (each up to `maxRun` bits, up to `maxRuns` of them) read from a random
 * offset for a random length: `check` gets both readers there and the length.
 */
function forRandomFields(
  maxRun: number,
  maxRuns: number,
  check: (reference: BitReader, reader: SegmentReader, n: number) => void,
): void {
  const runs = fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: maxRun })), { maxLength: maxRuns })
  fc.assert(
    fc.property(runs, fc.nat(40), fc.nat(), (spec, start, cut) => {
      const bits = spec.map(([set, n]) => (set ? '1' : '0').repeat(n)).join('')
      const [reference, reader] = both(textOf(bits))
      const from = Math.min(start, bits.length)
      reference.skip(from)
      reader.pos = from
      check(reference, reader, cut % (bits.length - from + 1))
      expect(reader.pos).toBe(reference.pos)
    }),
    { numRuns: 3000 },
  )
}

describe('SegmentReader.readBitfieldRanges', () => {
  it('finds the runs BitReader finds, from any offset, for any length', () => {
    forRandomFields(90, 60, (reference, reader, n) => {
      expect(reader.readBitfieldRanges(n)).toEqual(reference.readBitfieldRanges(n))
    })
  })

  it('closes a run that reaches a field ending on a word boundary', () => {
    for (const n of [32, 64, 96]) {
      const [reference, reader] = both(textOf('1'.repeat(n + 12)))
      const expected = reference.readBitfieldRanges(n)
      expect(expected).toEqual([[1, n]])
      expect(reader.readBitfieldRanges(n)).toEqual(expected)
    }
  })
})

describe('SegmentReader.readIdBitfield', () => {
  it('lists the ids BitReader lists, from any offset, for any length', () => {
    forRandomFields(40, 30, (reference, reader, n) => {
      expect(reader.readIdBitfield(n)).toEqual(reference.readBitfield(n))
    })
  })

  it('reads nothing and moves nowhere when the field runs past the end', () => {
    const [, reader] = both(textOf('1'.repeat(24)))
    reader.pos = 10
    expect(reader.readIdBitfield(20)).toEqual([])
    expect(reader.pos).toBe(10)
    expect(reader.overrun).toBe(true)
  })
})
