/**
 * The `consentRecords` stage: hands a subject's resolved consent to their CustomerState when it
 * may have changed, which records it (proof of consent, GDPR Art. 7(1)) and cancels at once the
 * pending trigger timers it no longer covers (withdrawal, Art. 7(3)). Runs after identity on
 * every request with a state (pages, `/v1/events`, `/v1/decide`), and on the request where a
 * visitor withdraws storage consent while still presenting their signed id; the call is made in
 * the background within a time budget, never on the response's critical path.
 *
 * The hot path is one comparison: the record's fingerprint (./record.ts) against the last one
 * this isolate sent for the subject, remembered for `rememberMs`. Only a different fingerprint
 * (or none remembered) costs a call, and the object writes a row only when the fingerprint differs
 * from its last record, so one change is recorded once. A subject's consent changed through another
 * isolate is caught when the remembered entry expires.
 */
import type { MiddlewareHandler } from 'hono'
import { runInBackground } from '../context/background'
import type { AppEnv } from '../env'
import { cookieKeyRing, verifyAnonymousToken } from '../identity/cookie'
import { withBudget } from '../lib/budget'
import { bundledRules, type RuleSet } from '../rules'
import { consentEvidence } from './index'
import { planConsentRecord, worthRecording, type ConsentEvidence, type ConsentRecordInput } from './record'
import { Lru } from './signals'

export interface ConsentRecordsOptions {
  /** The compiled rule set (the identity cookie's name); defaults to the bundled one. */
  rules?: RuleSet
  /** Budget of the CustomerState call, ms. */
  budgetMs?: number
  /** How long this isolate trusts the fingerprint it last sent for a subject, ms. */
  rememberMs?: number
}

// Routes whose caller is a server or an operator, not the visitor whose consent this is.
const NOT_THE_VISITOR = ['/admin/', '/v1/ingest/', '/v1/decide/conversions']

const sent = new Lru<{ fingerprint: string; at: number }>(4096)

export const consentRecords = (opts: ConsentRecordsOptions = {}): MiddlewareHandler<AppEnv> => {
  const budgetMs = opts.budgetMs ?? 1_000
  const rememberMs = opts.rememberMs ?? 60_000
  const cookieName = (opts.rules ?? bundledRules).identity.cookie.name
  return async function consentRecords(c, next) {
    const consent = c.get('consent')
    const path = c.get('request')?.url.pathname ?? ''
    const stateKey = c.get('identity')?.stateKey ?? null
    // A visitor who withdraws storage is ephemeral on this very request (their id cookie is
    // expired), yet the signed id they still present proves their device: its anonymous state gets
    // the record and its timers stop. Only on this request, since the cookie is gone after it.
    const withdrawn =
      !stateKey && consent && !consent.purposes.storage
        ? c.get('request')?.cookies.get(cookieName)
        : undefined
    if (
      (stateKey || withdrawn) &&
      consent &&
      worthRecording(consent) &&
      !NOT_THE_VISITOR.some((p) => path.startsWith(p))
    ) {
      const plan = planConsentRecord(consent, consentEvidence(consent))
      const now = Date.now()
      const last = stateKey ? sent.get(stateKey) : undefined
      if (!last || last.fingerprint !== plan.fingerprint || now - last.at > rememberMs) {
        if (stateKey) sent.set(stateKey, { fingerprint: plan.fingerprint, at: now })
        const log = c.get('log')
        const work = (async () => {
          const key = stateKey ?? (await deviceStateKey(c.env?.COOKIE_KEYS, withdrawn!, now))
          if (!key) return
          const record: ConsentRecordInput = { ...plan.record, evidence: await hashed(plan.evidence) }
          const stub = c.env.CUSTOMER.get(c.env.CUSTOMER.idFromName(key))
          const r = await withBudget(() => stub.noteConsent(record), budgetMs, 'customer_state.noteConsent')
          if (!r.ok) {
            // Not remembered, so the next request tries again.
            if (stateKey) sent.set(stateKey, { fingerprint: '', at: 0 })
            log?.warn('consent_record_failed', { reason: r.error.reason, what: r.error.what })
          } else if (r.value.timersCancelled.length) {
            log?.info('consent_withdrawn_timers_cancelled', { triggers: r.value.timersCancelled })
          }
        })()
        runInBackground(c, work)
      }
    }
    await next()
  }
}

/** `a:<anonymous id>` of a signed id cookie that verifies with the gateway's keys, else null. */
async function deviceStateKey(
  keys: string | undefined,
  value: string,
  nowMs: number,
): Promise<string | null> {
  try {
    const r = await verifyAnonymousToken(await cookieKeyRing(keys), value, Math.floor(nowMs / 1000))
    return r.ok ? `a:${r.value.anonymousId}` : null
  } catch {
    // No usable keys: nothing was ever signed with them, so there is no device state to reach.
    return null
  }
}

const utf8 = new TextEncoder()

/** The evidence with a SHA-256 of each raw value in place of the value. */
async function hashed(
  evidence: ReturnType<typeof planConsentRecord>['evidence'],
): Promise<ConsentEvidence[]> {
  return Promise.all(
    evidence.map(async ({ evidence: e, raw }) => {
      if (raw === null) return { ...e }
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', utf8.encode(raw)))
      return { ...e, sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join('') }
    }),
  )
}
