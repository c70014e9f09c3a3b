/**
 * The server-to-server ingestion credential: an API key sent as `Authorization: Bearer <key>`,
 * checked against the SHA-256 digests in the `INGEST_API_KEY_HASHES` secret (comma-separated
 * hex), so the Worker never holds the keys themselves. Compared in constant time.
 */

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
