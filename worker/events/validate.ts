/**
 * Validation of event batches (POST /v1/events, POST /v1/ingest/events). Pure: no Workers
 * imports, so it runs in Node for property tests and benchmarks.
 *
 * Each event is checked on its own: a bad event is rejected with errors naming its fields and
 * never costs the valid events of the same batch. Limits are exported so docs and tests agree.
 */
import type { StateEvent } from '../../durable-objects/customer/events'
import { checkShape } from '../lib/json-shape'
import type { FieldError } from '../lib/problem'
import { unknownKeys } from '../lib/unknown-keys'

export const LIMITS = {
  /** Events in one batch. */
  maxEvents: 100,
  /** Bytes of one request body. */
  maxBodyBytes: 256 * 1024,
  /** Bytes of one event's `props` as JSON. */
  maxPropsBytes: 8 * 1024,
  /** Keys in one event's `props` (top level). */
  maxPropsKeys: 64,
  /** Nesting depth of `props`. */
  maxPropsDepth: 4,
  /** Values (objects, arrays, scalars) in one event's `props`. */
  maxPropsValues: 2_000,
  /** How far in the future an event time may be (client clock skew). */
  maxFutureMs: 5 * 60_000,
  /** How old an event from a browser or app may be. */
  maxAgeMs: 7 * 86_400_000,
  /** How old an offline event (ingestion) may be. */
  maxIngestAgeMs: 400 * 86_400_000,
} as const

/** The keys of one event (a strict object). */
export const EVENT_KEYS = ['id', 'type', 'ts', 'props'] as const

export const EVENT_TYPE = /^[a-z][a-z0-9_]{0,63}$/
// uuid-ish: 8-128 characters of letters, digits and . _ : - (UUIDs, ULIDs, POS receipt numbers).
export const EVENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$/
// ISO 8601 / RFC 3339 date-time with an explicit offset (RFC 3339 section 5.6).
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i

export interface Rejected {
  index: number
  errors: FieldError[]
}

export interface ValidatedBatch {
  /** Valid events, each with its index in the request. Repeats of an id are kept once. */
  events: Array<StateEvent & { index: number }>
  rejected: Rejected[]
  /** Events repeated within the batch (same id and content): accepted, counted once. */
  repeats: number
}

export type BatchResult =
  | { ok: true; value: ValidatedBatch }
  | { ok: false; error: { reason: 'not_object' | 'no_events' | 'too_many'; path: string; message: string } }

/**
 * The limits of one event's `props`: keys, nesting (walked with an explicit stack, so a props
 * object nested thousands deep rejects this event only, never the batch or the call stack), values
 * and bytes. Pure.
 */
function propsErrors(props: Record<string, unknown>): FieldError[] {
  if (Object.keys(props).length > LIMITS.maxPropsKeys)
    return [{ path: 'props', message: `at most ${LIMITS.maxPropsKeys} keys` }]
  const shape = checkShape(props, { maxDepth: LIMITS.maxPropsDepth, maxNodes: LIMITS.maxPropsValues })
  if (!shape.ok) return [{ path: 'props', message: `${shape.error.message} (at props.${shape.error.path})` }]
  if (new TextEncoder().encode(JSON.stringify(props)).length > LIMITS.maxPropsBytes)
    return [{ path: 'props', message: `at most ${LIMITS.maxPropsBytes} bytes as JSON` }]
  return []
}

