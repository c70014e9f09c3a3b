/**
 * The one JSON body reader of the gateway: every route that takes a body reads it here, so every
 * body has the same limits and the same answers (docs/api.md "Request bodies").
 *
 * - Size: a declared Content-Length over the limit is a 413 before a byte is read; the stream is
 *   counted as it is read, because a client can omit Content-Length or lie about it.
 * - Syntax: anything that is not UTF-8 JSON (RFC 8259 section 8.1) is a 400.
 * - Shape: nesting deeper than `maxDepth` or more than `maxNodes` values is a 400 naming the path
 *   of the first value over the limit. The check walks the value with its own stack (never
 *   recursion), so no body can exhaust the call stack of code that later walks it.
 * - Strict objects: `unknownKeys` (./unknown-keys.ts) names the keys a route does not know
 *   (`"contxt"`, with a "did you mean" hint), for the route to answer with a 400 alongside its own
 *   errors; `refuseBody` answers a body sent to a route that takes none.
 *
 * A request's body can be read once; the parsed value is remembered per Request, so a stage that
 * needs it before the route (the consent in a `/v1/decide` body) and the route share one read.
 * Pure apart from the Fetch API types.
 */
import { checkShape } from './json-shape'
import { invalid, ProblemError } from './problem'
import { unknownKeys } from './unknown-keys'

export { unknownKeys }

export interface JsonBodyOptions {
  /** Bytes of the body. */
  limit: number
  /** Nesting depth of the whole document (the top-level object is depth 1). */
  maxDepth?: number
  /** Values in the whole document (objects, arrays and scalars). */
  maxNodes?: number
  /** Content types taken as JSON; anything else is refused. */
  media?: RegExp
  /** Status for a content type outside `media`: 415 (default), or 400 where the contract says so. */
  mediaStatus?: 400 | 415
}

/** Defaults shared by the routes: deep enough for any contract, shallow enough to walk safely. */
export const JSON_BODY_DEFAULTS = {
  maxDepth: 32,
  maxNodes: 50_000,
  media: /^application\/([a-z0-9.+-]*\+)?json\b/i,
} as const

/** `application/json`, `application/*+json`, and `text/plain` (sendBeacon's CORS-safe type). */
export const JSON_OR_BEACON_MEDIA = /^(application\/(json|[\w.+-]+\+json)|text\/plain)\b/i

export function tooLarge(limit: number): ProblemError {
  return new ProblemError(413, 'Payload too large', `The request body exceeds ${limit} bytes.`, [
    { path: '', message: `at most ${limit} bytes` },
  ])
}

const read = new WeakMap<Request, Promise<unknown>>()

/**
 * The parsed JSON body of `req`: 413 beyond `limit`, 415 (or 400) for another content type, 400
 * for anything that is not JSON or is nested too deep. Reads the stream once per Request.
 *
 * @example
 *   const body = await readJsonBody(c.req.raw, { limit: 16 * 1024 })
 */
export function readJsonBody(req: Request, opts: JsonBodyOptions): Promise<unknown> {
  let p = read.get(req)
  if (!p) {
    p = readOnce(req, opts)
    read.set(req, p)
  }
  return p
}

async function readOnce(req: Request, opts: JsonBodyOptions): Promise<unknown> {
  const { limit } = opts
  // RFC 9110 section 8.6: Content-Length is a decimal number of octets.
  const declared = req.headers.get('content-length')
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > limit) throw tooLarge(limit)
  const type = req.headers.get('content-type') ?? ''
  const media = opts.media ?? JSON_BODY_DEFAULTS.media
  if (!media.test(type)) {
    const errors = [{ path: '', message: 'the body must be JSON (Content-Type: application/json)' }]
    if (opts.mediaStatus === 400) throw invalid(errors)
    throw new ProblemError(415, 'Unsupported media type', 'Send the body as application/json.', errors)
  }
  const bytes = await readBounded(req, limit)
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes))
  } catch {
    throw invalid([{ path: '', message: 'the body is not valid UTF-8 JSON' }], 'The body is not valid JSON.')
  }
  const shape = checkShape(value, {
    maxDepth: opts.maxDepth ?? JSON_BODY_DEFAULTS.maxDepth,
    maxNodes: opts.maxNodes ?? JSON_BODY_DEFAULTS.maxNodes,
  })
  if (!shape.ok) throw invalid([shape.error], 'The body is nested too deep or is too large to process.')
  return value
}

async function readBounded(req: Request, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let size = 0
  if (req.body) {
    const reader = req.body.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > limit) {
        await reader.cancel().catch(() => undefined)
        throw tooLarge(limit)
      }
      chunks.push(value)
    }
  }
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const c of chunks) {
    bytes.set(c, offset)
    offset += c.byteLength
  }
  return bytes
}

/**
 * For a route that takes no body (`DELETE /v1/me`): nothing, an empty body or `{}` passes; any key
 * is a 400 naming it, anything else a 400 for the whole body, so an option the route does not have
 * (`{ "dryRun": true }`) is never silently ignored by an action that cannot be undone.
 *
 * @example
 *   await refuseBody(c.req.raw, 'DELETE /v1/me')
 */
export async function refuseBody(req: Request, route: string): Promise<void> {
  if (!req.body) return
  const bytes = await readBounded(req, NO_BODY_LIMIT)
  if (bytes.byteLength === 0) return
  const message = `${route} takes no body`
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes))
  } catch {
    throw invalid([{ path: '', message }])
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalid([{ path: '', message }])
  const keys = Object.keys(value)
  if (keys.length) throw invalid(keys.map((key) => ({ path: key, message: `unknown field (${message})` })))
}

/** Bytes read of a body sent to a route that takes none, to name its keys. */
const NO_BODY_LIMIT = 16 * 1024
