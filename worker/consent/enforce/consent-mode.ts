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
import type { HtmlHook } from '../../proxy/hooks'
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

/** The inline script; values are fixed words, so nothing from the request reaches the markup. */
export function consentModeScript(consent: Pick<Consent, 'purposes' | 'saleShareOptOut'>): string {
  const d = consentModeDefaults(consent)
  const args = (Object.keys(d) as Array<keyof ConsentModeDefaults>).map((k) => `${k}:'${d[k]}'`).join(',')
  return (
    '<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}' +
    `gtag('consent','default',{${args}})</script>`
  )
}

/**
 * Prepends the Consent Mode script to the (first) `<head>`. A page without a `<head>` tag (the
 * parser implies one) gets it right before its first `<script>` instead, so it still runs first.
 */
export function consentModeHooks(consent: Pick<Consent, 'purposes' | 'saleShareOptOut'>): HtmlHook[] {
  const script = consentModeScript(consent)
  let done = false
  return [
    {
      selector: 'head',
      handler: {
        element(el) {
          if (done) return
          done = true
          el.prepend(script, { html: true })
        },
      },
    },
    {
      selector: 'script',
      handler: {
        element(el) {
          if (done) return
          done = true
          el.before(script, { html: true })
        },
      },
    },
  ]
}
