/**
 * Webhook signatures for trigger deliveries: HMAC-SHA-256 (RFC 2104) over `<timestamp>.<body>`
 * with the shared `WEBHOOK_SECRET`, sent as
 *
 *     X-Gatehouse-Signature: t=1763892000,v1=5f0c...e1
 *
 * `t` is Unix seconds. A receiver recomputes the HMAC over the raw body, compares in constant
 * time, and refuses a `t` outside its replay window (default 300 s, rules/triggers.yaml
 * `delivery.replayWindowSeconds`); it deduplicates on `X-Gatehouse-Fire-Id`. Pure apart from Web
 * Crypto, so receivers written for Workers or Node 20 can import `verifySignature` as it is.
 */
import { err, ok, type Result } from '../lib/result'

export const SIGNATURE_HEADER = 'x-gatehouse-signature'
export const FIRE_ID_HEADER = 'x-gatehouse-fire-id'

const encoder = new TextEncoder()

async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    'raw',
    encoder.encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  )
  const mac = await crypto.subtle.sign('HMAC', key, encoder.encode(message))
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/** The signature header value for `body` at `timestampSeconds`. */
export async function signatureHeader(
  secret: string,
  body: string,
  timestampSeconds: number,
): Promise<string> {
  return `t=${timestampSeconds},v1=${await hmacHex(secret, `${timestampSeconds}.${body}`)}`
}

export type VerifyResult = Result<
  { timestamp: number },
  { reason: 'malformed' | 'outside_window' | 'mismatch' }
>

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

/**
 * Verifies a delivery as a receiver would. Never throws.
 *
 * @example
 *   const r = await verifySignature({ secret, header: req.headers.get('x-gatehouse-signature'), body: rawText })
 *   if (!r.ok) return new Response(r.error.reason, { status: 401 })
 */
export async function verifySignature(opts: {
  secret: string
  header: string | null | undefined
  body: string
  nowSeconds?: number
  toleranceSeconds?: number
}): Promise<VerifyResult> {
  const m = opts.header ? /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(opts.header.trim()) : null
  if (!m) return err({ reason: 'malformed' })
  const timestamp = Number(m[1])
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000)
  if (Math.abs(now - timestamp) > (opts.toleranceSeconds ?? 300)) return err({ reason: 'outside_window' })
  const expected = await hmacHex(opts.secret, `${timestamp}.${opts.body}`)
  return constantTimeEqual(expected, m[2]!) ? ok({ timestamp }) : err({ reason: 'mismatch' })
}
