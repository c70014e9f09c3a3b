/**
 * Per-request consent resolution: `resolveConsent` (read signals -> decode -> resolve -> reasons ->
 * snapshot id) with the per-isolate decoding cache hit (the same cookie on every request of a
 * visit) and missed (a new string each time), against the IAB reference library's decode alone
 * (`@iabtechlabtcf/core` `TCString.decode`, no resolution) on the same TC string, in one run.
 *
 *   npx tsx bench/consent-resolve.ts
 */
import { TCString } from '@iabtechlabtcf/core'
import { consentInputFromRequest, resolveConsent } from '../worker/consent/signals'
import * as F from '../test/support/consent/tcf-fixtures'
import { bundledRules } from '../worker/rules'

// A realistic TC string: all ten purposes, ~1,000 of 1,400 vendors consented (bitfield), a
// DisclosedVendors segment, stamped yesterday so it is valid today.
let seed = 7
const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32
const vendors = Array.from({ length: 1400 }, (_, i) => i + 1).filter(() => random() < 0.7)
function tcAt(ms: number): string {
  const t = Math.floor(ms / 100) * 100
  return F.tcString(
    F.coreBits({
      created: t,
      lastUpdated: t,
      purposeConsents: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      vendorConsents: F.vendorBitfield(1400, vendors),
    }),
    F.vendorsSegment(1, F.vendorBitfield(1400, vendors)),
  )
}
const base = Date.now() - 86_400_000
const tc = tcAt(base)
const eu = { country: 'DE', region: null, source: 'cf' as const }
const ca = { country: 'US', region: 'CA', source: 'cf' as const }
const url = new URL('https://shop.example/product/lamp')
const now = new Date()

function time(label: string, n: number, fn: (i: number) => unknown): number {
  for (let i = 0; i < Math.min(n, 2000); i++) fn(i) // warm-up
  const t0 = performance.now()
  for (let i = 0; i < n; i++) fn(i)
  const us = ((performance.now() - t0) * 1000) / n
  console.log(`${label.padEnd(58)} ${us.toFixed(2).padStart(9)} µs/op`)
  return us
}

const cookies = new Map([['euconsent-v2', tc]])
const headers = new Headers()
const gpcHeaders = new Headers({ 'sec-gpc': '1' })
const uspCookies = new Map([
  ['usprivacy', '1YYN'],
  ['__gpp', 'DBABBg~BUYAAABg.QA'],
  ['__gpp_sid', '8'],
])
// 20,000 distinct strings (different LastUpdated), more than the cache holds, so every call misses.
const distinct = Array.from({ length: 20_000 }, (_, i) => tcAt(base - i * 1000))

console.log(`TC string: ${tc.length} characters, ${vendors.length} vendors\n`)
const hit = time('resolveConsent, EU, TC cookie (cache hit)', 50_000, () =>
  resolveConsent(consentInputFromRequest(headers, cookies, url), bundledRules, eu, now),
)
const miss = time('resolveConsent, EU, TC cookie (cache miss)', 20_000, (i) =>
  resolveConsent(
    consentInputFromRequest(headers, new Map([['euconsent-v2', distinct[i]!]]), url),
    bundledRules,
    eu,
    now,
  ),
)
time('resolveConsent, US-CA, GPP + USP + GPC (cache hit)', 50_000, () =>
  resolveConsent(consentInputFromRequest(gpcHeaders, uspCookies, url), bundledRules, ca, now),
)
time('resolveConsent, EU, no signal', 50_000, () =>
  resolveConsent(consentInputFromRequest(headers, new Map(), url), bundledRules, eu, now),
)
const ref = time('@iabtechlabtcf/core TCString.decode (decode only)', 5_000, () => TCString.decode(tc))
console.log(
  `\nreference decode / our full resolution: cache hit ${(ref / hit).toFixed(1)}x, cache miss ${(ref / miss).toFixed(1)}x`,
)
