/**
 * Range lists read as the TCF and GPP specs define them, through every reader: merged ranges
 * whatever order and overlap the entries have, a NumEntries the bits cannot hold refused before any
 * entry is read, and each bad entry a failure naming its field.
 */
import { describe, expect, it } from 'vitest'
import { BIT_SOURCES, FIBONACCI_SOURCES } from '../../test/support/consent/bit-sources'
import { fibonacciCode, int, toBase64Url } from '../../test/support/consent/bit-strings'
import { RANGE_NAMES, readFibonacciRanges, readIntRanges } from './bits-ranges'

const VENDOR_NAMES = { numEntries: 'NumEntries', start: 'StartOrOnlyVendorId', end: 'EndVendorId' }
const entry = (start: number, end?: number) =>
  end === undefined ? '0' + int(start, 16) : '1' + int(start, 16) + int(end, 16)

describe.each(BIT_SOURCES)('Range (Int) lists through $name', (kind) => {
  const read = (bits: string, maxId = 65535, names = VENDOR_NAMES) =>
    readIntRanges(kind.of(toBase64Url(bits)), 'VendorConsents', names, 12, 16, maxId)

  it('reads entries in any order into merged ranges', () => {
    expect(read(int(3, 12) + entry(10, 12) + entry(1) + entry(2, 4), 20)).toEqual([
      [1, 4],
      [10, 12],
    ])
    expect(read(int(2, 12) + entry(1, 3) + entry(7))).toEqual([
      [1, 3],
      [7, 7],
    ])
  })

  it.each([
    ['a range ending before it starts', int(1, 12) + entry(9, 3), 50, 'bad_range', 'EndVendorId'],
    ['an end above MaxVendorId', int(1, 12) + entry(3, 90), 50, 'out_of_range', 'EndVendorId'],
    ['a start above MaxVendorId', int(1, 12) + entry(60), 50, 'out_of_range', 'StartOrOnlyVendorId'],
    ['id 0', int(1, 12) + entry(0), 50, 'out_of_range', 'StartOrOnlyVendorId'],
    ['a NumEntries the bits cannot hold', int(4095, 12) + entry(1), 50, 'truncated', 'NumEntries'],
    ['a NumEntries cut short', int(1, 5), 50, 'truncated', 'NumEntries'],
  ])('refuses %s, naming the field', (_name, bits, maxId, reason, field) => {
    expect(read(bits, maxId)).toMatchObject({
      ok: false,
      error: { reason, field: `VendorConsents.${field}` },
    })
  })

  it('names an entry cut short by the field it was reading', () => {
    const cut = (int(2, 12) + entry(1, 5) + entry(7, 9)).slice(0, -6)
    expect(read(cut, 50, RANGE_NAMES)).toMatchObject({
      ok: false,
      error: {
        reason: 'truncated',
        field: 'VendorConsents.EndId',
        message: 'VendorConsents entry 2 runs past the end',
      },
    })
  })
})

describe.each(FIBONACCI_SOURCES)('Range (Fibonacci) lists through $name', (kind) => {
  const read = (bits: string, maxId = 65535) => readFibonacciRanges(kind.of(toBase64Url(bits)), 'S', maxId)

  it('reads each entry as an offset from the previous id', () => {
    // GPP header example: sections 2 and 6 are offsets 2 and 4.
    expect(read(int(2, 12) + '0' + fibonacciCode(2) + '0' + fibonacciCode(4))).toEqual([
      [2, 2],
      [6, 6],
    ])
    // A range: start offset 3, then its length 2.
    expect(read(int(1, 12) + '1' + fibonacciCode(3) + fibonacciCode(2))).toEqual([[3, 5]])
  })

  it.each([
    [
      'an end above maxId',
      int(1, 12) + '1' + fibonacciCode(3) + fibonacciCode(20),
      10,
      'out_of_range',
      'S.EndId',
    ],
    ['a start above maxId', int(1, 12) + '0' + fibonacciCode(11), 10, 'out_of_range', 'S.StartOrOnlyId'],
    ['a code without terminator', int(1, 12) + '0' + '10'.repeat(30), 10, 'bad_fibonacci', 'S.StartOrOnlyId'],
    ['a code cut short', int(1, 12) + '0' + '10', 10, 'truncated', 'S.StartOrOnlyId'],
    [
      'a NumEntries the bits cannot hold',
      int(99, 12) + '0' + fibonacciCode(1),
      10,
      'truncated',
      'S.NumEntries',
    ],
  ])('refuses %s, naming the field', (_name, bits, maxId, reason, field) => {
    expect(read(bits, maxId)).toMatchObject({ ok: false, error: { reason, field } })
  })
})