/** Validates one event. */
export function validateEvent(
  raw: unknown,
  now: number,
  maxAgeMs: number = LIMITS.maxAgeMs,
): { ok: true; value: StateEvent } | { ok: false; error: { reason: 'invalid'; errors: FieldError[] } } {
  const errors: FieldError[] = []
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    return {
      ok: false,
      error: { reason: 'invalid', errors: [{ path: '', message: 'expected an event object' }] },
    }
  }
  const e = raw as Record<string, unknown>
  errors.push(...unknownKeys(e, EVENT_KEYS))
  if (typeof e.id !== 'string') errors.push({ path: 'id', message: 'required: a string id (a UUID)' })
  else if (!EVENT_ID.test(e.id))
    errors.push({ path: 'id', message: 'expected 8-128 characters of letters, digits, ".", "_", ":" or "-"' })

  if (typeof e.type !== 'string')
    errors.push({ path: 'type', message: 'required: the event type, e.g. "add_to_cart"' })
  else if (!EVENT_TYPE.test(e.type))
    errors.push({
      path: 'type',
      message: 'expected lower-case letters, digits and "_", starting with a letter, at most 64',
    })

  let ts = NaN
  if (typeof e.ts !== 'string')
    errors.push({ path: 'ts', message: 'required: an ISO 8601 date-time with offset' })
  else if (!ISO_DATE_TIME.test(e.ts) || Number.isNaN((ts = Date.parse(e.ts))))
    errors.push({
      path: 'ts',
      message: 'expected an ISO 8601 date-time with offset, e.g. 2026-11-23T10:00:00Z',
    })
  else if (ts > now + LIMITS.maxFutureMs) errors.push({ path: 'ts', message: 'is in the future' })
  else if (ts < now - maxAgeMs)
    errors.push({ path: 'ts', message: `is older than ${Math.round(maxAgeMs / 86_400_000)} days` })

  let props: Record<string, unknown> = {}
  if (e.props !== undefined) {
    if (!e.props || typeof e.props !== 'object' || Array.isArray(e.props))
      errors.push({ path: 'props', message: 'expected an object' })
    else {
      props = e.props as Record<string, unknown>
      errors.push(...propsErrors(props))
    }
  }
  if (errors.length) return { ok: false, error: { reason: 'invalid', errors } }
  return { ok: true, value: { id: e.id as string, type: e.type as string, ts, props } }
}

/**
 * Validates `{ "events": [...] }`. Batch-level problems (not an object, no array, too many) fail
 * the whole request; event-level problems reject only that event.
 */
export function validateBatch(body: unknown, now: number, maxAgeMs: number = LIMITS.maxAgeMs): BatchResult {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, error: { reason: 'not_object', path: '', message: 'expected { "events": [...] }' } }
  }
  const list = (body as Record<string, unknown>).events
  if (!Array.isArray(list)) {
    return {
      ok: false,
      error: { reason: 'no_events', path: 'events', message: 'required: an array of events' },
    }
  }
  if (list.length > LIMITS.maxEvents) {
    return {
      ok: false,
      error: {
        reason: 'too_many',
        path: 'events',
        message: `at most ${LIMITS.maxEvents} events per request`,
      },
    }
  }
  const events: ValidatedBatch['events'] = []
  const rejected: Rejected[] = []
  const byId = new Map<string, { index: number; key: string }>()
  let repeats = 0
  list.forEach((raw, index) => {
    const r = validateEvent(raw, now, maxAgeMs)
    if (!r.ok) {
      rejected.push({ index, errors: r.error.errors })
      return
    }
    const key = `${r.value.type}|${r.value.ts}|${JSON.stringify(r.value.props)}`
    const first = byId.get(r.value.id)
    if (first) {
      // The same event sent twice is harmless; two different events under one id is a client bug.
      if (first.key === key) repeats++
      else
        rejected.push({
          index,
          errors: [
            {
              path: 'id',
              message: `already used by event ${first.index} of this batch with different content`,
            },
          ],
        })
      return
    }
    byId.set(r.value.id, { index, key })
    events.push({ ...r.value, index })
  })
  return { ok: true, value: { events, rejected, repeats } }
}

// Property names that carry raw identifiers: never stored in an event (an `identify` event's are
// used for stitching first, then dropped too).
const PII_PROP =
  /^(e_?mail|email_?address|phone|phone_?number|mobile|msisdn|first_?name|last_?name|full_?name|name|address|street|ip|ip_?address|password|token|ssn|iban|card_?number)$/i

/** `props` without raw-identifier fields, at any depth; `removed` lists their paths. Pure. */
export function scrubProps(props: Record<string, unknown>): {
  props: Record<string, unknown>
  removed: string[]
} {
  const removed: string[] = []
  const walk = (v: unknown, path: string): unknown => {
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}[${i}]`))
    if (!v || typeof v !== 'object') return v
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const p = path ? `${path}.${k}` : k
      if (PII_PROP.test(k)) removed.push(p)
      else out[k] = walk(x, p)
    }
    return out
  }
  return { props: walk(props, '') as Record<string, unknown>, removed }
}

/** Identifiers an `identify` event asserts (`props.email`, `props.phone`, `props.crm_id`). Pure. */
export function identifyIdentifiers(
  props: Record<string, unknown>,
): Array<{ type: 'email' | 'phone' | 'crm_id'; value: string }> {
  const out: Array<{ type: 'email' | 'phone' | 'crm_id'; value: string }> = []
  for (const type of ['email', 'phone', 'crm_id'] as const) {
    const v = props[type]
    if (typeof v === 'string' && v.trim() !== '' && v.length <= 256) out.push({ type, value: v })
  }
  return out
}
