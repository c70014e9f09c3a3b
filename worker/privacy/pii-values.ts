/**
 * Personal data by value, not by name: finds email addresses and phone numbers inside any string
 * (an event prop under any key, free text, a UTM term) and replaces each with its peppered key
 * (`email:<hmac>`, the form identity links use) or removes it, per `piiValues` in
 * rules/privacy.yaml. Key names alone miss `customer_email`, `tel` or a note that says "call me on
 * +49 151 ...": this catches the value wherever it is.
 *
 * Pure (no Workers imports; hashing is passed in) and linear: every pattern is a sequence of
 * disjoint character classes with bounded repeats, and a string is only scanned when a cheap
 * pre-check ("@" or seven digits) says it could hold one.
 */
import { normaliseEmail, normalisePhone, pepperedHash } from '../identity/keys'

export type PiiKind = 'email' | 'phone'

export interface PiiSpan {
  kind: PiiKind
  start: number
  end: number
  text: string
}

export interface PiiValueRule {
  /** `hash`: replace with the peppered key; `drop`: remove (a whole value) or blank (inside text). */
  action: 'hash' | 'drop'
  detect: readonly PiiKind[]
}

// RFC 5322 section 3.4.1 addr-spec, restricted to what mail systems deliver (dot-atom local part of
// `atext`, dotted host with a letter TLD); `%40` is an "@" that came through URL encoding.
const EMAIL =
  /(?<![\p{L}\p{N}!#$%&'*+/=?^_`{|}~.-])[\p{L}\p{N}!#$%&'*+/=?^_`{|}~.-]{1,64}(?:@|%40)[\p{L}\p{N}-]{1,63}(?:\.[\p{L}\p{N}-]{1,63}){0,8}\.\p{L}{2,24}(?![\p{L}\p{N}-])/gu
// A run of digits with at most one separator between two digits (E.164 written by people:
// "+49 151 2345-6789", "(030) 1234567", "0044.20.7946.0000"); classified by `phoneLike`.
const PHONE_RUN = /(?<![\p{L}\p{N}+])(?:\+|\()?\d(?:[ .()/-]{0,2}\d){6,18}(?![\p{L}\p{N}])/gu
const NANP = /^\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}$/
const DECIMAL = /^\d+\.\d+$/

/** Names that announce a phone number or email (`tel`, `customer_phone`, `billing_email`). */
export const PII_HINT_KEY = /(^|[_.-])(e_?mail|phone|tel|telephone|mobile|msisdn|fax|whatsapp)([_.-]|$)/i

/**
 * Whether a run of digits is a phone number: international (`+` or `00` and 8-15 digits, E.164),
 * national with a trunk `0` or an area code in brackets (9-13 digits), or North American
 * (3-3-4). Dates, decimals, times and long ids are not. Under a key that names a phone, any run
 * of 7-15 digits is one.
 */
function phoneLike(run: string, hinted: boolean): boolean {
  if (DECIMAL.test(run)) return false
  const digits = run.replace(/\D/g, '').length
  if (hinted) return digits >= 7 && digits <= 15
  if (run.startsWith('+') || run.startsWith('00')) return digits >= 8 && digits <= 15
  if (run.startsWith('(') || run.startsWith('0')) return digits >= 9 && digits <= 13
  return digits === 10 && NANP.test(run)
}

/**
 * The emails and phone numbers in `text`, in order, not overlapping. `hint` says the value sits
 * under a key that names a phone or email (`tel`), which lets shorter numbers count.
 *
 * @example
 *   findPii('mail ana@example.com or call +49 151 23456789')
 *   // -> [{ kind: 'email', text: 'ana@example.com', ... }, { kind: 'phone', text: '+49 151 23456789', ... }]
 */
export function findPii(
  text: string,
  detect: readonly PiiKind[] = ['email', 'phone'],
  hint = false,
): PiiSpan[] {
  const spans: PiiSpan[] = []
  if (detect.includes('email') && (text.includes('@') || text.includes('%40'))) {
    for (const m of text.matchAll(EMAIL))
      spans.push({ kind: 'email', start: m.index, end: m.index + m[0].length, text: m[0] })
  }
  if (detect.includes('phone') && sevenDigits(text)) {
    for (const m of text.matchAll(PHONE_RUN)) {
      const start = m.index
      const end = start + m[0].length
      if (spans.some((s) => s.start < end && start < s.end)) continue
      if (phoneLike(m[0], hint)) spans.push({ kind: 'phone', start, end, text: m[0] })
    }
  }
  return spans.sort((a, b) => a.start - b.start)
}

function sevenDigits(text: string): boolean {
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 48 && c <= 57 && ++n >= 7) return true
  }
  return false
}

