/**
 * Identifier normalisation and peppered hashing. Email and phone are never stored or logged raw:
 * they are normalised, then HMAC-SHA-256'd with the secret pepper (ID_PEPPER). The resulting
 * key (`email:<hex>`) names the IdentityIndex object and appears in identity links.
 * Pure apart from Web Crypto.
 */

export type IdentifierType = 'customer_id' | 'crm_id' | 'email' | 'phone' | 'anonymous_id'

export const IDENTIFIER_TYPES: readonly IdentifierType[] = [
  'customer_id',
  'crm_id',
  'email',
  'phone',
  'anonymous_id',
]

/** Lower-cased and trimmed; null when it is not an email address. */
export function normaliseEmail(raw: string): string | null {
  const v = raw.trim().toLowerCase()
  if (v.length > 254 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v)) return null
  return v
}

/**
 * E.164 (`+` and 8-15 digits). Separators are removed; a leading `00` becomes `+`. Numbers without
 * a country code are rejected rather than guessed.
 */
export function normalisePhone(raw: string): string | null {
  let v = raw.trim().replace(/[\s().-]/g, '')
  if (v.startsWith('00')) v = '+' + v.slice(2)
  if (!/^\+[1-9]\d{7,14}$/.test(v)) return null
  return v
}

const encoder = new TextEncoder()
const keyCache = new Map<string, Promise<CryptoKey>>()

function hmacKey(pepper: string): Promise<CryptoKey> {
  let key = keyCache.get(pepper)
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(pepper), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
    ])
    keyCache.set(pepper, key)
  }
  return key
}

/** HMAC-SHA-256 of `value` under `pepper`, hex. */
export async function pepperedHash(value: string, pepper: string): Promise<string> {
  const mac = await crypto.subtle.sign('HMAC', await hmacKey(pepper), encoder.encode(value))
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * The storage key of an identifier: `customer_id:<id>`, `anonymous_id:<id>`, `crm_id:<id>`,
 * `email:<hmac>`, `phone:<hmac>`. Null when the value does not normalise (not an email, ...).
 * Throws only if email/phone hashing is asked for without a pepper (a deployment error).
 */
export async function identifierKey(
  type: IdentifierType,
  raw: string,
  pepper: string | undefined,
): Promise<string | null> {
  switch (type) {
    case 'email':
    case 'phone': {
      const normalised = type === 'email' ? normaliseEmail(raw) : normalisePhone(raw)
      if (normalised === null) return null
      if (!pepper) throw new Error('ID_PEPPER is not configured: refusing to store an unhashed identifier')
      return `${type}:${await pepperedHash(normalised, pepper)}`
    }
    case 'customer_id':
    case 'crm_id':
    case 'anonymous_id': {
      const v = raw.trim()
      if (!v || v.length > 256) return null
      return `${type}:${v}`
    }
  }
}
