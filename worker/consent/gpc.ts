/**
 * Global Privacy Control (GPC specification, W3C Privacy CG): the `Sec-GPC` request header and the
 * `/.well-known/gpc.json` support resource. Pure: no Workers imports.
 */
import type { ConsentRules } from '../rules/concerns/consent'

/**
 * true when the request carries `Sec-GPC: 1`. GPC spec "The Sec-GPC Header Field": the only valid
 * value is exactly "1"; anything else means no preference was expressed. fetch joins repeated
 * header fields with ", ", so each comma-separated member is checked and any "1" wins.
 */
export function readGpcHeader(headers: Headers): boolean {
  const value = headers.get('sec-gpc')
  if (value === null) return false
  if (value === '1') return true
  return value.split(',').some((v) => v.trim() === '1')
}

/**
 * The GPC support resource body, or null when it is switched off. GPC spec "The GPC Support
 * Resource": `{ "gpc": true, "lastUpdate": "YYYY-MM-DD" }`, lastUpdate optional.
 */
export function gpcSupportResource(rules: ConsentRules): { gpc: true; lastUpdate?: string } | null {
  const { enabled, lastUpdate } = rules.gpcWellKnown
  if (!enabled) return null
  return lastUpdate ? { gpc: true, lastUpdate } : { gpc: true }
}
