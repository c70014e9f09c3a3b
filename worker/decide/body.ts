/**
 * The bodies of the decision API, read by the gateway's one bounded JSON reader
 * (worker/lib/json-body.ts): `POST /v1/decide` up to 64 KiB (placements, attributes and consent
 * strings), `POST /v1/decide/conversions` up to 16 KiB. A body that is not JSON is a 400, as the
 * decision API has always answered it.
 */
import { readJsonBody } from '../lib/json-body'

export const DECIDE_BODY_LIMITS = {
  /** Bytes of a `POST /v1/decide` body. */
  decide: 64 * 1024,
  /** Bytes of a `POST /v1/decide/conversions` body. */
  conversions: 16 * 1024,
} as const

/** The parsed `POST /v1/decide` body; read once per request (the consent stage and the route share it). */
export function readDecideBody(req: Request): Promise<unknown> {
  return readJsonBody(req, { limit: DECIDE_BODY_LIMITS.decide, mediaStatus: 400 })
}

/** The parsed `POST /v1/decide/conversions` body. */
export function readConversionsBody(req: Request): Promise<unknown> {
  return readJsonBody(req, { limit: DECIDE_BODY_LIMITS.conversions, mediaStatus: 400 })
}
