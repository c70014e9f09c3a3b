/**
 * The `gh_cmp` cookie the consent bridge writes (./script.ts): the CMP's own TC or GPP string,
 * behind a version and a kind. Read on every request as one more TCF or GPP signal:
 *
 *   1~t~<TC string>                   from `__tcfapi`
 *   1~g~<section ids, _-joined>~<GPP string>   from `__gpp` (`-` for no applicable sections)
 *
 * Bounded and never throws: anything else (another version, characters outside the strings'
 * alphabet, over 4,000 characters) is `null`, read as no signal, so garbage grants nothing. What
 * a well-formed value grants is decided by the TCF and GPP decoders and the validity policy, as
 * for the CMP's own cookie. Pure: no Workers imports.
 */

export const BRIDGE_COOKIE = 'gh_cmp'

export type BridgeSignal = { kind: 'tcf'; value: string } | { kind: 'gpp'; value: string; sid: string | null }

const MAX_LENGTH = 4000
// base64url (TC strings, GPP sections) plus `.` (segments) and `~` (GPP sections).
const STRING = /^[A-Za-z0-9_.~-]+$/
const TCF = /^1~t~([A-Za-z0-9_.-]+)$/
const GPP = /^1~g~(-|\d{1,4}(?:_\d{1,4}){0,63})~([A-Za-z0-9_.~-]+)$/

/**
 * The signal a `gh_cmp` value carries, or null when it is not one the bridge writes.
 *
 * @example parseBridgeCookie('1~g~7~DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA') // { kind: 'gpp', sid: '7', ... }
 */
export function parseBridgeCookie(raw: string | undefined): BridgeSignal | null {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_LENGTH || !STRING.test(raw)) return null
  const t = TCF.exec(raw)
  if (t) return { kind: 'tcf', value: t[1]! }
  const g = GPP.exec(raw)
  if (g) return { kind: 'gpp', value: g[2]!, sid: g[1] === '-' ? null : g[1]! }
  return null
}
