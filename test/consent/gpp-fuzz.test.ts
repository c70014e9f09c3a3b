/**
 * Fuzzing the GPP decoder: 100,000 random and mutated strings (seeded, so a failure reproduces)
 * must never throw, must never come back `ok` unless they really are valid, and must produce
 * output bounded by their length. "Really valid" is checked independently: every decoded US or
 * uspv1 section is re-encoded from its fields with the spec's widths and must give back exactly
 * the bits it was read from (plus zero padding); header ids must be strictly increasing and
 * match the number of sections. A fast-check property over structured hostile inputs follows.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BASE64URL as ALPHABET } from '../../worker/consent/bits'
import { decodeGppString, GPP_SECTIONS, MAX_GPP_SECTIONS } from '../../worker/consent/gpp'
import type { FieldTable } from '../../worker/consent/gpp/fields'
import { US_SECTIONS } from '../../worker/consent/gpp/us-tables'
import type { DecodeResult, GppSectionFields, GppString } from '../../worker/consent/types'
import { fibonacciCode, int, toBase64Url } from '../support/consent/bit-strings'
import vectors from './gpp-vectors.json'

const NOISE = `${ALPHABET}~~~~....*= %\u00e9YN1`

// mulberry32: small, seeded, good enough to spread mutations.
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const SEEDS = [
  ...(vectors as Array<{ input: string }>).map((v) => v.input).filter((s) => s.length > 0),
  'DBABLA~BVQqAAAAAgA.QA',
  'DBABrw~CAAQAAAAAABA.YA~BAQAAABA.QA',
  'DBABDA~BQSU_AAQSU_AAAyAAAENAACAAMAAAAAAAAV5AD9hqKGAAAAA.YAAAAAAAAAA.IFeQA_Yaihg',
]

function mutate(s: string, rand: () => number): string {
  const pick = (str: string) => str[Math.floor(rand() * str.length)] as string
  const at = Math.floor(rand() * (s.length + 1))
  switch (Math.floor(rand() * 8)) {
    case 0: // replace one character
      return s.slice(0, at) + pick(NOISE) + s.slice(at + 1)
    case 1: // delete a run
      return s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 4))
    case 2: // insert characters
      return s.slice(0, at) + pick(NOISE) + pick(ALPHABET) + s.slice(at)
    case 3: // truncate
      return s.slice(0, at)
    case 4: // duplicate a section
      return `${s}~${s.split('~').at(-1) ?? ''}`
    case 5: // swap two characters
      return s.slice(0, at) + (s[at + 1] ?? '') + (s[at] ?? '') + s.slice(at + 2)
    case 6: // flip one bit of one base64 character
      return (
        s.slice(0, at) +
        (ALPHABET[(ALPHABET.indexOf(s[at] ?? 'A') ^ (1 << Math.floor(rand() * 6))) & 63] ?? 'A') +
        s.slice(at + 1)
      )
    default: // random string over the GPP alphabet
      return Array.from({ length: Math.floor(rand() * 120) }, () => pick(NOISE)).join('')
  }
}

// Re-encodes a US section's core from its decoded fields with the spec's widths.
function encodeUsCore(table: FieldTable, versionBits: string, fields: GppSectionFields): string {
  let bits = versionBits
  for (const [name, t] of table) {
    const v = fields[name]
    if (t.type === 'int') bits += int(v as number, t.bits)
    else if (t.type === 'intList') bits += (v as number[]).map((x) => int(x, t.bits)).join('')
    else throw new Error(`unexpected type ${t.type}`)
  }
  return bits
}

function sextets(segment: string): string {
  return [...segment].map((c) => int(ALPHABET.indexOf(c), 6)).join('')
}

// The decoded bits must be the re-encoded fields followed only by zeros.
function expectSameBits(segment: string, bits: string, label: string): void {
  const all = sextets(segment)
  expect(all.startsWith(bits), label).toBe(true)
  expect(/^0*$/.test(all.slice(bits.length)), `${label} padding`).toBe(true)
}

function checkValid(input: string, value: GppString): void {
  const parts = input.split('~')
  expect(value.sectionIds.length).toBe(parts.length - 1)
  expect(value.sectionIds.length).toBeLessThanOrEqual(MAX_GPP_SECTIONS)
  for (let i = 1; i < value.sectionIds.length; i++) {
    expect(value.sectionIds[i] as number).toBeGreaterThan(value.sectionIds[i - 1] as number)
  }
  expect(/^[A-Za-z0-9_-]+$/.test(parts[0] as string)).toBe(true)
  value.sectionIds.forEach((id, i) => {
    const body = parts[i + 1] as string
    const known = GPP_SECTIONS.get(id)
    if (!known) {
      expect(value.unknownSectionIds).toContain(id)
      return
    }
    const fields = value.sections[known.name] as GppSectionFields
    if (known.name === 'uspv1') {
      expect(body).toMatch(/^1[YN-]{3}$/)
      expect(`${fields.Version}${fields.Notice}${fields.OptOutSale}${fields.LspaCovered}`).toBe(body)
      return
    }
    expect(body).toMatch(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/)
    const spec = US_SECTIONS.find((s) => s.id === id)
    if (!spec) return // tcfeuv2 and tcfcav1: structural checks above, differential tests elsewhere
    const version = fields[spec.versionField] as number
    const table = spec.versions[version] as FieldTable
    const [core, sub] = body.split('.')
    expectSameBits(core as string, encodeUsCore(table, int(version, 6), fields), `${spec.name} core`)
    if (sub === undefined) {
      if (spec.subsection === 'gpc') expect(fields.Gpc).toBeNull()
      return
    }
    if (spec.subsection === 'gpc') expectSameBits(sub, `01${fields.Gpc ? '1' : '0'}`, `${spec.name} gpc`)
    else {
      const sdp = (fields.SensitiveDataProcessing as number[]).map((x) => int(x, 2)).join('')
      expectSameBits(sub, sdp, `${spec.name} sensitive`)
    }
  })
}

function run(input: string): DecodeResult<GppString> {
  try {
    return decodeGppString(input)
  } catch (error) {
    throw new Error(`decodeGppString threw on ${JSON.stringify(input)}: ${String(error)}`)
  }
}

describe('GPP decoder under fuzzing', () => {
  it('never throws, never accepts an invalid string, and keeps output bounded over 100,000 inputs', () => {
    const rand = prng(0x6770_7031)
    let accepted = 0
    let current = SEEDS[0] as string
    for (let i = 0; i < 100_000; i++) {
      // Mostly mutate a seed a few times; sometimes keep mutating the previous input.
      const base = rand() < 0.3 ? current : (SEEDS[Math.floor(rand() * SEEDS.length)] as string)
      let input = base
      const rounds = 1 + Math.floor(rand() * 3)
      for (let k = 0; k < rounds; k++) input = mutate(input, rand)
      current = input
      const result = run(input)
      if (result.ok) {
        accepted++
        checkValid(input, result.value)
        expect(JSON.stringify(result.value).length).toBeLessThanOrEqual(64 * input.length + 4096)
      } else {
        expect(result.error.reason).toMatch(/^[a-z0-9_]+$/)
        expect(result.error.field.length).toBeGreaterThan(0)
      }
    }
    // The mutations must leave some strings valid, or the acceptance checks above test nothing.
    expect(accepted).toBeGreaterThan(1000)
  }, 120_000)

  it('rejects or bounds structured hostile headers: huge NumEntries, long Fibonacci codes, wide ranges', () => {
    const entry = fc.oneof(
      fc.integer({ min: 1, max: 2 ** 32 }).map((n) => `0${fibonacciCode(n)}`),
      fc
        .tuple(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 2 ** 40 }))
        .map(([a, b]) => `1${fibonacciCode(a)}${fibonacciCode(b)}`),
    )
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 0, max: 4095 }), { nil: null }),
        fc.array(entry, { maxLength: 20 }),
        fc.array(fc.constantFrom('1YNN', 'BVQqAAAAAgA.QA', 'CAAQAAAAAABA.YA'), { maxLength: 70 }),
        (claimed, entries, bodies) => {
          // Half the time NumEntries tells the truth, so the ranges themselves are exercised.
          const numEntries = claimed ?? entries.length
          const header = toBase64Url(`000011000001${int(numEntries, 12)}${entries.join('')}`, 8)
          const input = [header, ...bodies].join('~')
          const result = run(input)
          if (result.ok) {
            expect(result.value.sectionIds.length).toBe(bodies.length)
            checkValid(input, result.value)
          }
        },
      ),
      { numRuns: 3000 },
    )
  })
})
