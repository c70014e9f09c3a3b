/**
 * The envelope of `POST /v1/ingest/events` around the event batch: whose events they are, where
 * they come from, and profile attributes asserted with them. Pure.
 *
 * ```json
 * { "subject": { "type": "email", "value": "ana@example.com" }, "source": "pos",
 *   "measurementConsent": false, "attributes": { "email_reachable": true },
 *   "events": [ { "id": "pos-2026-000123", "type": "purchase", "ts": "2026-11-23T10:00:00Z", "props": {} } ] }
 * ```
 */
import type { AttributeValue } from '../../durable-objects/customer/profile'
import type { FieldError } from '../lib/problem'
import { unknownKeys } from '../lib/unknown-keys'

/** The keys of the ingestion envelope and of its `subject` (strict objects). */
export const INGEST_KEYS = ['subject', 'source', 'measurementConsent', 'attributes', 'events'] as const
const SUBJECT_KEYS = ['type', 'value'] as const

export interface IngestEnvelope {
  subject: { type: 'customer_id' | 'email'; value: string }
  source: string
  measurement: boolean
  attributes: Array<{ name: string; value: AttributeValue }>
}

const ATTRIBUTE = /^[a-z][a-z0-9_]{0,63}$/
// Attributes hold facts about reachability and preferences, never raw identifiers.
const PII_NAME = /^(email|e_?mail|phone|msisdn|name|first_?name|last_?name|address|ip|birth_?date|dob)$/

export function parseIngestBody(
  body: unknown,
): { ok: true; value: IngestEnvelope } | { ok: false; error: { reason: 'invalid'; errors: FieldError[] } } {
  const errors: FieldError[] = []
  const b = (body && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Record<string, unknown>
  const subject = b.subject as Record<string, unknown> | undefined
  let parsedSubject: IngestEnvelope['subject'] | null = null
  if (!subject || typeof subject !== 'object')
    errors.push({ path: 'subject', message: 'required: { "type", "value" }' })
  else if (subject.type !== 'customer_id' && subject.type !== 'email')
    errors.push({ path: 'subject.type', message: 'expected "customer_id" or "email"' })
  else if (typeof subject.value !== 'string' || subject.value.trim() === '' || subject.value.length > 256)
    errors.push({ path: 'subject.value', message: 'expected a non-empty string of at most 256 characters' })
  else parsedSubject = { type: subject.type, value: subject.value.trim() }
  errors.push(...unknownKeys(subject, SUBJECT_KEYS, 'subject'))

  const source = b.source ?? 'ingest'
  if (typeof source !== 'string' || !/^[a-z][a-z0-9_]{0,31}$/.test(source))
    errors.push({
      path: 'source',
      message: 'expected a lower-case source name such as "pos" or "call_centre"',
    })

  const measurement = b.measurementConsent ?? false
  if (typeof measurement !== 'boolean')
    errors.push({ path: 'measurementConsent', message: 'expected true or false' })

  const attributes: IngestEnvelope['attributes'] = []
  if (b.attributes !== undefined) {
    if (!b.attributes || typeof b.attributes !== 'object' || Array.isArray(b.attributes))
      errors.push({ path: 'attributes', message: 'expected an object of name: value' })
    else {
      const entries = Object.entries(b.attributes as Record<string, unknown>)
      if (entries.length > 50) errors.push({ path: 'attributes', message: 'at most 50 attributes' })
      for (const [name, value] of entries.slice(0, 50)) {
        const path = `attributes.${name}`
        if (!ATTRIBUTE.test(name)) errors.push({ path, message: 'expected a lower-case name' })
        else if (PII_NAME.test(name))
          errors.push({ path, message: 'raw identifiers are not stored as attributes' })
        else if (
          !(
            value === null ||
            typeof value === 'boolean' ||
            (typeof value === 'number' && Number.isFinite(value))
          ) &&
          !(typeof value === 'string' && value.length <= 256)
        )
          errors.push({ path, message: 'expected a string (at most 256), number, boolean or null' })
        else attributes.push({ name, value: value as AttributeValue })
      }
    }
  }
  if (errors.length || !parsedSubject) return { ok: false, error: { reason: 'invalid', errors } }
  return {
    ok: true,
    value: {
      subject: parsedSubject,
      source: source as string,
      measurement: measurement as boolean,
      attributes,
    },
  }
}
