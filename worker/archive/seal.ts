/**
 * Sealing a person's fields in archived decision records (crypto-shredding, docs/privacy.md
 * "Decision archive"). Pure Web Crypto: runs in workerd and in Node.
 *
 * One subject key (32 random bytes, held by the person's CustomerState) gives two keys by HKDF
 * (RFC 5869, SHA-256): an AES-256-GCM key that seals the fields, and an HMAC-SHA-256 key that tags
 * each record so the person's DSAR export can find their records without any identifier in clear.
 *
 * - Seal: AES-GCM (NIST SP 800-38D) with a fresh random 96-bit IV per record (section 8.2.2) and the
 *   record id as additional authenticated data, so a sealed value cannot be moved to another row.
 *   Wire form: `v1.` + base64url(IV || ciphertext || 128-bit tag).
 * - Tag: base64url of the first 16 bytes of HMAC(tag key, record id) (RFC 2104). A different value
 *   on every record: once the key is destroyed, nothing links a person's records to each other.
 */

/** The fields sealed per record: every field that names or is derived from the person. */
export interface SealedFields {
  customerId: string | null
  anonymousId: string | null
  /** Placement caps as read for this person (their exposure counts). */
  caps: Record<string, unknown> | null
  /** The evaluation trace: it may quote the person's profile attributes and segments. */
  trace: string[]
}

/** The two keys derived from one subject key. */
export interface SealKeys {
  seal: CryptoKey
  tag: CryptoKey
}

const VERSION = 'v1'
const IV_BYTES = 12
const TAG_BYTES = 16
const enc = new TextEncoder()

/** Derives the seal and tag keys from a subject key's secret (HKDF-SHA-256, distinct `info`). */
export async function deriveKeys(secret: ArrayBuffer | Uint8Array): Promise<SealKeys> {
  const ikm = await crypto.subtle.importKey('raw', secret, 'HKDF', false, ['deriveKey'])
  const hkdf = (info: string) => ({
    name: 'HKDF',
    hash: 'SHA-256',
    salt: new Uint8Array(0),
    info: enc.encode(info),
  })
  const [seal, tag] = await Promise.all([
    crypto.subtle.deriveKey(hkdf('gatehouse archive seal v1'), ikm, { name: 'AES-GCM', length: 256 }, false, [
      'encrypt',
      'decrypt',
    ]),
    crypto.subtle.deriveKey(
      hkdf('gatehouse archive tag v1'),
      ikm,
      { name: 'HMAC', hash: 'SHA-256', length: 256 },
      false,
      ['sign'],
    ),
  ])
  return { seal, tag }
}

/** Seals `fields` of record `recordId`. */
export async function sealFields(keys: SealKeys, recordId: string, fields: SealedFields): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES))
  const ct = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: enc.encode(recordId) },
    keys.seal,
    enc.encode(JSON.stringify(fields)),
  )
  const out = new Uint8Array(IV_BYTES + ct.byteLength)
  out.set(iv)
  out.set(new Uint8Array(ct), IV_BYTES)
  return `${VERSION}.${toBase64Url(out)}`
}

/**
 * Opens a sealed value of record `recordId`; null when these keys do not open it (another person's
 * key, a destroyed key, a value moved from another row, or not a sealed value at all). Never throws.
 */
export async function openFields(
  keys: SealKeys,
  recordId: string,
  sealed: unknown,
): Promise<SealedFields | null> {
  if (typeof sealed !== 'string' || !sealed.startsWith(`${VERSION}.`)) return null
  const bytes = fromBase64Url(sealed.slice(VERSION.length + 1))
  if (!bytes || bytes.length < IV_BYTES + 16) return null
  try {
    const pt = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bytes.subarray(0, IV_BYTES), additionalData: enc.encode(recordId) },
      keys.seal,
      bytes.subarray(IV_BYTES),
    )
    return JSON.parse(new TextDecoder().decode(pt)) as SealedFields
  } catch {
    return null
  }
}

/** The record's subject tag under these keys (see the module comment). */
export async function subjectTag(keys: SealKeys, recordId: string): Promise<string> {
  const mac = await crypto.subtle.sign('HMAC', keys.tag, enc.encode(recordId))
  return toBase64Url(new Uint8Array(mac, 0, TAG_BYTES))
}

function toBase64Url(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += String.fromCharCode(b)
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function fromBase64Url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null
  try {
    const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
    return Uint8Array.from(s, (c) => c.charCodeAt(0))
  } catch {
    return null
  }
}
