/**
 * Google Consent Mode v2 defaults derived from the resolved consent, injected as the first child
 * of `<head>` so they run before any tag reads them (Google tag platform, "Set up consent mode":
 * the default command must run before any measurement command). Mapping (docs/consent.md):
 *
 *   ad_storage              storage and advertising
 *   ad_user_data            advertising, and no sale/share opt-out
 *   ad_personalization      advertising, and no sale/share opt-out
 *   analytics_storage       storage and measurement
 *   functionality_storage   storage
 *   personalization_storage storage and personalization
 *   security_storage        always granted (strictly necessary)
 */
import { nonceAttribute } from '../../proxy/csp'
import type { HtmlHook, ResponseHooks } from '../../proxy/hooks'
import type { Consent } from '../types'

type Flag = 'granted' | 'denied'

export interface ConsentModeDefaults {
  ad_storage: Flag
  ad_user_data: Flag
  ad_personalization: Flag
  analytics_storage: Flag
  functionality_storage: Flag
  personalization_storage: Flag
  security_storage: 'granted'
}

const flag = (v: boolean): Flag => (v ? 'granted' : 'denied')

export function consentModeDefaults(
  consent: Pick<Consent, 'purposes' | 'saleShareOptOut'>,
): ConsentModeDefaults {
  const { storage, measurement, personalization, advertising } = consent.purposes
  const ads = advertising && !consent.saleShareOptOut
  return {
    ad_storage: flag(storage && advertising),
    ad_user_data: flag(ads),
    ad_personalization: flag(ads),
    analytics_storage: flag(storage && measurement),
    functionality_storage: flag(storage),
    personalization_storage: flag(storage && personalization),
    security_storage: 'granted',
  }
}

/** The inline script's text; values are fixed words, so nothing from the request reaches the markup. */
export function consentModeScriptText(consent: Pick<Consent, 'purposes' | 'saleShareOptOut'>): string {
  const d = consentModeDefaults(consent)
  const args = (Object.keys(d) as Array<keyof ConsentModeDefaults>).map((k) => `${k}:'${d[k]}'`).join(',')
  return (
    'window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}' +
    `gtag('consent','default',{${args}})`
  )
}

/** The `<script>` element, with the page's CSP nonce when it has one (worker/proxy/csp.ts). */
export function consentModeScript(
  consent: Pick<Consent, 'purposes' | 'saleShareOptOut'>,
  nonce: string | null = null,
): string {
  return `<script${nonceAttribute(nonce)}>${consentModeScriptText(consent)}</script>`
}

/**
 * Prepends the Consent Mode script to the (first) `<head>`. A page without a `<head>` tag (the
 * parser implies one) gets it right before its first `<script>` instead, so it still runs first.
 *
 * With `hooks`, the script's text is registered in `hooks.inlineScripts` so the response stage can
 * fit the origin's Content-Security-Policy to it, and the element carries `hooks.scriptNonce`,
 * which that stage sets before the page is rewritten.
 */
export function consentModeHooks(
  consent: Pick<Consent, 'purposes' | 'saleShareOptOut'>,
  hooks?: Pick<ResponseHooks, 'inlineScripts' | 'scriptNonce'>,
): HtmlHook[] {
  const text = consentModeScriptText(consent)
  hooks?.inlineScripts.push(text)
  let done = false
  const script = () => {
    done = true
    return `<script${nonceAttribute(hooks?.scriptNonce ?? null)}>${text}</script>`
  }
  return [
    {
      selector: 'head',
      handler: {
        element(el) {
          if (done) return
          el.prepend(script(), { html: true })
        },
      },
    },
    {
      selector: 'script',
      handler: {
        element(el) {
          if (done) return
          el.before(script(), { html: true })
        },
      },
    },
  ]
}
