/**
 * The server-to-server ingestion credential: an API key sent as `Authorization: Bearer <key>`,
 * checked against the SHA-256 digests in the `INGEST_API_KEY_HASHES` secret (comma-separated
 * hex), so the Worker never holds the keys themselves. Compared in constant time. Or an admin JWT
 * carrying the `ingest` role. Used by `POST /v1/ingest/events` and `POST /v1/decide/conversions`.
 */
import type { Context } from 'hono'
import { adminToken, verifyAdminToken } from '../admin/auth'
import type { AppEnv } from '../env'
import { ProblemError, withHeaders } from '../lib/problem'

export type IngestAuth =
  { ok: true; value: { keyId: string } } | { ok: false; error: { reason: IngestAuthFailure } }
export type IngestAuthFailure = 'missing_key' | 'not_configured' | 'invalid_key'

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/** Equal-length strings compared without an early exit (no timing oracle on the digest). */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

export function parseKeyHashes(secret: string | undefined): string[] {
  return (secret ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => /^[0-9a-f]{64}$/.test(h))
}

/** Checks the bearer key. `keyId` (first 8 hex of the digest) names the key in logs, never the key. */
export async function verifyIngestKey(
  authorization: string | undefined,
  secret: string | undefined,
): Promise<IngestAuth> {
  const m = authorization ? /^Bearer\s+(\S{16,256})\s*$/i.exec(authorization) : null
  if (!m) return { ok: false, error: { reason: 'missing_key' } }
  const hashes = parseKeyHashes(secret)
  if (hashes.length === 0) return { ok: false, error: { reason: 'not_configured' } }
  const digest = await sha256Hex(m[1]!)
  let found = false
  // Every configured digest is compared, whether or not an earlier one matched.
  for (const h of hashes) found = constantTimeEqual(h, digest) || found
  return found
    ? { ok: true, value: { keyId: digest.slice(0, 8) } }
    : { ok: false, error: { reason: 'invalid_key' } }
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

/**
 * The ingestion credential: an admin JWT (Cloudflare Access or `Authorization: Bearer`, verified by
 * worker/admin/auth.ts, algorithms pinned) carrying the `ingest` role, or else an API key whose
 * SHA-256 is in INGEST_API_KEY_HASHES. `keyId` names the caller in logs.
 */
export async function ingestCredential(
  c: Context<AppEnv>,
): Promise<{ ok: true; value: { keyId: string } } | { ok: false; error: { reason: string } }> {
  const token = adminToken(c.req.raw.headers)
  if (token && JWT_SHAPE.test(token)) {
    const r = await verifyAdminToken(token, c.env)
    if (!r.ok) return { ok: false, error: { reason: `jwt_${r.error.reason}` } }
    // The role is compared as text: the admin role list may not name it yet.
    if (!(r.value.roles as string[]).includes('ingest'))
      return { ok: false, error: { reason: 'forbidden_role' } }
    return { ok: true, value: { keyId: `jwt:${r.value.sub}` } }
  }
  return verifyIngestKey(c.req.header('authorization'), c.env.INGEST_API_KEY_HASHES)
}

/**
 * The ingestion credential or a thrown problem: 401 without one, 403 for a wrong key or a JWT
 * without the `ingest` role. Logs the reason, never the credential.
 */
export async function requireIngestCredential(c: Context<AppEnv>): Promise<{ keyId: string }> {
  const auth = await ingestCredential(c)
  if (auth.ok) return auth.value
  c.get('log')?.warn('ingest_auth_failed', { reason: auth.error.reason })
  const status = auth.error.reason === 'invalid_key' || auth.error.reason === 'forbidden_role' ? 403 : 401
  const problem = new ProblemError(
    status,
    status === 401 ? 'Unauthorized' : 'Forbidden',
    'A valid ingestion API key is required.',
    [{ path: 'Authorization', message: auth.error.reason }],
  )
  // RFC 9110 section 15.5.2: a 401 names the scheme that would be accepted.
  throw status === 401
    ? withHeaders(problem, { 'www-authenticate': 'Bearer realm="gatehouse-ingest"' })
    : problem
}
