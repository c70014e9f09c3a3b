/**
 * The consent bridge cookie: the forms the bridge writes are read as the CMP's own TC or GPP
 * string; anything else is no signal. Fuzzed: the parser never throws, and in the EU a `gh_cmp`
 * that is not a CMP's valid string grants nothing.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Location } from '../../context/location'
import { bundledRules } from '../../rules'
import {
  coreBits,
  tcString,
  vendorBitfield,
  vendorsSegment,
} from '../../../test/support/consent/tcf-fixtures'
import { consentInputFromRequest, resolveConsent } from '../signals'
import { parseBridgeCookie } from './cookie'

const eu: Location = { country: 'DE', region: null, source: 'cf' }
const url = new URL('https://shop.example/')

function tc(purposes: number[]): string {
  const t = Math.floor((Date.now() - 86_400_000) / 100) * 100
  return tcString(
    coreBits({ created: t, lastUpdated: t, purposeConsents: purposes, publisherCountryCode: 'DE' }),
    vendorsSegment(1, vendorBitfield(8, [1, 2])),
  )
}

const resolve = (value: string) =>
  resolveConsent(
    consentInputFromRequest(new Headers(), new Map([['gh_cmp', value]]), url),
    bundledRules,
    eu,
    new Date(),
  )

describe('parseBridgeCookie', () => {
  it.each([
    ['1~t~CQabc.YAAA', { kind: 'tcf', value: 'CQabc.YAAA' }],
    ['1~g~7~DBABMA~CQabc', { kind: 'gpp', value: 'DBABMA~CQabc', sid: '7' }],
    ['1~g~7_8~DBABLA~BVQVAAAAAgA.QA', { kind: 'gpp', value: 'DBABLA~BVQVAAAAAgA.QA', sid: '7_8' }],
    ['1~g~-~DBABMA~CQabc', { kind: 'gpp', value: 'DBABMA~CQabc', sid: null }],
  ])('reads %s', (raw, expected) => {
    expect(parseBridgeCookie(raw)).toEqual(expected)
  })

  it.each([
    [''],
    ['2~t~CQabc'],
    ['1~x~CQabc'],
    ['1~t~'],
    ['1~t~CQ abc'],
    ['1~t~CQ%20abc'],
    ['1~t~CQ~abc'],
    ['1~g~7~'],
    ['1~g~12345~DBABMA'],
    ['1~g~7,8~DBABMA'],
    [`1~t~${'A'.repeat(4000)}`],
  ])('reads %j as no signal', (raw) => {
    expect(parseBridgeCookie(raw)).toBeNull()
  })

  it('never throws, and anything it returns came from the value', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 5000 }), (raw) => {
        const r = parseBridgeCookie(raw)
        if (r) expect(raw).toContain(r.value)
      }),
      { numRuns: 2000 },
    )
  })
})

describe('gh_cmp as a consent signal', () => {
  it('grants what the TC string the CMP reported grants, read from cookie:gh_cmp', () => {
    const { consent } = resolve(`1~t~${tc([1, 7, 8, 9, 10])}`)
    expect(consent.purposes).toMatchObject({ storage: true, measurement: true, advertising: false })
    expect(consent.sources).toContainEqual(
      expect.objectContaining({ signal: 'tcf', from: 'cookie:gh_cmp', valid: true, used: true }),
    )
  })

  it('grants nothing in the EU from garbage, however it is shaped', () => {
    const shaped = fc.oneof(
      fc.string({ maxLength: 600 }),
      fc.string({ maxLength: 600 }).map((s) => `1~t~${s}`),
      fc.base64String({ maxLength: 600 }).map((s) => `1~t~C${s.replace(/[+/=]/g, '')}`),
      fc.string({ maxLength: 600 }).map((s) => `1~g~7~${s}`),
    )
    fc.assert(
      fc.property(shaped, (raw) => {
        const { consent } = resolve(raw)
        expect(Object.values(consent.purposes).some(Boolean)).toBe(false)
      }),
      { numRuns: 1500 },
    )
  })
})
