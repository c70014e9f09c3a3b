/**
 * The identity policy from JSON rows (./plan.cases.json): what each kind of request proves, which
 * steps it needs, and what the response does with the signed id. A bug report becomes a row.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import cases from './plan.cases.json'
import { planVisitor, selfServiceScope, type VisitorFacts, type VisitorStep } from './plan'
import type { Identity } from './types'

const BASE: VisitorFacts = {
  nowS: 1_000_000,
  persistent: true,
  cookieWithoutConsent: false,
  jwtSubject: null,
  presented: null,
  signingKid: 'k2',
  refreshAfterS: 86_400,
  signOut: false,
  newAnonymousId: 'new-id',
}

interface Row {
  name: string
  facts: Partial<VisitorFacts>
  answers?: Pick<VisitorFacts, 'tombstones' | 'login'>
  asks: string[]
  identity: Partial<Identity>
  cookie: unknown
  rotated: string | null
}

/** Runs the plan to its end, answering each step from `answers`; returns the steps asked. */
function run(facts: VisitorFacts, answers: Row['answers'] = {}) {
  const asked: string[] = []
  let step: VisitorStep = planVisitor(facts)
  while (step.kind !== 'done') {
    asked.push(step.kind)
    if (asked.length > 2) throw new Error('the plan asks more than two steps')
    const key = step.kind === 'login' ? 'login' : 'tombstones'
    if (answers[key] === undefined) throw new Error(`no answer for ${step.kind}`)
    facts = { ...facts, [key]: answers[key] }
    step = planVisitor(facts)
  }
  return { asked, visit: step.visit }
}

describe('planVisitor', () => {
  it.each(cases as Row[])('$name', (row) => {
    const { asked, visit } = run({ ...BASE, ...row.facts }, row.answers)
    expect(asked).toEqual(row.asks)
    expect(visit.identity).toMatchObject(row.identity)
    expect(visit.cookie).toEqual(row.cookie)
    expect(visit.rotated).toEqual(row.rotated)
  })

  it('never proves a customer without a JWT, and never carries one customer into another’s session', () => {
    const id = fc.constantFrom('ann', 'bob', null)
    fc.assert(
      fc.property(
        fc.record({
          persistent: fc.boolean(),
          jwtSubject: id,
          carried: id,
          hasPresented: fc.boolean(),
          signOut: fc.boolean(),
          old: fc.boolean(),
          login: fc.constantFrom('linked', 'anonymous_conflict', 'erased', 'retry' as const),
          erasedCustomer: fc.boolean(),
        }),
        (x) => {
          const facts: VisitorFacts = {
            ...BASE,
            persistent: x.persistent,
            jwtSubject: x.jwtSubject,
            signOut: x.signOut,
            presented: x.hasPresented
              ? {
                  anonymousId: 'dev-1',
                  customerId: x.carried,
                  issuedAt: x.old ? 1 : 999_999,
                  kid: 'k2',
                  via: 'cookie',
                }
              : null,
          }
          const { visit } = run(facts, {
            login: x.login,
            tombstones: { anonymous: false, customer: x.erasedCustomer },
          })
          const scope = selfServiceScope(visit.identity)
          // Privacy routes reach a customer only with that customer's token.
          if (scope.kind === 'customer') expect(scope.customerId).toBe(x.jwtSubject)
          if (!x.jwtSubject) expect(scope.kind).not.toBe('customer')
          // The cookie never carries a customer other than the one who signed in, or the one it carried.
          if (visit.cookie.action === 'issue' && visit.cookie.customerId !== null) {
            expect([x.jwtSubject, x.carried]).toContain(visit.cookie.customerId)
            expect(x.signOut).toBe(false)
          }
          // A customer other than the signed-in one is never merged into their session.
          if (x.jwtSubject) expect(visit.identity.customerId).toBe(x.jwtSubject)
        },
      ),
      { numRuns: 500 },
    )
  })
})

describe('selfServiceScope', () => {
  const id = (over: Partial<Identity>): Identity => ({
    basis: 'cookie',
    anonymousId: 'dev-1',
    customerId: null,
    unitId: 'dev-1',
    stateKey: 'a:dev-1',
    ...over,
  })
  it.each([
    ['a verified customer', id({ basis: 'jwt', customerId: 'ann', stateKey: 'c:ann' }), 'customer'],
    ['a cookie that carries a customer', id({ customerId: 'ann', stateKey: 'c:ann' }), 'anonymous'],
    [
      'a header that carries a customer',
      id({ basis: 'header', customerId: 'ann', stateKey: 'c:ann' }),
      'anonymous',
    ],
    ['an anonymous device', id({}), 'anonymous'],
    ['an ephemeral visit', id({ basis: 'ephemeral', stateKey: null }), 'none'],
  ] as const)('%s reaches %s data', (_name, identity, kind) => {
    expect(selfServiceScope(identity).kind).toBe(kind)
  })
})
