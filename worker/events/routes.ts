/**
 * The event routes (docs/api.md "POST /v1/events"): browser and app events, offline events from
 * servers (`POST /v1/ingest/events`), and the beacon script (`GET /v1/beacon.js`).
 *
 * Events go to the person's CustomerState (`identity.stateKey`). With measurement consent they are
 * stored whole; without it only the minimum needed to honour suppressions and stop timers is kept
 * (docs/events.md). When the object does not answer within its budget the client gets 503 with
 * Retry-After and retries with the same ids (idempotent), so no event is lost silently.
 */
import { Hono, type Context } from 'hono'
import type { Purpose } from '../consent/types'
import type { AppEnv } from '../env'
import { identifierKey } from '../identity/keys'
import { withBudget } from '../lib/budget'
import { firstPartyOrigin } from '../lib/origin'
import { invalid, ProblemError, problemResponse, withHeaders, type FieldError } from '../lib/problem'
import type { RuleSet } from '../rules'
import { BEACON_SOURCE, BEACON_VERSION } from './beacon'
import { JSON_OR_BEACON_MEDIA, readJsonBody, unknownKeys } from '../lib/json-body'
import { requireIngestCredential } from './ingest-auth'
import { INGEST_KEYS, parseIngestBody, type IngestEnvelope } from './ingest-body'
import { minimumNecessaryTypes, recordEvents } from './store'
import { identifyIdentifiers, LIMITS, validateBatch, type ValidatedBatch } from './validate'
import { PII_HINT_KEY, piiHasher, scrubText } from '../privacy/pii-values'
import { scrubEvents } from './scrub'
import { attachAsserted, type AttachResult } from '../identity/stitch'
import { decisionService, executionWaitUntil } from '../decide/service'
import { banditConversions } from './conversions'
import { accountOutcomes } from '../experiments/accounting'
import { consentBlockErrors } from '../decide/body-consent'

export interface EventRoutesOptions {
  rules: RuleSet
  /** Budget of the CustomerState call, ms. */
  storeBudgetMs?: number
}

const NO_CONSENT: Record<Purpose, boolean> = {
  storage: false,
  measurement: false,
  personalization: false,
  advertising: false,
}

/** The batch's events as they may be stored: no raw identifiers by name or by value (./scrub.ts). */
async function storable(c: Context<AppEnv>, rules: RuleSet, batch: ValidatedBatch) {
  const r = await scrubEvents(batch.events, rules.privacy.piiValues, piiHasher(c.env?.ID_PEPPER))
  if (r.found.length) c.get('log')?.info('pii_values_scrubbed', { paths: r.found.slice(0, 20) })
  return r.events
}

/** Ingested profile attributes without raw emails or phone numbers in their string values. */
async function storableAttributes(
  c: Context<AppEnv>,
  rules: RuleSet,
  attributes: IngestEnvelope['attributes'],
): Promise<IngestEnvelope['attributes']> {
  const hash = piiHasher(c.env?.ID_PEPPER)
  const out: IngestEnvelope['attributes'] = []
  for (const a of attributes) {
    if (typeof a.value !== 'string') {
      out.push(a)
      continue
    }
    const r = await scrubText(a.value, rules.privacy.piiValues, hash, PII_HINT_KEY.test(a.name))
    if (r.found.length) c.get('log')?.info('pii_values_scrubbed', { paths: [`attributes.${a.name}`] })
    if (r.text !== null) out.push({ ...a, value: r.text })
  }
  return out
}

/** Seconds a client waits before retrying when the customer state did not answer. */
export const RETRY_AFTER_SECONDS = 2

/** Top-level keys of a `POST /v1/events` body (strict object; the ingest envelope's are in ./ingest-body.ts). */
const EVENTS_KEYS = ['events', 'consent'] as const

/** The body of an events route: bounded (413), JSON (400), nested at most 32 levels (400). */
export function readEventsBody(req: Request): Promise<unknown> {
  return readJsonBody(req, { limit: LIMITS.maxBodyBytes, media: JSON_OR_BEACON_MEDIA })
}

function batchOrThrow(
  body: unknown,
  now: number,
  maxAgeMs: number,
  allowedKeys: readonly string[],
): ValidatedBatch {
  const batch = validateBatch(body, now, maxAgeMs)
  const unknown = unknownKeys(body, allowedKeys)
  if (batch.ok) {
    if (unknown.length) throw invalid(unknown, 'The body has fields this route does not know.')
    return batch.value
  }
  const { reason, path, message } = batch.error
  switch (reason) {
    case 'too_many':
      throw new ProblemError(413, 'Payload too large', message, [{ path, message }])
    case 'not_object':
    case 'no_events':
      throw invalid([{ path, message }, ...unknown])
  }
}

