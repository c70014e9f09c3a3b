/**
 * The consent snapshot id: a short content hash of the resolved state. Pure: no Workers imports.
 */
import { PURPOSES, type Consent } from './types'

/**
 * A short content hash of the resolved state: 64-bit FNV-1a over canonical JSON, as 16 hex digits.
 * Synchronous on purpose: Web Crypto's digest is async, and resolution is a pure, synchronous step
 * that also runs in Node; the id only has to tell consent states apart in decision records, it is
 * not a security boundary, so a fast non-cryptographic hash is enough.
 */
export function snapshotId(state: Omit<Consent, 'snapshotId' | 'sources'>): string {
  const { jurisdiction, regime, purposes, saleShareOptOut, gpc, reasons } = state
  return fnv1a64(
    JSON.stringify([
      jurisdiction,
      regime,
      PURPOSES.map((p) => (purposes[p] ? 1 : 0)),
      saleShareOptOut,
      gpc,
      reasons,
    ]),
  )
}

const utf8 = new TextEncoder()
// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/

/** 64-bit FNV-1a (offset basis 0xcbf29ce484222325, prime 0x100000001b3) over UTF-8, in 16-bit limbs. */
export function fnv1a64(text: string): string {
  // Reasons are nearly always ASCII: hash the code units directly and encode only when needed.
  const bytes = ASCII.test(text) ? null : utf8.encode(text)
  const length = bytes ? bytes.length : text.length
  let v0 = 0x2325
  let v1 = 0x8422
  let v2 = 0x9ce4
  let v3 = 0xcbf2
  for (let i = 0; i < length; i++) {
    v0 ^= bytes ? bytes[i]! : text.charCodeAt(i)
    // h * 0x100000001b3 = h * 0x1b3 + (h << 40), carried limb by limb.
    const t0 = v0 * 0x1b3
    let t1 = v1 * 0x1b3
    let t2 = v2 * 0x1b3 + (v0 << 8)
    const t3 = v3 * 0x1b3 + (v1 << 8)
    t1 += t0 >>> 16
    v0 = t0 & 0xffff
    t2 += t1 >>> 16
    v1 = t1 & 0xffff
    v3 = (t3 + (t2 >>> 16)) & 0xffff
    v2 = t2 & 0xffff
  }
  return hex4(v3) + hex4(v2) + hex4(v1) + hex4(v0)
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0')
