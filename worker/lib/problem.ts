/**
 * RFC 9457 problem details: the one error shape the gateway answers with (docs/api.md
 * "Common to all routes").
 * Routes throw `ProblemError`; `app.onError` turns it (or anything else) into problem+json.
 */
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

export interface FieldError {
  path: string
  message: string
}

export interface Problem {
  type: string
  title: string
  status: number
  detail?: string
  errors?: FieldError[]
  [extension: string]: unknown
}

/** An HTTP error with a problem+json body; `errors` name the fields at fault. */
export class ProblemError extends HTTPException {
  readonly problem: Problem
  /** Headers the answer must carry (`WWW-Authenticate` on a 401, `Retry-After` on a 503). */
  headers: Record<string, string> = {}
  constructor(
    status: ContentfulStatusCode,
    title: string,
    detail?: string,
    errors?: FieldError[],
    extra: Record<string, unknown> = {},
  ) {
    super(status, { message: detail ?? title })
    this.name = 'ProblemError'
    this.problem = {
      type: `https://gatehouse.dev/problems/${slug(title)}`,
      title,
      status,
      ...(detail ? { detail } : {}),
      ...(errors ? { errors } : {}),
      ...extra,
    }
  }
}

/**
 * `error` answering with `headers` too (RFC 9110 section 11.6.1: a 401 carries
 * `WWW-Authenticate`; section 10.2.3: `Retry-After` tells a client when a 503 is worth retrying).
 *
 * @example throw withHeaders(new ProblemError(503, 'Service unavailable'), { 'retry-after': '2' })
 */
export function withHeaders(error: ProblemError, headers: Record<string, string>): ProblemError {
  error.headers = { ...error.headers, ...headers }
  return error
}

export function problemResponse(problem: Problem, headers: HeadersInit = {}): Response {
  const h = new Headers(headers)
  h.set('content-type', 'application/problem+json')
  h.set('cache-control', 'no-store')
  return new Response(JSON.stringify(problem), { status: problem.status, headers: h })
}

/** Shorthand for a validation failure naming each field. */
export function invalid(errors: FieldError[], detail = 'The request did not validate.'): ProblemError {
  return new ProblemError(400, 'Invalid request', detail, errors)
}

function slug(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
}
