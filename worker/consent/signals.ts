/**
 * Where consent signals come from (docs/api.md "Consent signals read") and turning them into decoded
 * readings: cookies and query parameters on every request, `Sec-GPC`, and the `consent` object of
 * a `/v1/decide` body. Decoding is cached per isolate in small bounded LRUs keyed by the raw
 * string, because the same cookie arrives on every request of a visit. Pure: no Workers imports.
 */
import { z } from 'zod'
import type { Location } from '../context/location'
import type { ConsentRules } from '../rules/concerns/consent'
import { BRIDGE_COOKIE, parseBridgeCookie } from './bridge/cookie'
import { CMP_ADAPTERS, type CmpReading, type CookieJar } from './cmp'
import { checkGppSid, decodeGppString } from './gpp'
import { readGpcHeader } from './gpc'
import { resolveDecoded, type DecodedSignals, type Reading, type Resolution } from './resolve'
import { decodeTcString } from './tcf'
import type { DecodeResult, GppString, TcfString, UspString } from './types'
import { decodeUspString } from './usp'

export interface RawSignal {
  /** Where it was read: `cookie:euconsent-v2`, `query:gdpr_consent`, `body:consent.tcString`. */
  from: string
  value: string
}

export interface RawGpp extends RawSignal {
  /** The applicable section ids sent beside the string (`__gpp_sid`, `gpp_sid`, `consent.gppSid`). */
  sid?: { from: string; value: string | number[] }
}

/** Every raw signal on a request, in preference order per kind. */
export interface ConsentInput {
  tcf: RawSignal[]
  gpp: RawGpp[]
  usp: RawSignal[]
  /** Where GPC was asserted; empty when it was not. */
  gpc: string[]
  /** The request's cookies, where CMP adapters look for their own (absent for a body alone). */
  cookies?: CookieJar
}

/** The `consent` object of a `/v1/decide` body (docs/api.md), validated with field-level errors. */
export const consentBodySchema = z.strictObject({
  tcString: z.string().max(16_384).optional(),
  gppString: z.string().max(16_384).optional(),
  gppSid: z.array(z.number().int().min(0).max(4095)).max(64).optional(),
  usPrivacy: z.string().max(64).optional(),
  gpc: z.boolean().optional(),
})

export type ConsentBody = z.output<typeof consentBodySchema>

/**
 * Reads the signals of a request: cookie first (the site's own CMP wrote it), then the query
 * parameter (links and AMP pass consent that way). Empty values count as absent.
 */
export function consentInputFromRequest(
  headers: Headers,
  cookies: Map<string, string>,
  url: URL,
): ConsentInput {
  const input: ConsentInput = { tcf: [], gpp: [], usp: [], gpc: [], cookies }
  const q = url.searchParams
  push(input.tcf, 'cookie:euconsent-v2', cookies.get('euconsent-v2'))
  // OneTrust's TCF integration keeps its TC string in `eupubconsent-v2` (docs/consent.md "Signals").
  push(input.tcf, 'cookie:eupubconsent-v2', cookies.get('eupubconsent-v2'))
  // The consent bridge's copy of a browser-only CMP's string (./bridge), after the CMP's own cookies.
  const bridged = cookies.has(BRIDGE_COOKIE) ? parseBridgeCookie(cookies.get(BRIDGE_COOKIE)) : null
  if (bridged?.kind === 'tcf') push(input.tcf, `cookie:${BRIDGE_COOKIE}`, bridged.value)
  push(input.tcf, 'query:gdpr_consent', q.get('gdpr_consent'))
  pushGpp(input.gpp, 'cookie:__gpp', cookies.get('__gpp'), 'cookie:__gpp_sid', cookies.get('__gpp_sid'))
  if (bridged?.kind === 'gpp') {
    const from = `cookie:${BRIDGE_COOKIE}`
    pushGpp(input.gpp, from, bridged.value, from, bridged.sid)
  }
  pushGpp(input.gpp, 'query:gpp', q.get('gpp'), 'query:gpp_sid', q.get('gpp_sid'))
  push(input.usp, 'cookie:usprivacy', cookies.get('usprivacy'))
  push(input.usp, 'query:us_privacy', q.get('us_privacy'))
  if (readGpcHeader(headers)) input.gpc.push('header:Sec-GPC')
  return input
}

/**
 * Adds the signals of a `/v1/decide` body in front of the request's own (an app states its
 * visitor's consent explicitly; cookies of a web view come second).
 *
 * @example consentInputFromBody({ tcString: 'CQ...', gpc: true }, consentInputFromRequest(headers, cookies, url))
 */
export function consentInputFromBody(body: ConsentBody | undefined, base?: ConsentInput): ConsentInput {
  const input: ConsentInput = { tcf: [], gpp: [], usp: [], gpc: [] }
  if (body) {
    push(input.tcf, 'body:consent.tcString', body.tcString)
    if (body.gppString) {
      input.gpp.push({
        from: 'body:consent.gppString',
        value: body.gppString,
        ...(body.gppSid ? { sid: { from: 'body:consent.gppSid', value: body.gppSid } } : {}),
      })
    }
    push(input.usp, 'body:consent.usPrivacy', body.usPrivacy)
    if (body.gpc === true) input.gpc.push('body:consent.gpc')
  }
  if (base) {
    input.tcf.push(...base.tcf)
    input.gpp.push(...base.gpp)
    input.usp.push(...base.usp)
    input.gpc.push(...base.gpc)
    if (base.cookies) input.cookies = base.cookies
  }
  return input
}

