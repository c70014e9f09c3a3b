/**
 * Locale fallback chains (BCP 47, RFC 5646 section 4.4.2 "truncation"): content written for `de`
 * also serves `de-AT` and `de-CH`, so marketers do not duplicate it. Pure.
 */

/** Canonical case per RFC 5646 section 2.1.1: language lower, region upper, script title. */
export function canonicalLocale(tag: string): string | null {
  const parts = tag.trim().replace(/_/g, '-').split('-')
  if (!parts[0] || !/^[a-zA-Z]{2,8}$/.test(parts[0])) return null
  return parts
    .filter((p) => /^[a-zA-Z0-9]{1,8}$/.test(p))
    .map((p, i) => {
      if (i === 0) return p.toLowerCase()
      if (p.length === 2 && /^[a-zA-Z]+$/.test(p)) return p.toUpperCase()
      if (p.length === 4 && /^[a-zA-Z]+$/.test(p)) return p[0]!.toUpperCase() + p.slice(1).toLowerCase()
      return p.toLowerCase()
    })
    .join('-')
}

const chains = new WeakMap<Record<string, string[]>, Map<string, readonly string[]>>()
const NO_EXTRA: Record<string, string[]> = {}

/**
 * The lookup order for `locale`: the tag, then each truncation, then any extra fallbacks configured
 * for the language, then `default`. `fallbackChain('de-AT')` -> `['de-AT', 'de', 'default']`.
 */
export function fallbackChain(
  locale: string | null,
  extra: Record<string, string[]> = NO_EXTRA,
): readonly string[] {
  // Chains are asked for on every decision; there are few distinct locales, so keep them.
  let perExtra = chains.get(extra)
  if (!perExtra) chains.set(extra, (perExtra = new Map()))
  const key = locale ?? ''
  const hit = perExtra.get(key)
  if (hit) return hit
  const chain = buildChain(locale, extra)
  if (perExtra.size > 1000) perExtra.clear()
  perExtra.set(key, chain)
  return chain
}

function buildChain(locale: string | null, extra: Record<string, string[]>): string[] {
  const chain: string[] = []
  const push = (t: string) => {
    if (!chain.includes(t)) chain.push(t)
  }
  const tag = locale ? canonicalLocale(locale) : null
  if (tag) {
    const parts = tag.split('-')
    for (let n = parts.length; n > 0; n--) {
      const t = parts.slice(0, n).join('-')
      push(t)
      for (const f of extra[t] ?? []) {
        const c = canonicalLocale(f)
        if (c) push(c)
      }
    }
  }
  push('default')
  return chain
}

/** The first locale in the chain that `available` has, or null. */
export function pickLocale(
  locale: string | null,
  available: Record<string, unknown>,
  extra: Record<string, string[]> = NO_EXTRA,
): string | null {
  for (const t of fallbackChain(locale, extra)) if (Object.hasOwn(available, t)) return t
  return null
}

/** The first language range of an `Accept-Language` header (RFC 9110 section 12.5.4), by weight. */
export function preferredLocale(header: string | null | undefined): string | null {
  if (!header) return null
  let best: string | null = null
  let bestQ = -1
  for (const part of header.split(',').slice(0, 20)) {
    const [range, ...params] = part.trim().split(';')
    if (!range || range === '*') continue
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)).find(Boolean)
    const weight = q ? Number(q[1]) : 1
    if (weight > bestQ) {
      const c = canonicalLocale(range)
      if (c) {
        best = c
        bestQ = weight
      }
    }
  }
  return best
}
