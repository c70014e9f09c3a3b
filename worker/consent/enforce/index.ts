/**
 * Consent enforcement on the wire, registered on the response hooks (worker/proxy/hooks.ts):
 * - origin request: `X-Gatehouse-Consent` set (a client-sent one is replaced, never trusted),
 *   request cookies without consent removed, `Sec-GPC` forwarded unchanged (GPC spec: an
 *   intermediary must not remove it);
 * - origin response: `Set-Cookie` lines without consent dropped, tags neutralised, Google Consent
 *   Mode defaults injected first in `<head>` (with the page's CSP nonce, or its hash added to the
 *   policy: worker/proxy/csp.ts).
 */
import type { ResponseHooks } from '../../proxy/hooks'
import type { RuleSet } from '../../rules'
import type { Consent } from '../types'
import { consentModeHooks } from './consent-mode'
import { cookieAllowed, cookieClass, filterCookieHeader, isDeletion } from './cookies'
import { CONSENT_HEADER, consentHeaderValue } from './header'
import { tagHooks } from './tags'

export interface EnforceRequest {
  url: URL
  /** The client's request headers, as received. */
  headers: Headers
}

export function enforceConsent(
  hooks: ResponseHooks,
  consent: Consent,
  rules: Pick<RuleSet, 'consent' | 'cookies' | 'tags'>,
  request: EnforceRequest,
): void {
  const allowed = (name: string) => cookieAllowed(cookieClass(name, rules.cookies), consent)
  const headerValue = consentHeaderValue(consent)
  const gpc = request.headers.get('sec-gpc')

  hooks.originHeaders.push(function consentOriginHeaders(headers) {
    headers.set(CONSENT_HEADER, headerValue)
    const cookie = headers.get('cookie')
    if (cookie) {
      const { value } = filterCookieHeader(cookie, allowed)
      if (value === null) headers.delete('cookie')
      else headers.set('cookie', value)
    }
    if (gpc !== null) headers.set('sec-gpc', gpc)
  })

  hooks.setCookie.push(function consentSetCookie(cookie) {
    return allowed(cookie.name) || isDeletion(cookie, Date.now())
  })

  // Consent Mode first: hooks run in registration order, and it must precede every tag.
  const before = hooks.html.length
  if (rules.consent.consentMode.enabled) hooks.html.push(...consentModeHooks(consent, hooks))
  hooks.html.push(...tagHooks(consent, rules.tags, request.url))
  // A page rewritten for this visitor's consent must never be served to another from a shared
  // cache. Hooks cannot see the response type, so a request that asks for HTML (a navigation) is
  // marked; images, scripts and API calls keep their origin caching.
  if (hooks.html.length > before && asksForHtml(request.headers)) hooks.personalised = true
}

function asksForHtml(headers: Headers): boolean {
  const dest = headers.get('sec-fetch-dest')
  if (dest === 'document' || dest === 'iframe') return true
  return (headers.get('accept') ?? '').includes('text/html')
}
