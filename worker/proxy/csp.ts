/**
 * Content-Security-Policy for the scripts the gateway injects into proxied HTML (the Consent Mode
 * defaults, inline; the beacon, external and same-origin). A site whose CSP allows scripts by
 * nonce or hash would otherwise have the browser block them. Given the origin's policies and the
 * injected scripts, this works out the nonce to put on the injected `<script>` elements (the
 * page's own, reused) and the smallest change to each policy that lets them run:
 *
 * - a policy that does not restrict script elements is left as it is;
 * - an inline script already allowed (by the reused nonce, a listed hash, or 'unsafe-inline' in
 *   effect) changes nothing; otherwise its `'sha256-…'` is added to the directive that governs
 *   script elements. Never 'unsafe-inline', and never a hash where 'unsafe-inline' is in effect
 *   (a hash there would switch it off and break the site's own inline scripts). When that
 *   directive is `default-src`, a `script-src` copy of it gets the hash, so styles and other
 *   resource types keep exactly the rules they had;
 * - an external script allowed neither by the nonce nor (without 'strict-dynamic') by the
 *   policy's URL sources is reported as blocked; the policy is left alone ('self' is never added).
 *
 * `Content-Security-Policy-Report-Only` is handled the same way, so the injected scripts do not
 * fill the site's reports. A policy in a `<meta http-equiv="Content-Security-Policy">` element
 * governs only what the page loads after it (CSP3 "meta element"): the Consent Mode script, first
 * in `<head>`, runs before any such element, and an external script appended at the end of
 * `<head>` is checked against the ones before it (`fitAfterMeta`). Pure: no Workers imports
 * (`node:crypto` is in workerd with nodejs_compat, and hashing has to be synchronous inside the
 * response stage).
 *
 * Spec: W3C Content Security Policy Level 3 ("CSP3" below).
 */
import { createHash } from 'node:crypto'

/** The scripts the HTML hooks inject. */
export interface InjectedScripts {
  /** Each inline script's text, exactly as written between `<script>` and `</script>`. */
  inline: readonly string[]
  /** Each external script's `src` as written (resolved against the page URL). */
  external: readonly string[]
}

/** The origin's policy header values (repeated headers joined with `, `), null when absent. */
export interface CspHeaders {
  enforce: string | null
  reportOnly: string | null
}

export type CspDisposition = 'enforce' | 'report'

export interface CspPlan {
  /** The nonce every injected `<script>` carries, or null for none. */
  nonce: string | null
  /** The header values to send: the input itself when nothing had to change. */
  enforce: string | null
  reportOnly: string | null
  /** External scripts a policy does not allow (src as given), with that policy's disposition. */
  blocked: Array<{ src: string; disposition: CspDisposition }>
}

