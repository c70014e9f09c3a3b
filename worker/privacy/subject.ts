/**
 * A data subject as the privacy operations see it: every key under which the gateway may hold
 * something about one person, found from any one of their identifiers.
 *
 * `resolveSubject` (worker/identity) follows identity links (email/phone/customer id/anonymous id
 * -> customer -> every linked identifier and state key). This module turns its answer into the
 * lists each store is erased or exported by, and validates the DSAR request body.
 */
import type { Env } from '../env'
import { identifierKey, type IdentifierType } from '../identity/keys'
import type { FieldError } from '../lib/problem'
import type { Result } from '../lib/result'
import { unknownKeys } from '../lib/unknown-keys'
import { subjectDigest } from './tombstone'

export const DSAR_IDENTIFIER_TYPES = ['customer_id', 'email', 'phone', 'anonymous_id'] as const
export type DsarIdentifierType = (typeof DSAR_IDENTIFIER_TYPES)[number]

export interface SubjectIdentifier {
  type: DsarIdentifierType
  value: string
}

/** Everything a DSAR must reach for one person (worker/identity's `Subject` is what resolving finds). */
export interface DsarSubject {
  /** Pseudonymous digest (`sub_<hex>`): what receipts and the audit log name. */
  digest: string
  /** CustomerState object names: `c:<customerId>`, `a:<anonymousId>`. */
  stateKeys: string[]
  /** IdentityIndex object names: `customer_id:<id>`, `email:<hmac>`, `anonymous_id:<id>`, ... */
  identifierKeys: string[]
  /** Ids as they appear in decision records. */
  customerIds: string[]
  anonymousIds: string[]
}

/** What identity's resolver returns (worker/identity). */
export interface ResolvedKeys {
  customerId: string | null
  stateKeys: string[]
  identifierKeys: string[]
}

export type Resolver = (
  env: Env,
  identifier: { type: IdentifierType; value: string },
) => Promise<ResolvedKeys>

export type BodyResult = Result<SubjectIdentifier, { reason: 'invalid'; errors: FieldError[] }>

/** Validates `{ "identifier": { "type": ..., "value": ... } }` (docs/api.md). Pure. */
export function parseSubjectBody(body: unknown): BodyResult {
  const fail = (path: string, message: string): BodyResult => ({
    ok: false,
    error: { reason: 'invalid', errors: [{ path, message }] },
  })
  if (!body || typeof body !== 'object' || Array.isArray(body)) return fail('', 'expected a JSON object')
  const identifier = (body as Record<string, unknown>).identifier
  if (!identifier || typeof identifier !== 'object' || Array.isArray(identifier)) {
    return fail('identifier', 'expected { "type": ..., "value": ... }')
  }
  const unknown = unknownKeys(identifier, ['type', 'value'], 'identifier')
  if (unknown.length) return { ok: false, error: { reason: 'invalid', errors: unknown } }
  const { type, value } = identifier as Record<string, unknown>
  if (typeof type !== 'string' || !(DSAR_IDENTIFIER_TYPES as readonly string[]).includes(type)) {
    return fail('identifier.type', `must be one of ${DSAR_IDENTIFIER_TYPES.join(', ')}`)
  }
  if (typeof value !== 'string' || value.trim() === '' || value.length > 256) {
    return fail('identifier.value', 'must be a non-empty string of at most 256 characters')
  }
  return { ok: true, value: { type: type as DsarIdentifierType, value } }
}

/**
 * The keys one identifier reaches without following links: what is left to erase when the
 * identity links themselves are gone (e.g. a retried erase). Null when the value does not
 * normalise (an email that is not an email address).
 */
export async function directKeys(env: Env, id: SubjectIdentifier): Promise<ResolvedKeys | null> {
  const key = await identifierKey(id.type, id.value, env.ID_PEPPER)
  if (!key) return null
  const raw = id.value.trim()
  switch (id.type) {
    case 'customer_id':
      return { customerId: raw, stateKeys: [`c:${raw}`], identifierKeys: [key] }
    case 'anonymous_id':
      return { customerId: null, stateKeys: [`a:${raw}`], identifierKeys: [key] }
    case 'email':
    case 'phone':
      return { customerId: null, stateKeys: [], identifierKeys: [key] }
  }
}

/** Builds the subject from resolved keys (plus the direct keys of the identifier asked for). */
export async function toSubject(
  env: Env,
  id: SubjectIdentifier,
  resolved: ResolvedKeys[],
): Promise<DsarSubject> {
  const stateKeys = new Set<string>()
  const identifierKeys = new Set<string>()
  const customerIds = new Set<string>()
  for (const r of resolved) {
    if (r.customerId) {
      customerIds.add(r.customerId)
      stateKeys.add(`c:${r.customerId}`)
      identifierKeys.add(`customer_id:${r.customerId}`)
    }
    r.stateKeys.forEach((k) => stateKeys.add(k))
    r.identifierKeys.forEach((k) => identifierKeys.add(k))
  }
  const anonymousIds = new Set<string>()
  for (const k of stateKeys) {
    if (k.startsWith('c:')) customerIds.add(k.slice(2))
    if (k.startsWith('a:')) anonymousIds.add(k.slice(2))
  }
  for (const k of identifierKeys) {
    if (k.startsWith('customer_id:')) customerIds.add(k.slice('customer_id:'.length))
    if (k.startsWith('anonymous_id:')) anonymousIds.add(k.slice('anonymous_id:'.length))
  }
  for (const c of customerIds) stateKeys.add(`c:${c}`)
  for (const a of anonymousIds) stateKeys.add(`a:${a}`)
  // The subject's name is stable whichever identifier was used, when a customer id is known.
  const primary = [...customerIds].sort()[0]
  const digest = await subjectDigest(
    env,
    primary
      ? `customer_id:${primary}`
      : ((await identifierKey(id.type, id.value, env.ID_PEPPER)) ?? id.value),
  )
  return {
    digest,
    stateKeys: [...stateKeys].sort(),
    identifierKeys: [...identifierKeys].sort(),
    customerIds: [...customerIds].sort(),
    anonymousIds: [...anonymousIds].sort(),
  }
}
