/**
 * The by-value PII detector: emails and phone numbers are found wherever they are written, never
 * survive a scrub raw, and dates, prices, ids and timestamps are left alone. Properties over random
 * addresses and numbers inside random text, and a bound on the time a hostile string can take.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { pepperedHash } from '../identity/keys'
import { findPii, scrubPropValues, scrubText, type PiiValueRule } from './pii-values'

const HASH: PiiValueRule = { action: 'hash', detect: ['email', 'phone'] }
const DROP: PiiValueRule = { action: 'drop', detect: ['email', 'phone'] }
const hasher = (v: string) => pepperedHash(v, 'test-pepper')

// Text around an identifier: letters, spaces and punctuation, no "@" and few digits.
const filler = fc.stringMatching(/^[A-Za-z ,;:!?]{0,30}$/)
const e164 = fc
  .tuple(fc.integer({ min: 1, max: 9 }), fc.stringMatching(/^\d{9,12}$/))
  .map(([cc, rest]) => `+${cc}${rest}`)
// The same number as people write it: grouped with spaces, dots, hyphens or slashes, or 00 for +.
const written = fc
  .tuple(e164, fc.constantFrom(' ', '-', '.', '/', ''), fc.boolean())
  .map(([n, sep, zeros]) => {
    const digits = n.slice(1)
    const grouped = [digits.slice(0, 2), digits.slice(2, 5), digits.slice(5, 8), digits.slice(8)]
      .filter(Boolean)
      .join(sep)
    return (zeros ? '00' : '+') + grouped
  })

describe('findPii / scrubText', () => {
  it.each([
    ['an email alone', 'ana@example.com', ['email']],
    ['an email in free text', 'please mail Ana.Lopez+shop@mail.example.co.uk today', ['email']],
    ['a URL-encoded email', 'ana%40example.com', ['email']],
    ['an international number', 'call +49 151 2345 6789', ['phone']],
    ['a 00 number', '0044 20 7946 0000', ['phone']],
    ['a national number with trunk 0', 'Tel. 030 12345678', ['phone']],
    ['a number with an area code in brackets', '(030) 1234567', ['phone']],
    ['a North American number', 'ring 415-555-0132 after six', ['phone']],
    ['both', 'ana@example.com / +1 415 555 0132', ['email', 'phone']],
  ])('finds %s', (_name, text, kinds) => {
    expect(findPii(text).map((s) => s.kind)).toEqual(kinds)
  })

  it.each([
    ['an ISO date-time', '2026-11-23T10:00:00Z'],
    ['a date', '2026-11-23'],
    ['a price', '1234567.89'],
    ['a decimal', '0.123456789'],
    ['a millisecond timestamp', '1763891000000'],
    ['an order id', 'ORD-2026-000123'],
    ['a SKU', 'sku-88812345'],
    ['a version', '4.20260426.1'],
    ['an @handle', '@gatehouse'],
    ['an address without a TLD', 'root@localhost'],
    ['a short number', 'room 12345'],
  ])('leaves %s alone', (_name, text) => {
    expect(findPii(text)).toEqual([])
  })

  it('counts shorter numbers under a key that names a phone', () => {
    expect(findPii('1234567')).toEqual([])
    expect(findPii('1234567', ['phone'], true).map((s) => s.kind)).toEqual(['phone'])
  })

  it('never leaves a generated email raw, whatever surrounds it, and hashes it to its identity key', async () => {
    await fc.assert(
      fc.asyncProperty(filler, fc.emailAddress(), filler, async (before, email, after) => {
        const text = `${before} ${email} ${after}`
        const r = await scrubText(text, HASH, hasher)
        expect(r.found).toContain('email')
        expect(r.text).not.toContain(email)
        expect(r.text).toContain(`email:${await hasher(email.toLowerCase())}`)
        expect(r.text!.startsWith(`${before} `)).toBe(true)
      }),
      { numRuns: 200 },
    )
  })

  it('never leaves a generated phone number raw, however it is written', async () => {
    await fc.assert(
      fc.asyncProperty(filler, written, filler, async (before, phone, after) => {
        const r = await scrubText(`${before} ${phone} ${after}`, DROP, null)
        expect(r.found).toEqual(['phone'])
        // A value that is only the number is dropped whole (null); inside text it is blanked.
        const left = r.text ?? ''
        expect(left).not.toContain(phone)
        expect(left.replace(/\D/g, '')).toBe('')
      }),
      { numRuns: 200 },
    )
  })

  it('never throws and returns ordered, disjoint spans inside the text for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        const spans = findPii(text)
        let end = 0
        for (const s of spans) {
          expect(s.start).toBeGreaterThanOrEqual(end)
          expect(text.slice(s.start, s.end)).toBe(s.text)
          end = s.end
        }
      }),
      { numRuns: 500 },
    )
  })

  it('scans hostile strings in linear time', () => {
    const hostile = [
      'a'.repeat(100_000) + '@',
      ('a.' + 'b'.repeat(60)).repeat(1_500) + '@x',
      'a@' + 'b.'.repeat(50_000),
      '1-'.repeat(50_000),
      '(0'.repeat(50_000),
      '%40'.repeat(30_000),
    ]
    for (const text of hostile) {
      const t0 = performance.now()
      findPii(text)
      // Generous for a shared CI machine; a quadratic scan of 100 kB takes seconds.
      expect(performance.now() - t0).toBeLessThan(250)
    }
  })
})

describe('scrubPropValues', () => {
  it('hashes identifiers under any key, in nested values and in keys, and drops them without a pepper', async () => {
    const props = {
      customer_email: 'Ana@Example.com',
      tel: '1234567',
      note: 'call me on +49 151 23456789',
      items: [{ sku: 'sku-1', gift_to: 'bo@example.org' }],
      'ana@example.com': true,
      total: 129.9,
    }
    const hashed = await scrubPropValues(props, HASH, hasher)
    const text = JSON.stringify(hashed.props)
    for (const raw of ['Ana@Example.com', 'ana@example.com', '1234567', '23456789', 'bo@example.org'])
      expect(text).not.toContain(raw)
    expect(hashed.props.customer_email).toBe(`email:${await hasher('ana@example.com')}`)
    expect(hashed.props.total).toBe(129.9)
    expect(hashed.found.sort()).toEqual(
      [
        'customer_email',
        'items[0].gift_to',
        'note',
        'tel',
        `email:${await hasher('ana@example.com')}`,
      ].sort(),
    )

    const dropped = await scrubPropValues(props, HASH, null)
    expect(dropped.props).toEqual({
      note: 'call me on [phone]',
      items: [{ sku: 'sku-1' }],
      total: 129.9,
    })
  })
})