// CSP3 "nonce-source" and "hash-source": base64-value = 1*( ALPHA / DIGIT / "+" / "/" / "-" / "_" ) *2"=".
// The quoted prefixes are ABNF literals, so case-insensitive; the value is compared as written.
const BASE64_VALUE = /^[A-Za-z0-9+/_-]+={0,2}$/
const NONCE_SOURCE = /^'nonce-([A-Za-z0-9+/_-]+={0,2})'$/i
const HASH_SOURCE = /^'(sha256|sha384|sha512)-([A-Za-z0-9+/_-]+={0,2})'$/i
const SCHEME_SOURCE = /^([a-z][a-z0-9+.-]*):$/i
// CSP3 "host-source": [ scheme "://" ] host [ ":" port ] [ path ].
const HOST_SOURCE =
  /^(?:([a-z][a-z0-9+.-]*):\/\/)?(\*|(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::(\d+|\*))?(\/[^?#]*)?$/i
// CSP3 "directive-name": 1*( ALPHA / DIGIT / "-" ).
const DIRECTIVE_NAME = /^[a-z0-9-]+$/

/** Whether a value may be used as a nonce: base64 or base64url characters only (CSP3 base64-value). */
export function isNonce(value: string): boolean {
  return BASE64_VALUE.test(value)
}

/**
 * ` nonce="…"` for an injected `<script>` start tag, or '' without a (valid) nonce. The value is
 * checked against the base64 alphabet and attribute-escaped all the same.
 *
 * @example `<script${nonceAttribute('r4nd0m')}>` // '<script nonce="r4nd0m">'
 */
export function nonceAttribute(nonce: string | null): string {
  if (nonce === null || !isNonce(nonce)) return ''
  return ` nonce="${nonce.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}"`
}

// The same few inline scripts (one Consent Mode script per consent state) are hashed on every
// page of a CSP site: remember their digests, within a bound.
const digests = new Map<string, string>()
const DIGESTS_MAX = 64

/** CSP3 hash-source of a script's text: SHA-256 over its UTF-8 bytes, base64. */
export function scriptHash(text: string): string {
  let digest = digests.get(text)
  if (digest === undefined) {
    digest = createHash('sha256').update(text, 'utf8').digest('base64')
    if (digests.size >= DIGESTS_MAX) digests.clear()
    digests.set(text, digest)
  }
  return `'sha256-${digest}'`
}

interface Directive {
  name: string
  /** The source expressions, as written. */
  sources: string[]
  /** Index of the directive's token in the policy's `;`-separated tokens. */
  token: number
}

interface Policy {
  raw: string
  tokens: string[]
  /** First occurrence of each directive name (CSP3 ignores later duplicates). */
  directives: Map<string, Directive>
}

/** CSP3 "parse a serialized CSP": `;`-separated directives, names lower-cased, first one wins. */
function parsePolicy(raw: string): Policy {
  const tokens = raw.split(';')
  const directives = new Map<string, Directive>()
  tokens.forEach((token, index) => {
    const parts = token.split(/[\t\n\f\r ]+/).filter((p) => p !== '')
    if (parts.length === 0) return
    const name = parts[0]!.toLowerCase()
    if (!DIRECTIVE_NAME.test(name) || directives.has(name)) return
    directives.set(name, { name, sources: parts.slice(1), token: index })
  })
  return { raw, tokens, directives }
}

// CSP3 "Get the effective directive for request" / "directive fallback list" for script elements.
const SCRIPT_ELEMENT_FALLBACK = ['script-src-elem', 'script-src', 'default-src'] as const

function scriptDirective(policy: Policy): Directive | null {
  for (const name of SCRIPT_ELEMENT_FALLBACK) {
    const d = policy.directives.get(name)
    if (d) return d
  }
  return null
}

const keyword = (source: string) => source.toLowerCase()

/**
 * CSP3 "Does a source list allow all inline behavior for type?" (type "script"): 'unsafe-inline'
 * counts only when no nonce-source, hash-source or 'strict-dynamic' is listed beside it.
 */
function allowsAllInline(sources: readonly string[]): boolean {
  let unsafeInline = false
  for (const s of sources) {
    if (NONCE_SOURCE.test(s) || HASH_SOURCE.test(s)) return false
    const k = keyword(s)
    if (k === "'strict-dynamic'") return false
    if (k === "'unsafe-inline'") unsafeInline = true
  }
  return unsafeInline
}

function listsNonce(sources: readonly string[], nonce: string): boolean {
  return sources.some((s) => NONCE_SOURCE.exec(s)?.[1] === nonce)
}

// Hash values may be written in base64url; compare in base64.
const toBase64 = (v: string) => v.replace(/-/g, '+').replace(/_/g, '/')

function listsHash(sources: readonly string[], hash: string): boolean {
  const want = toBase64(hash.slice("'sha256-".length, -1))
  return sources.some((s) => {
    const m = HASH_SOURCE.exec(s)
    return m !== null && m[1]!.toLowerCase() === 'sha256' && toBase64(m[2]!) === want
  })
}

/** The nonce-sources of a list, valid ones only. */
function nonces(sources: readonly string[]): string[] {
  const out: string[] = []
  for (const s of sources) {
    const m = NONCE_SOURCE.exec(s)
    if (m) out.push(m[1]!)
  }
  return out
}

const DEFAULT_PORT: Record<string, string> = { http: '80', https: '443', ws: '80', wss: '443' }

// CSP3 "scheme-part match": equal, or the secure form of the expression's scheme.
function schemeMatches(expression: string, url: string): boolean {
  const a = expression.toLowerCase()
  if (a === url) return true
  if (a === 'http') return url === 'https'
  if (a === 'ws') return url === 'wss' || url === 'http' || url === 'https'
  if (a === 'wss') return url === 'https'
  return false
}

/**
 * CSP3 "Does url match expression in origin with redirect count?" for one expression; nonces
 * and hashes never match a URL.
 */
function urlMatches(expression: string, url: URL, page: URL): boolean {
  const scheme = url.protocol.slice(0, -1)
  const k = keyword(expression)
  if (k === '*') return scheme === 'http' || scheme === 'https' || url.protocol === page.protocol
  if (k === "'self'") {
    if (url.origin === page.origin) return true
    // Same host, same (or both default) port, and not a downgrade.
    return (
      url.hostname === page.hostname &&
      url.port === page.port &&
      (scheme === 'https' ||
        scheme === 'wss' ||
        (page.protocol === 'http:' && (scheme === 'http' || scheme === 'ws')))
    )
  }
  const schemeSource = SCHEME_SOURCE.exec(expression)
  if (schemeSource) return schemeMatches(schemeSource[1]!, scheme)
  const host = HOST_SOURCE.exec(expression)
  if (!host) return false
  const [, exprScheme, exprHost, exprPort, exprPath] = host
  if (!schemeMatches(exprScheme ?? page.protocol.slice(0, -1), scheme)) return false
  // "host-part match": a leading `*` matches any labels before the rest (not the bare domain).
  const h = exprHost!.toLowerCase()
  if (h.startsWith('*') ? !url.hostname.endsWith(h.slice(1)) : url.hostname !== h) return false
  // "port-part match": no port means the URL's default one; `*` any.
  if (exprPort !== '*') {
    const matches =
      exprPort === undefined
        ? url.port === ''
        : url.port === exprPort || (url.port === '' && DEFAULT_PORT[scheme] === exprPort)
    if (!matches) return false
  }
  // "path-part match": a path ending in `/` is a prefix, any other must match exactly.
  if (exprPath && exprPath !== '/') {
    const path = decodeOr(url.pathname)
    const want = decodeOr(exprPath)
    return want.endsWith('/') ? path.startsWith(want) : path === want
  }
  return true
}

function decodeOr(path: string): string {
  try {
    return decodeURIComponent(path)
  } catch {
    return path
  }
}

/**
 * CSP3 "script-src pre-request check" for a parser-inserted `<script src>`: the nonce, else (unless
 * 'strict-dynamic' discards URL sources) a matching URL source. A lone 'none' matches nothing.
 */
function allowsExternal(sources: readonly string[], nonce: string | null, url: URL, page: URL): boolean {
  if (nonce !== null && listsNonce(sources, nonce)) return true
  if (sources.some((s) => keyword(s) === "'strict-dynamic'")) return false
  return sources.some((s) => urlMatches(s, url, page))
}

/**
 * The policy with hashes added to its script-element directive, other directives verbatim. A
 * `default-src` is not touched (it also governs styles, fonts, ...): a `script-src` copy of it
 * with the hashes is appended, which changes the rules for scripts only.
 */
function withHashes(policy: Policy, directive: Directive, hashes: string[]): string {
  // A lone 'none' beside other sources would be ignored with a console warning: replace it.
  const lone = directive.sources.length === 1 && keyword(directive.sources[0]!) === "'none'"
  const sources = [...(lone ? [] : directive.sources), ...hashes].join(' ')
  const tokens = policy.tokens.map((t, i) =>
    i === directive.token && directive.name !== 'default-src' ? `${directive.name} ${sources}` : t.trim(),
  )
  if (directive.name === 'default-src') tokens.push(`script-src ${sources}`)
  return tokens.filter((t) => t !== '').join('; ')
}

/**
 * The nonce and the policy values that let the injected scripts run (see the module comment).
 *
 * @example
 * planScripts({ enforce: "script-src 'nonce-abc'", reportOnly: null },
 *   { inline: ['gtag()'], external: ['/v1/beacon.js'] }, new URL('https://shop.example/'))
 * // { nonce: 'abc', enforce: "script-src 'nonce-abc'", reportOnly: null, blocked: [] }
 */
export function planScripts(headers: CspHeaders, scripts: InjectedScripts, page: URL): CspPlan {
  const sets = (['enforce', 'report'] as const).map((disposition) => {
    const value = disposition === 'enforce' ? headers.enforce : headers.reportOnly
    // CSP3 "parse a response's Content Security Policies": one policy per comma-separated value.
    const policies = value === null ? [] : value.split(',').map(parsePolicy)
    return { disposition, value, policies }
  })

  // One nonce attribute per element: the first the pages' script policies list (enforced first).
  // Policies listing another nonce, or none, get hashes instead.
  const nonce =
    sets
      .flatMap((set) => set.policies)
      .map((p) => nonces(scriptDirective(p)?.sources ?? [])[0])
      .find((n) => n !== undefined) ?? null

  const blocked: CspPlan['blocked'] = []
  const external = scripts.external.map((src) => ({ src, url: safeUrl(src, page) }))
  const out = sets.map((set) => {
    let changed = false
    const values = set.policies.map((policy) => {
      const directive = scriptDirective(policy)
      if (!directive) return policy.raw
      const { sources } = directive
      for (const e of external) {
        if (e.url && allowsExternal(sources, nonce, e.url, page)) continue
        if (!blocked.some((b) => b.src === e.src && b.disposition === set.disposition))
          blocked.push({ src: e.src, disposition: set.disposition })
      }
      if (allowsAllInline(sources)) return policy.raw
      if (nonce !== null && listsNonce(sources, nonce)) return policy.raw
      const hashes: string[] = []
      for (const text of scripts.inline) {
        const hash = scriptHash(text)
        if (!listsHash(sources, hash) && !hashes.includes(hash)) hashes.push(hash)
      }
      if (hashes.length === 0) return policy.raw
      changed = true
      return withHashes(policy, directive, hashes)
    })
    // An empty policy (a stray comma) has no directives; CSP3 drops it, and so does the rewrite.
    return changed
      ? values
          .map((v) => v.trim())
          .filter((v) => v !== '')
          .join(', ')
      : set.value
  })
  return { nonce, enforce: out[0]!, reportOnly: out[1]!, blocked }
}

/**
 * The nonce an external script appended after `<meta http-equiv="Content-Security-Policy">`
 * elements carries so that every one of their `policies` lets it load, or null when one would
 * block it (such policies are always enforced; CSP3 ignores Report-Only in `<meta>`). `nonce` is
 * the one the headers' plan chose (an element has one nonce); without it, the first nonce the
 * meta policies list. A policy not governing script elements allows it.
 *
 * @example
 * fitAfterMeta(["script-src 'nonce-abc'"], '/v1/beacon.js', null, new URL('https://shop.example/'))
 * // { nonce: 'abc' }
 */
export function fitAfterMeta(
  policies: readonly string[],
  src: string,
  nonce: string | null,
  page: URL,
): { nonce: string | null } | null {
  // A <meta> element holds one serialized policy, not a comma-separated list (CSP3 "meta element").
  const parsed = policies.map(parsePolicy)
  const chosen =
    nonce ??
    parsed.map((p) => nonces(scriptDirective(p)?.sources ?? [])[0]).find((n) => n !== undefined) ??
    null
  const url = safeUrl(src, page)
  if (url === null) return null
  for (const policy of parsed) {
    const directive = scriptDirective(policy)
    if (directive && !allowsExternal(directive.sources, chosen, url, page)) return null
  }
  return { nonce: chosen }
}

function safeUrl(src: string, page: URL): URL | null {
  try {
    return new URL(src, page)
  } catch {
    return null
  }
}
