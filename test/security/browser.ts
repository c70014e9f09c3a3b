/**
 * A browser for the attack catalogue: keeps the gateway's `gh_id` cookie between requests (or sends
 * it as `X-Gatehouse-Id`, as an app would), optionally with a customer's JWT, through the real Worker.
 */
import { env } from 'cloudflare:workers'
import { identifierKey } from '../../worker/identity/keys'
import { stitch } from '../../worker/identity/stitch'
import { isTombstoned } from '../../worker/privacy/tombstone'
import { cookieClaims, gate, idCookie, signToken, US_CA } from '../identity/support'

export interface MeBody {
  held: boolean
  identity: { basis: string; customerId?: string | null; anonymousId?: string }
  state: Record<string, Record<string, unknown[]>>
  decisions: unknown[]
}

export class Browser {
  /** The signed id this browser holds, as the last response set it. */
  id: string | null = null
  /** A customer JWT sent with every request (a signed-in session), or null. */
  token: string | null = null

  constructor(readonly via: 'cookie' | 'header' = 'cookie') {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { ...US_CA, ...extra }
    if (this.id) {
      if (this.via === 'cookie') h.cookie = `gh_id=${this.id}`
      else h['x-gatehouse-id'] = this.id
    }
    if (this.token && !h.authorization) h.authorization = `Bearer ${this.token}`
    return h
  }

  async fetch(
    path: string,
    init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) {
    const headers = this.headers(init.headers)
    if (init.body !== undefined) headers['content-type'] = 'application/json'
    const res = await gate(path, {
      method: init.method ?? 'GET',
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    })
    const cookie = idCookie(res)
    if (cookie) this.id = cookie.value === '' ? null : cookie.value
    else if (this.via === 'header' && res.headers.get('x-gatehouse-id'))
      this.id = res.headers.get('x-gatehouse-id')
    return res
  }

  /** Signs in as `customerId`; the identity provider vouches for `email` when given. */
  async signIn(customerId: string, email?: string): Promise<void> {
    this.token = await signToken(customerId, email ? { claims: { email, email_verified: true } } : {})
    const res = await this.fetch('/v1/identity')
    if (res.status !== 200) throw new Error(`sign-in answered ${res.status}`)
  }

  /** Stops sending the JWT (the site's session ended) without telling the gateway. */
  dropToken(): void {
    this.token = null
  }

  async events(events: Array<{ type: string; props?: Record<string, unknown> }>, headers = {}) {
    return this.fetch('/v1/events', {
      method: 'POST',
      headers,
      body: {
        events: events.map((e) => ({
          id: crypto.randomUUID(),
          ts: new Date().toISOString(),
          props: {},
          ...e,
        })),
      },
    })
  }

  async me(method: 'GET' | 'DELETE' = 'GET') {
    return this.fetch('/v1/me', { method })
  }

  claims() {
    return this.id ? cookieClaims(this.id) : null
  }
}

/** The CustomerState of a state key, for reading what it holds. */
export function state(key: string) {
  return env.CUSTOMER.get(env.CUSTOMER.idFromName(key))
}

/** Rows per table of a state object (migrations bookkeeping left out). */
export async function rowCounts(key: string): Promise<Record<string, number>> {
  const dump = (await state(key).exportAll()) as Record<string, unknown[]>
  return Object.fromEntries(
    Object.entries(dump)
      .filter(([t]) => !/^(_|sqlite_)/.test(t) && t !== 'state_meta')
      .map(([t, rows]) => [t, rows.length]),
  )
}

/** Who the IdentityIndex says holds this email, or null. */
export async function emailHolder(email: string): Promise<string | null> {
  const key = (await identifierKey('email', email, env.ID_PEPPER))!
  return (await env.IDENTITY.get(env.IDENTITY.idFromName(key)).lookup(key))?.stateKey ?? null
}

export async function emailTombstoned(email: string): Promise<boolean> {
  const key = (await identifierKey('email', email, env.ID_PEPPER))!
  return isTombstoned(env, key)
}

export const customerTombstoned = (customerId: string) => isTombstoned(env, `c:${customerId}`)

/** A customer who signed in once (their email vouched for by the identity provider) and browsed. */
export async function victim(
  tag = 'victim',
): Promise<{ customerId: string; email: string; browser: Browser }> {
  const customerId = `${tag}-${crypto.randomUUID().slice(0, 8)}`
  const email = `${customerId}@shop.example`
  const browser = new Browser()
  await browser.fetch('/v1/identity')
  await browser.signIn(customerId, email)
  // The site's server links the email too (what a registration does), whatever the token says.
  await stitch(env, { customerId, identifiers: [{ type: 'email', value: email }], assertedBy: 'admin' })
  const res = await browser.events([{ type: 'product_view', props: { sku: 'lamp-1' } }, { type: 'purchase' }])
  if (res.status !== 202) throw new Error(`victim events answered ${res.status}`)
  return { customerId, email, browser }
}
