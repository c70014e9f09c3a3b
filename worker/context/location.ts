/**
 * Where the visitor is, from `request.cf` (country, region code), with the development
 * override headers (docs/api.md "Development overrides"). Pure apart from reading the request.
 */

export interface Location {
  /** ISO 3166-1 alpha-2, upper case, or null when unknown. */
  country: string | null
  /** ISO 3166-2 subdivision code without the country prefix (e.g. `CA`), or null. */
  region: string | null
  /** Where the values came from. */
  source: 'cf' | 'override' | 'unknown'
}

const COUNTRY = /^[A-Z]{2}$/
const REGION = /^[A-Z0-9]{1,3}$/

function clean(value: unknown, pattern: RegExp): string | null {
  if (typeof value !== 'string') return null
  const v = value.trim().toUpperCase()
  // Cloudflare uses XX / T1 for unknown and Tor; neither is a jurisdiction.
  if (!pattern.test(v) || v === 'XX' || v === 'T1') return null
  return v
}

/**
 * Where the visitor is. In development, the override headers win, then `devLocation` (the
 * `DEV_LOCATION` variable of `.dev.vars`: `DE`, `US-CA`, or `unknown`), which replaces the
 * placeholder `request.cf` of `wrangler dev`; anything else than a country code there is unknown
 * (fail closed). Production reads `request.cf` only.
 */
export function locate(request: Request, development: boolean, devLocation?: string): Location {
  if (development) {
    const country = clean(request.headers.get('x-gatehouse-country'), COUNTRY)
    if (country) {
      return { country, region: clean(request.headers.get('x-gatehouse-region'), REGION), source: 'override' }
    }
    if (devLocation !== undefined) {
      const [cc, rr] = devLocation.split('-', 2)
      const devCountry = clean(cc, COUNTRY)
      if (!devCountry) return { country: null, region: null, source: 'unknown' }
      return { country: devCountry, region: clean(rr, REGION), source: 'override' }
    }
  }
  const cf = (request as Request & { cf?: { country?: unknown; regionCode?: unknown } }).cf
  const country = clean(cf?.country, COUNTRY)
  if (!country) return { country: null, region: null, source: 'unknown' }
  return { country, region: clean(cf?.regionCode, REGION), source: 'cf' }
}
