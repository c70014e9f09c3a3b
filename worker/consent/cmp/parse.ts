/**
 * Small bounded readers shared by the CMP adapters: percent-decoding, JSON objects, a JavaScript
 * object literal (Cookiebot) and `key:value` lists (CookieYes), each returning a Result with a
 * tagged reason instead of throwing. Pure: no Workers imports.
 */
import { decodeError, type DecodeReason } from '../bits'
import type { DecodeResult } from '../types'
import type { CmpReading } from './types'

/** Browsers cap a cookie at 4096 bytes (RFC 6265 section 6.1); anything longer is not a CMP's. */
export const MAX_COOKIE = 4096
/** At most this many categories, services or vendors are read from one cookie. */
export const MAX_ENTRIES = 256
/** Category, service and vendor ids: letters, digits and `_ - . : $`, up to 64 characters. */
export const CATEGORY_ID = /^[A-Za-z0-9_.:$-]{1,64}$/

export type Field = string

/** A failed read naming the cookie at fault. */
export function fail(
  reason: DecodeReason,
  field: Field,
  message: string,
): { ok: false; error: ReturnType<typeof decodeError>['error'] } {
  return decodeError(reason, field, message)
}

/** Checks the length bound every adapter applies first. */
export function bounded(raw: string, field: Field): DecodeResult<string> {
  if (raw.length === 0) return fail('empty', field, `${field} is empty`)
  if (raw.length > MAX_COOKIE)
    return fail('too_long', field, `${field} is ${raw.length} characters, over ${MAX_COOKIE}`)
  return { ok: true, value: raw }
}

/** `decodeURIComponent` as a Result (a lone `%` throws URIError). */
export function percentDecode(raw: string, field: Field): DecodeResult<string> {
  if (!raw.includes('%')) return { ok: true, value: raw }
  try {
    return { ok: true, value: decodeURIComponent(raw) }
  } catch {
    return fail('bad_encoding', field, `${field} is not valid percent-encoding`)
  }
}

/** Parses a JSON object (not an array, not a scalar) as a Result. */
export function jsonObject(text: string, field: Field): DecodeResult<Record<string, unknown>> {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return fail('bad_json', field, `${field} is not JSON`)
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    return fail('bad_json', field, `${field} is not a JSON object`)
  return { ok: true, value: v as Record<string, unknown> }
}

/** Percent-decodes when needed, then parses a JSON object (most CMPs write `encodeURIComponent(JSON)`). */
export function encodedJson(raw: string, field: Field): DecodeResult<Record<string, unknown>> {
  const b = bounded(raw, field)
  if (!b.ok) return b
  const text = raw.trimStart().startsWith('{') ? { ok: true as const, value: raw } : percentDecode(raw, field)
  if (!text.ok) return text
  return jsonObject(text.value, field)
}

/** A list of category ids from a JSON array of strings, or an error naming the field. */
export function idList(v: unknown, field: Field): DecodeResult<string[]> {
  if (!Array.isArray(v)) return fail('bad_value', field, `${field} is not a list`)
  if (v.length > MAX_ENTRIES) return fail('too_many', field, `${field} has over ${MAX_ENTRIES} entries`)
  const out: string[] = []
  for (const id of v) {
    if (typeof id !== 'string' || !CATEGORY_ID.test(id))
      return fail('bad_value', field, `${field} holds ${JSON.stringify(id)?.slice(0, 40)}, not a category id`)
    out.push(id)
  }
  return { ok: true, value: out }
}

/** Copies scalar fields worth reporting (version, timestamps, ids), strings cut to 64 characters. */
export function pick(obj: Record<string, unknown>, keys: readonly string[]): CmpReading['fields'] {
  const out: CmpReading['fields'] = {}
  for (const k of keys) {
    const v = obj[k]
    if (typeof v === 'string') out[k] = v.slice(0, 64)
    else if (typeof v === 'number' && Number.isFinite(v)) out[k] = v
    else if (typeof v === 'boolean') out[k] = v
  }
  return out
}

/** A reading with the defaults most adapters share. */
export function reading(
  state: CmpReading['state'],
  categories: Record<string, boolean>,
  extra: Partial<CmpReading> = {},
): DecodeResult<CmpReading> {
  return {
    ok: true,
    value: {
      state,
      categories,
      listsAcceptedOnly: false,
      gpc: false,
      saleOptOut: false,
      fields: {},
      ...extra,
    },
  }
}

/** A record without a prototype, so ids such as `__proto__` or `constructor` are plain keys. */
export function dict(): Record<string, boolean> {
  return Object.create(null) as Record<string, boolean>
}

/**
 * Booleans keyed by id from a JSON object (Klaro services, Axeptio vendors, CookieFirst categories).
 * Keys in `skip` (metadata) are ignored; a non-boolean value for any other key is an error.
 */
export function booleanMap(
  obj: Record<string, unknown>,
  field: Field,
  skip: (key: string) => boolean,
): DecodeResult<Record<string, boolean>> {
  const out = dict()
  let n = 0
  for (const [k, v] of Object.entries(obj)) {
    if (skip(k)) continue
    if (++n > MAX_ENTRIES) return fail('too_many', field, `${field} has over ${MAX_ENTRIES} entries`)
    if (!CATEGORY_ID.test(k)) return fail('bad_value', field, `${field} has a key that is not an id`)
    if (typeof v !== 'boolean')
      return fail(
        'bad_value',
        field,
        `${field}.${k} is ${JSON.stringify(v)?.slice(0, 20)}, not true or false`,
      )
    out[k] = v
  }
  return { ok: true, value: out }
}
