/**
 * Property: for random interleavings of visits, identify events, sign-ins, sign-outs, reads and
 * erases by several browsers and customers, no request reads or erases state it did not prove
 * (docs/identity.md "Trust model"). Runs through the real Worker, Durable Objects and D1.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Browser, customerTombstoned, emailHolder, type MeBody } from './browser'

type Op =
  | { kind: 'visit' | 'signOut' | 'dropToken' | 'event' | 'meGet' | 'meDelete'; b: number }
  | { kind: 'signIn'; b: number; u: number }
  | { kind: 'identify'; b: number; u: number | null }

const BROWSERS = 3
const USERS = 2

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('visit', 'signOut', 'dropToken', 'event', 'meGet', 'meDelete' as const),
    b: fc.nat(BROWSERS - 1),
  }),
  fc.record({ kind: fc.constant('signIn' as const), b: fc.nat(BROWSERS - 1), u: fc.nat(USERS - 1) }),
  fc.record({
    kind: fc.constant('identify' as const),
    b: fc.nat(BROWSERS - 1),
    u: fc.option(fc.nat(USERS - 1), { nil: null }),
  }),
)

describe('identity trust model under random interleavings', () => {
  it('never lets a request read or erase a customer it did not prove', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 3, maxLength: 9 }), async (ops) => {
        const run = crypto.randomUUID().slice(0, 8)
        const users = Array.from({ length: USERS }, (_, i) => ({
          id: `prop-${run}-${i}`,
          email: `prop-${run}-${i}@shop.example`,
          erasedByProof: false,
        }))
        const browsers = Array.from(
          { length: BROWSERS },
          (_, i) => new Browser(i === 2 ? 'header' : 'cookie'),
        )
        const holder = new Map<Browser, number | null>()
        for (const o of ops) {
          const b = browsers[o.b]!
          switch (o.kind) {
            case 'visit':
              await b.fetch('/v1/identity')
              break
            case 'signIn':
              await b.signIn(users[o.u]!.id, users[o.u]!.email)
              holder.set(b, o.u)
              break
            case 'dropToken':
              b.dropToken()
              holder.set(b, null)
              break
            case 'signOut':
              b.dropToken()
              holder.set(b, null)
              expect((await b.fetch('/v1/sign-out', { method: 'POST' })).status).toBe(200)
              break
            case 'event':
              expect((await b.events([{ type: 'add_to_cart' }])).status).toBe(202)
              break
            case 'identify': {
              const email = o.u === null ? `stranger-${run}@shop.example` : users[o.u]!.email
              expect((await b.events([{ type: 'identify', props: { email } }])).status).toBe(202)
              break
            }
            case 'meGet': {
              const body = (await (await b.me()).json()) as MeBody
              const proven = holder.get(b)
              const keys = Object.keys(body.state)
              if (proven === null || proven === undefined) {
                expect(keys.every((k) => k.startsWith('a:'))).toBe(true)
                expect(body.identity.customerId ?? null).toBeNull()
              } else {
                expect(keys).toEqual([`c:${users[proven]!.id}`])
              }
              break
            }
            case 'meDelete': {
              const proven = holder.get(b)
              expect((await b.me('DELETE')).status).toBe(200)
              if (proven !== null && proven !== undefined) users[proven]!.erasedByProof = true
              break
            }
          }
        }
        for (const u of users) {
          if (u.erasedByProof) continue
          expect(await customerTombstoned(u.id)).toBe(false)
          // Linked at a login stitch (a device that had an id before signing in), and only to them.
          expect([null, `c:${u.id}`]).toContain(await emailHolder(u.email))
        }
      }),
      { numRuns: 12 },
    )
  })
})