function unavailable(c: Context<AppEnv>, what: string, error: unknown): Response {
  c.get('log')?.warn('events_store_unavailable', { what, error })
  return problemResponse(
    {
      type: 'https://gatehouse.dev/problems/state-unavailable',
      title: 'Service unavailable',
      status: 503,
      detail: 'The events could not be stored now. Retry with the same event ids; they are idempotent.',
    },
    { 'retry-after': String(RETRY_AFTER_SECONDS) },
  )
}

export const eventRoutes = (opts: EventRoutesOptions): Hono<AppEnv> => {
  const app = new Hono<AppEnv>()
  const keepWithoutConsent = minimumNecessaryTypes(opts.rules)

  app.post('/events', async function postEvents(c) {
    // First-party only: a browser posting from another site is refused (apps send no Origin).
    if (!firstPartyOrigin(c.req.header('origin'), new URL(c.req.url).host)) {
      throw new ProblemError(403, 'Forbidden', 'Events are accepted from this site only.', [
        { path: 'Origin', message: 'must be this site' },
      ])
    }
    const now = Date.now()
    const body = await readEventsBody(c.req.raw)
    // The body's consent block was resolved before identity (worker/decide/body-consent.ts).
    const consentErrors = consentBlockErrors(body)
    if (consentErrors.length) throw invalid(consentErrors)
    const batch = batchOrThrow(body, now, LIMITS.maxAgeMs, EVENTS_KEYS)
    const purposes = c.get('consent')?.purposes ?? NO_CONSENT
    const stateKey = c.get('identity')?.stateKey ?? null
    const head = { accepted: batch.events.length + batch.repeats, rejected: batch.rejected }
    const notStored = (reason: string) =>
      c.json({ ...head, duplicates: batch.repeats, stored: false, reason }, 202)

    if (batch.events.length === 0) return notStored('no_valid_events')
    // An ephemeral or unconsented visitor has no state object: nothing is kept about them.
    if (!stateKey) return notStored('no_customer_state')
    if (!purposes.measurement && !batch.events.some((e) => keepWithoutConsent.has(e.type))) {
      return notStored('no_measurement_consent')
    }
    // `identify` events attach the identifiers they carry to this visitor's own state (never a link).
    const identified = await identify(c, batch)
    const r = await recordEvents(
      c.env,
      {
        stateKey,
        source: c.get('identity')?.basis === 'jwt' ? 'app' : 'web',
        purposes,
        events: await storable(c, opts.rules, batch),
        consentFromVisitor: true,
      },
      opts.storeBudgetMs,
    )
    if (!r.ok) return unavailable(c, r.error.what, r.error)
    // An erased person (DSAR) is not re-created by a late event: accepted, so the client stops, not stored.
    if (r.value.erased) return notStored('subject_erased')
    // Outcomes attributed to experiment exposures (once per event id, inside the state) go to the counters.
    accountOutcomes(c, opts.rules, stateKey, r.value.experiments, executionWaitUntil(c))
    countConversions(c, opts.rules, batch.events, {
      duplicates: r.value.duplicates,
      measurement: purposes.measurement,
    })
    return c.json(
      {
        ...head,
        duplicates: batch.repeats + r.value.duplicates,
        stored: r.value.stored + r.value.minimal > 0,
        storage: purposes.measurement ? 'full' : 'minimal',
        ...(identified ? { identified } : {}),
      },
      202,
    )
  })

  app.post('/ingest/events', async function ingestEvents(c) {
    const auth = await requireIngestCredential(c)
    const now = Date.now()
    const body = await readEventsBody(c.req.raw)
    const parsed = parseIngestBody(body)
    if (!parsed.ok) throw invalid([...parsed.error.errors, ...unknownKeys(body, INGEST_KEYS)])
    const batch = batchOrThrow(body, now, LIMITS.maxIngestAgeMs, INGEST_KEYS)
    const { subject, source, attributes, measurement } = parsed.value

    const stateKey = await resolveStateKey(c, subject)
    if (stateKey === null) {
      throw new ProblemError(404, 'Unknown subject', 'No customer is linked to this identifier.', [
        { path: 'subject.value', message: 'not linked to a customer' },
      ])
    }
    const r = await recordEvents(
      c.env,
      {
        stateKey,
        source,
        purposes: { ...NO_CONSENT, measurement },
        events: await storable(c, opts.rules, batch),
        attributes: (await storableAttributes(c, opts.rules, attributes)).map((a) => ({
          ...a,
          source,
          at: now,
        })),
      },
      opts.storeBudgetMs,
    )
    if (!r.ok) return unavailable(c, r.error.what, r.error)
    c.get('log')?.info('ingest_events', { keyId: auth.keyId, events: batch.events.length, source })
    accountOutcomes(c, opts.rules, stateKey, r.value.experiments, executionWaitUntil(c))
    if (r.value.erased) {
      // The subject was erased (DSAR): the sender learns it, and nothing about them is stored again.
      return c.json(
        {
          accepted: batch.events.length + batch.repeats,
          rejected: batch.rejected,
          duplicates: batch.repeats,
          stored: false,
          reason: 'subject_erased',
        },
        202,
      )
    }
    return c.json(
      {
        accepted: batch.events.length + batch.repeats,
        rejected: batch.rejected,
        duplicates: batch.repeats + r.value.duplicates,
        stored: r.value.stored + r.value.minimal > 0,
        storage: measurement ? 'full' : 'minimal',
        suppressed: r.value.suppressed,
        timersCancelled: r.value.timersCancelled,
      },
      202,
    )
  })

  app.get('/beacon.js', function beacon(c) {
    // A versioned URL is immutable; the bare URL is revalidated often so a new version spreads.
    const versioned = c.req.query('v') === BEACON_VERSION
    return c.body(BEACON_SOURCE, 200, {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': versioned ? 'public, max-age=31536000, immutable' : 'public, max-age=300',
      etag: `"${BEACON_VERSION}"`,
      'x-content-type-options': 'nosniff',
    })
  })

  return app
}