/** The peppered-key input for a span: the normalised address or number (digits only if unknown). */
export function piiHashInput(span: PiiSpan): string {
  if (span.kind === 'email') return normaliseEmail(span.text.replace(/%40/i, '@')) ?? span.text.toLowerCase()
  return normalisePhone(span.text) ?? span.text.replace(/[^\d+]/g, '')
}

/** HMAC of a normalised identifier under the pepper, hex (worker/identity/keys.ts `pepperedHash`). */
export type PiiHasher = (value: string) => Promise<string>

/** The hasher for `piiValues: hash`, or null (values are dropped) when no pepper is configured. */
export function piiHasher(pepper: string | undefined): PiiHasher | null {
  return pepper ? (value) => pepperedHash(value, pepper) : null
}

export interface ScrubbedText {
  /** The text with every span replaced; null when the whole text was one span and it is dropped. */
  text: string | null
  found: PiiKind[]
}

/**
 * `text` with each email and phone number replaced by its key (`email:<hmac>`) or, for `drop`
 * or without a hasher (no pepper configured), removed: a value that is only the identifier becomes
 * null, one inside text becomes `[email]`/`[phone]`. Text without any is returned as is.
 */
export async function scrubText(
  text: string,
  rule: PiiValueRule,
  hash: PiiHasher | null,
  hint = false,
): Promise<ScrubbedText> {
  const spans = findPii(text, rule.detect, hint)
  if (spans.length === 0) return { text, found: [] }
  const found = spans.map((s) => s.kind)
  const hashing = rule.action === 'hash' && hash !== null
  if (!hashing && spans.length === 1 && text.trim() === spans[0]!.text) return { text: null, found }
  let out = ''
  let at = 0
  for (const s of spans) {
    out += text.slice(at, s.start)
    out += hashing ? `${s.kind}:${await hash(piiHashInput(s))}` : `[${s.kind}]`
    at = s.end
  }
  return { text: out + text.slice(at), found }
}

/**
 * `props` with every string scrubbed (at any depth; props are validated to 4 levels), values under
 * phone/email-like keys scanned with the hint, and dropped values removed. `found` lists the paths
 * that held one (for a log line that names no value). Pure apart from the hasher.
 */
export async function scrubPropValues(
  props: Record<string, unknown>,
  rule: PiiValueRule,
  hash: PiiHasher | null,
): Promise<{ props: Record<string, unknown>; found: string[] }> {
  // Most props hold nothing: answer those without a promise per value.
  if (!holdsPii(props, rule.detect)) return { props, found: [] }
  const found: string[] = []
  const walk = async (v: unknown, path: string, hint: boolean): Promise<unknown> => {
    if (typeof v === 'string') {
      const r = await scrubText(v, rule, hash, hint)
      if (r.found.length) found.push(path)
      return r.text === null ? undefined : r.text
    }
    if (Array.isArray(v)) {
      const out: unknown[] = []
      for (let i = 0; i < v.length; i++) {
        const x = await walk(v[i], `${path}[${i}]`, hint)
        if (x !== undefined) out.push(x)
      }
      return out
    }
    if (!v || typeof v !== 'object') return v
    const out: Record<string, unknown> = {}
    for (const [rawKey, x] of Object.entries(v as Record<string, unknown>)) {
      // A key can carry one too (`{ "ana@example.com": true }`).
      const key = await scrubText(rawKey, rule, hash)
      const p = path ? `${path}.${key.text ?? `[${key.found[0]}]`}` : (key.text ?? `[${key.found[0]}]`)
      if (key.found.length) found.push(p)
      if (key.text === null) continue
      const y = await walk(x, p, PII_HINT_KEY.test(rawKey))
      if (y !== undefined) out[key.text] = y
    }
    return out
  }
  return { props: (await walk(props, '', false)) as Record<string, unknown>, found }
}

/** Whether any string or key in `value` holds an email or phone number; an explicit stack, no awaits. */
function holdsPii(value: unknown, detect: readonly PiiKind[]): boolean {
  const stack: Array<{ v: unknown; hint: boolean }> = [{ v: value, hint: false }]
  while (stack.length > 0) {
    const { v, hint } = stack.pop()!
    if (typeof v === 'string') {
      if (findPii(v, detect, hint).length > 0) return true
    } else if (Array.isArray(v)) {
      for (const x of v) stack.push({ v: x, hint })
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (findPii(k, detect).length > 0) return true
        stack.push({ v: x, hint: PII_HINT_KEY.test(k) })
      }
    }
  }
  return false
}