function push(list: RawSignal[], from: string, value: string | null | undefined): void {
  if (value) list.push({ from, value })
}

function pushGpp(
  list: RawGpp[],
  from: string,
  value: string | null | undefined,
  sidFrom: string,
  sid: string | null | undefined,
): void {
  if (!value) return
  list.push(sid ? { from, value, sid: { from: sidFrom, value: sid } } : { from, value })
}

/** A small least-recently-used cache: a Map keeps insertion order, so the first key is the oldest. */
export class Lru<V> {
  readonly #max: number
  readonly #map = new Map<string, V>()
  constructor(max: number) {
    this.#max = max
  }
  get size(): number {
    return this.#map.size
  }
  get(key: string): V | undefined {
    const v = this.#map.get(key)
    if (v !== undefined) {
      this.#map.delete(key)
      this.#map.set(key, v)
    }
    return v
  }
  set(key: string, value: V): void {
    this.#map.delete(key)
    this.#map.set(key, value)
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as string)
  }
}

// 256 entries each, and only strings up to 4 KB are cached: a hostile stream of distinct huge
// strings costs decoding time (bounded by the decoders) but never isolate memory.
const CACHE_ENTRIES = 256
const CACHE_MAX_KEY = 4096
const tcfCache = new Lru<DecodeResult<TcfString>>(CACHE_ENTRIES)
const gppCache = new Lru<DecodeResult<GppString>>(CACHE_ENTRIES)
const uspCache = new Lru<DecodeResult<UspString>>(CACHE_ENTRIES)
const cmpCache = new Lru<DecodeResult<CmpReading>>(CACHE_ENTRIES)

function cached<T>(cache: Lru<DecodeResult<T>>, input: string, decode: (s: string) => DecodeResult<T>) {
  if (input.length > CACHE_MAX_KEY) return decode(input)
  let result = cache.get(input)
  if (!result) {
    result = decode(input)
    cache.set(input, result)
  }
  return result
}

/**
 * Decoded values are shared between requests through the cache: readers must never mutate them.
 * CMP cookies are read for the CMPs `rules.cmp.read` names (every supported one by default); a
 * TC string kept inside a CMP cookie (Cookiebot `iab2`) joins the TCF readings after the
 * standalone ones.
 */
export function decodeSignals(input: ConsentInput, rules?: ConsentRules): DecodedSignals {
  const tcf = input.tcf.map((s) =>
    reading(
      s.from,
      cached(tcfCache, s.value, (v) => decodeTcString(v)),
    ),
  )
  const cmp: DecodedSignals['cmp'] = []
  const jar = input.cookies
  if (jar && jar.size > 0) {
    const read = rules?.cmp.read
    for (const adapter of CMP_ADAPTERS) {
      if (read && !read.includes(adapter.name)) continue
      const found = adapter.find(jar)
      if (!found) continue
      const r = reading(
        found.from,
        cached(cmpCache, `${adapter.name}\0${found.raw}`, () => adapter.parse(found.raw)),
      )
      cmp.push({ ...r, cmp: adapter.name })
      if (r.ok && r.value.tcString) {
        const from = `${found.from}#iab2`
        const tc = r.value.tcString
        tcf.push(
          reading(
            from,
            cached(tcfCache, tc, (v) => decodeTcString(v)),
          ),
        )
      }
    }
  }
  return {
    tcf,
    gpp: input.gpp.map(decodeGpp),
    usp: input.usp.map((s) => reading(s.from, cached(uspCache, s.value, decodeUspString))),
    gpc: [...input.gpc],
    cmp,
  }
}

function decodeGpp(s: RawGpp): Reading<GppString> {
  const r = reading(
    s.from,
    cached(gppCache, s.value, (v) => decodeGppString(v)),
  )
  if (!r.ok || !s.sid) return r
  const sid = parseSid(s.sid.value)
  if (sid === null)
    return { from: s.from, ok: false, errors: [`${s.sid.from}: not a list of GPP section ids`] }
  const errors = checkGppSid(r.value, sid)
  return errors.length ? { from: s.from, ok: false, errors: errors.map((e) => `${s.sid!.from}: ${e}`) } : r
}

// `gpp_sid` is a list of section ids; CMPs write it with ',' (URL macros) or '_' (the __gpp_sid cookie).
function parseSid(value: string | number[]): number[] | null {
  if (Array.isArray(value)) return value
  if (value.length > 512) return null
  const parts = value.split(/[,_]/)
  const ids: number[] = []
  for (const p of parts) {
    const t = p.trim()
    if (!/^\d{1,4}$/.test(t)) return null
    ids.push(Number(t))
  }
  return ids
}

function reading<T>(from: string, result: DecodeResult<T>): Reading<T> {
  if (result.ok) return { from, ok: true, value: result.value }
  const { field, message } = result.error
  return { from, ok: false, errors: [message.includes(field) ? message : `${field}: ${message}`] }
}

/**
 * Decodes and resolves a request's (or a decide body's) signals into one consent, with the
 * `signals` report of `GET /v1/consent`.
 *
 * @example resolveConsent(consentInputFromBody(body.consent), rules, c.get('request').location, new Date())
 */
export function resolveConsent(
  input: ConsentInput,
  rules: { consent: ConsentRules },
  location: Location,
  now: Date,
): Resolution {
  return resolveDecoded(decodeSignals(input, rules.consent), rules.consent, location, now)
}