/**
 * Bandit conversions the events carry (./conversions.ts), counted through the decide service's
 * batched experiment statistics exactly as `POST /v1/decide/conversions` counts them. Only with
 * measurement consent (a conversion rate is measurement), and only when every event was new to the
 * customer state: a client retrying a batch with the same ids must not count twice, and the state
 * reports duplicates by number, not by id, so a partly repeated batch counts nothing (logged).
 */
function countConversions(
  c: Context<AppEnv>,
  rules: RuleSet,
  events: ValidatedBatch['events'],
  seen: { duplicates: number; measurement: boolean },
): void {
  const conversions = banditConversions(rules.experiments, events)
  if (conversions.length === 0 || !seen.measurement) return
  if (seen.duplicates > 0) {
    c.get('log')?.info('bandit_conversions_skipped', {
      reason: 'repeated_events',
      conversions: conversions.length,
    })
    return
  }
  const svc = decisionService(rules)
  for (const x of conversions) svc.stats.count(x.experiment, x.arm, 'conversion')
  executionWaitUntil(c)(svc.stats.flush(c.env?.EXPERIMENT))
}

/**
 * Attaches the identifiers of `identify` events (email, phone, crm_id in props) to the caller's own
 * state: a browser's or app's assertion is not proof, so it never links to, reads or merges another
 * subject, and the answer is the same whether or not anyone else holds the identifier
 * (docs/identity.md "Trust model"). Raw values are never stored: props are scrubbed before the
 * events reach the state. Null when the batch has none; a state that does not answer is reported.
 */
async function identify(c: Context<AppEnv>, batch: ValidatedBatch): Promise<AttachResult | null> {
  const identifiers = batch.events
    .filter((e) => e.type === 'identify')
    .flatMap((e) => identifyIdentifiers(e.props))
  const stateKey = c.get('identity')?.stateKey
  if (identifiers.length === 0 || !stateKey) return null
  const r = await attachAsserted(c.env, { stateKey, identifiers })
  if (!r.complete) c.get('log')?.warn('identify_incomplete', { attached: r.attached })
  return r
}

/** The CustomerState name for an ingestion subject: `c:<id>` directly, an email via its identity link. */
async function resolveStateKey(
  c: Context<AppEnv>,
  subject: { type: 'customer_id' | 'email'; value: string },
): Promise<string | null> {
  if (subject.type === 'customer_id') return `c:${subject.value}`
  let key: string | null
  try {
    key = await identifierKey('email', subject.value, c.env.ID_PEPPER)
  } catch {
    throw new ProblemError(
      503,
      'Service unavailable',
      'Email identifiers cannot be resolved: no pepper is configured.',
    )
  }
  if (key === null) throw invalid([{ path: 'subject.value', message: 'not an email address' }])
  const stub = c.env.IDENTITY.get(c.env.IDENTITY.idFromName(key))
  const link = await withBudget(() => stub.lookup(key), 1_000, 'identity_index.lookup')
  if (!link.ok) {
    throw withHeaders(
      new ProblemError(503, 'Service unavailable', 'The identity index did not answer; retry later.'),
      { 'retry-after': String(RETRY_AFTER_SECONDS) },
    )
  }
  return link.value?.stateKey ?? null
}

export type { FieldError }
