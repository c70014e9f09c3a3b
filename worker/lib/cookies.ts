/**
 * Cookie parsing (RFC 6265 section 5.4 for `Cookie`, 5.2 for `Set-Cookie`). Pure: no Workers imports.
 * Malformed pairs are skipped, never thrown on.
 */

/** Parses a `Cookie` request header into name -> value (first occurrence wins, as browsers send most specific first). */
export function parseCookieHeader(header: string | null | undefined): Map<string, string> {
  const jar = new Map<string, string>()
  if (!header) return jar
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq <= 0) continue
    const name = part.slice(0, eq).trim()
    if (!name || jar.has(name)) continue
    let value = part.slice(eq + 1).trim()
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    jar.set(name, value)
  }
  return jar
}

/** Serialises name -> value pairs back into a `Cookie` header value. */
export function serializeCookieHeader(jar: Iterable<[string, string]>): string {
  const parts: string[] = []
  for (const [name, value] of jar) parts.push(`${name}=${value}`)
  return parts.join('; ')
}

export interface SetCookie {
  name: string
  value: string
  /** Attributes in their original order, names as sent. */
  attributes: Array<[string, string | true]>
  /** The header line as received. */
  raw: string
}

/** Parses one `Set-Cookie` header line; returns null for a line without a cookie name. */
export function parseSetCookie(line: string): SetCookie | null {
  const [pair = '', ...attrs] = line.split(';')
  const eq = pair.indexOf('=')
  if (eq <= 0) return null
  const name = pair.slice(0, eq).trim()
  if (!name) return null
  const attributes: Array<[string, string | true]> = []
  for (const attr of attrs) {
    const i = attr.indexOf('=')
    const key = (i < 0 ? attr : attr.slice(0, i)).trim()
    if (!key) continue
    attributes.push([key, i < 0 ? true : attr.slice(i + 1).trim()])
  }
  return { name, value: pair.slice(eq + 1).trim(), attributes, raw: line }
}

export function serializeSetCookie(cookie: Omit<SetCookie, 'raw'>): string {
  let out = `${cookie.name}=${cookie.value}`
  for (const [key, value] of cookie.attributes) out += value === true ? `; ${key}` : `; ${key}=${value}`
  return out
}

export interface CookieOptions {
  maxAge?: number
  path?: string
  domain?: string
  httpOnly?: boolean
  secure?: boolean
  sameSite?: 'Lax' | 'Strict' | 'None'
}

/** Builds a `Set-Cookie` line for a cookie the gateway itself sets. */
export function buildSetCookie(name: string, value: string, opts: CookieOptions = {}): string {
  const attributes: Array<[string, string | true]> = [['Path', opts.path ?? '/']]
  if (opts.maxAge !== undefined) attributes.push(['Max-Age', String(Math.floor(opts.maxAge))])
  if (opts.domain) attributes.push(['Domain', opts.domain])
  if (opts.httpOnly ?? true) attributes.push(['HttpOnly', true])
  if (opts.secure ?? true) attributes.push(['Secure', true])
  attributes.push(['SameSite', opts.sameSite ?? 'Lax'])
  return serializeSetCookie({ name, value, attributes })
}
