/**
 * Property tests for resolution: whatever the signals, resolution never throws, and in opt-in
 * jurisdictions nothing is granted unless a valid, unexpired TC string consents to it.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { resolveConsent, type ConsentInput } from '../../worker/consent/signals'
import { tcfValidityPolicy } from '../../worker/consent/resolve'
import { checkTcfValidity, decodeTcString } from '../../worker/consent/tcf'
import { decodeGppString } from '../../worker/consent/gpp'
import { PURPOSES, type TcfString } from '../../worker/consent/types'
import { bundledRules } from '../../worker/rules'
import { ALL_PURPOSES, tcCookie } from './consent-support'

const NOW = new Date()
const rules = bundledRules
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

const base64url = fc.array(fc.constantFrom(...B64.split('')), { maxLength: 400 }).map((a) => a.join(''))
const garbage = fc.oneof(
  fc.string({ maxLength: 300 }),
  base64url,
  fc.constantFrom('', '1YYN', '1---', 'DBABMA~', '${GDPR_CONSENT_755}'),
)
// Valid strings with characters replaced, dropped or appended: close to real, mostly broken.
const mutated = fc
  .tuple(
    fc.constantFrom(tcCookie(ALL_PURPOSES), tcCookie([1, 2, 7]), tcCookie(ALL_PURPOSES, 500)),
    fc.array(fc.tuple(fc.nat(), fc.constantFrom(...B64.split(''), '.', '~', '')), {
      minLength: 1,
      maxLength: 6,
    }),
  )
  .map(([s, edits]) => {
    const chars = s.split('')
    for (const [at, ch] of edits) chars[at % chars.length] = ch
    return chars.join('')
  })
const anyString = fc.oneof(garbage, mutated)
const optIn = fc.constantFrom<[string | null, string | null]>(
  ['DE', null],
  ['FR', null],
  ['GB', null],
  ['CH', null],
  ['NO', null],
  [null, null],
  ['JP', null],
)
const anyLocation = fc.oneof(
  optIn,
  fc.constantFrom<[string | null, string | null]>(['US', 'CA'], ['US', 'TX'], ['US', null]),
)

const input = fc.record({
  tcf: fc.array(anyString, { maxLength: 2 }),
  gpp: fc.array(
    fc.tuple(
      anyString,
      fc.option(fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('2', '7', '2_7', '8')), {
        nil: undefined,
      }),
    ),
    { maxLength: 2 },
  ),
  usp: fc.array(anyString, { maxLength: 2 }),
  gpc: fc.boolean(),
})

type Generated = { tcf: string[]; gpp: Array<[string, string | undefined]>; usp: string[]; gpc: boolean }

function toInput(v: Generated): ConsentInput {
  return {
    tcf: v.tcf.filter(Boolean).map((value, n) => ({ from: `t${n}`, value })),
    gpp: v.gpp
      .filter(([g]) => g)
      .map(([value, sid], n) => ({
        from: `g${n}`,
        value,
        ...(sid ? { sid: { from: `s${n}`, value: sid } } : {}),
      })),
    usp: v.usp.filter(Boolean).map((value, n) => ({ from: `u${n}`, value })),
    gpc: v.gpc ? ['header:Sec-GPC'] : [],
  }
}

/** Every valid, unexpired TC string the input carries, decoded independently of the resolver. */
function validTcStrings(i: ConsentInput): TcfString[] {
  const policy = tcfValidityPolicy(rules.consent)
  const out: TcfString[] = []
  const check = (tc: TcfString) => {
    if (checkTcfValidity(tc, policy, NOW).length === 0) out.push(tc)
  }
  for (const t of i.tcf) {
    const d = decodeTcString(t.value)
    if (d.ok) check(d.value)
  }
  for (const g of i.gpp) {
    const d = decodeGppString(g.value)
    const s = d.ok ? d.value.sections.tcfeuv2 : undefined
    if (s && 'purposeConsents' in s) check(s as TcfString)
  }
  return out
}

describe('consent resolution properties', () => {
  it('never throws and always answers with booleans, in any jurisdiction', () => {
    fc.assert(
      fc.property(input, anyLocation, (i, [country, region]) => {
        const { consent } = resolveConsent(toInput(i), rules, { country, region, source: 'override' }, NOW)
        for (const p of PURPOSES) expect(typeof consent.purposes[p]).toBe('boolean')
        expect(consent.snapshotId).toMatch(/^[0-9a-f]{16}$/)
      }),
      { numRuns: 400 },
    )
  })

  it('grants nothing in opt-in jurisdictions unless a valid TC string consents to it', () => {
    let granted = 0
    fc.assert(
      fc.property(input, optIn, (i, [country, region]) => {
        const signals = toInput(i)
        const { consent } = resolveConsent(signals, rules, { country, region, source: 'override' }, NOW)
        const valid = validTcStrings(signals)
        for (const p of PURPOSES) {
          if (!consent.purposes[p]) continue
          const needed = rules.consent.mapping.tcf[p].purposes
          const backed = valid.some((tc) => {
            const consents = tc.publisherTC ? tc.publisherTC.purposeConsents : tc.purposeConsents
            return needed.every((n) => consents.includes(n))
          })
          expect(backed, `${p} granted without a valid TC string consenting to purposes ${needed}`).toBe(true)
        }
        if (valid.length === 0) expect(Object.values(consent.purposes).some(Boolean)).toBe(false)
        if (Object.values(consent.purposes).some(Boolean)) granted++
      }),
      { numRuns: 400 },
    )
    // The generator must also reach the granting path, or the property would hold vacuously.
    expect(granted).toBeGreaterThan(0)
  })

  it('never grants with only US signals and GPC in an opt-in jurisdiction', () => {
    fc.assert(
      fc.property(
        fc.array(anyString, { maxLength: 3 }),
        fc.boolean(),
        optIn,
        (usp, gpc, [country, region]) => {
          const signals: ConsentInput = {
            tcf: [],
            gpp: [],
            usp: usp.filter(Boolean).map((value, n) => ({ from: `u${n}`, value })),
            gpc: gpc ? ['header:Sec-GPC'] : [],
          }
          const { consent } = resolveConsent(signals, rules, { country, region, source: 'override' }, NOW)
          expect(Object.values(consent.purposes).some(Boolean)).toBe(false)
        },
      ),
    )
  })
})
