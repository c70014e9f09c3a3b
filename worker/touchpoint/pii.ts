/**
 * UTM free text without personal data: an email or phone number pasted into `utm_term`,
 * `utm_content` or `utm_campaign` (a newsletter that put the reader's address in the link) is
 * hashed or dropped (`piiValues` in rules/privacy.yaml) before the touchpoint is stored or sent to
 * the origin in `X-Gatehouse-Touchpoint`, and the same parameters are rewritten in the URL the
 * origin receives. Pure apart from the hasher it is given.
 */
import { findPii, scrubText, type PiiHasher, type PiiValueRule } from '../privacy/pii-values'
import type { Touchpoint } from './types'

const FREE_TEXT = ['campaign', 'term', 'content'] as const

/** The touchpoint with its free-text fields scrubbed; the same object when none held anything. */
export async function scrubTouchpoint(
  tp: Touchpoint,
  rule: PiiValueRule,
  hash: PiiHasher | null,
): Promise<{ touchpoint: Touchpoint; found: string[] }> {
  let out = tp
  const found: string[] = []
  for (const field of FREE_TEXT) {
    const value = tp[field]
    if (value === null) continue
    const r = await scrubText(value, rule, hash)
    if (r.found.length === 0) continue
    found.push(field)
    out = { ...out, [field]: r.text }
  }
  return { touchpoint: out, found }
}

/**
 * Query parameters of `url` (any `utm_*`, in any case) whose value holds an email or phone
 * number, with the value the origin may see instead (null: remove the parameter).
 */
export async function utmParamsWithPii(
  url: URL,
  rule: PiiValueRule,
  hash: PiiHasher | null,
): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>()
  for (const [name, value] of url.searchParams) {
    if (!name.toLowerCase().startsWith('utm_') || out.has(name)) continue
    if (findPii(value, rule.detect).length === 0) continue
    out.set(name, (await scrubText(value, rule, hash)).text)
  }
  return out
}
