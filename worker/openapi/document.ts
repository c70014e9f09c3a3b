/**
 * The OpenAPI 3.1 document of the app-facing routes, served at `GET /v1/openapi.json`
 * (docs/api.md "GET /v1/openapi.json"). Request and response schemas are generated from zod: the
 * decision API's from the very validators its routes run (worker/decide/api.ts), the others from
 * ./schemas.ts. Every status a route answers is listed, with the headers an app must handle
 * (`WWW-Authenticate` on 401, `Allow` on 405, `Retry-After` on 429 and 503, `X-Gatehouse-Id`,
 * `X-Gatehouse-Rules-Version`). `info.version` is the API's version; the rules hash is an
 * extension field, so generated clients do not change with every rule edit. Which gateway routes
 * are not in the document, and why, is `NOT_IN_DOCUMENT`. Pure: no Workers imports.
 */
import { z } from 'zod'
import {
  conversionsRequestSchema,
  conversionsResponseSchema,
  decideRequestSchema,
  decideResponseSchema,
} from '../decide/api'
import {
  consentResponseSchema,
  eraseReceiptSchema,
  eventsRequestSchema,
  eventsResponseSchema,
  healthResponseSchema,
  identityResponseSchema,
  ingestRequestSchema,
  ingestResponseSchema,
  meResponseSchema,
  problemSchema,
  signOutResponseSchema,
} from './schemas'

/** The version of the HTTP API (semver): routes and fields are added, never renamed or removed. */
export const API_VERSION = '1.0.0'

/**
 * Gateway routes (worker/routes/table.ts) left out of the document, each with the reason; every
 * other route must be in it (test/contract/openapi.test.ts walks the table).
 */
export const NOT_IN_DOCUMENT: Readonly<Record<string, string>> = {
  '/admin/': "the operators' API behind an admin JWT (docs/privacy.md), not for apps",
  '/v1/health/triggers': 'trigger delivery figures for operators (docs/events.md)',
  '/.well-known/gpc.json': 'the GPC support resource for user agents (docs/consent.md)',
  '/v1/beacon.js': 'a browser script, not an API',
  '/v1/consent-bridge.js': 'a browser script (the consent bridge, docs/consent.md), not an API',
  '/v1/openapi.json': 'this document',
}

/** Whether `path` is one `NOT_IN_DOCUMENT` leaves out (a key ending in `/` covers its subtree). */
export function leftOut(path: string): boolean {
  return Object.keys(NOT_IN_DOCUMENT).some((p) => (p.endsWith('/') ? path.startsWith(p) : path === p))
}

type Schema = Record<string, unknown>

/**
 * A zod schema as a JSON Schema (draft 2020-12, which OpenAPI 3.1 uses). In a request schema a
 * field's `default` is said in its description instead: code generators (openapi-typescript's
 * `defaultNonNullable`, on by default) make a field with a `default` required, and a client must
 * be able to leave a defaulted field out (`{ "placements": ["home_hero"] }`).
 */
function jsonSchema(s: z.ZodType, io: 'input' | 'output'): Schema {
  // The document's dialect is OpenAPI 3.1's (draft 2020-12): no `$schema` per component.
  const { $schema: _dialect, ...schema } = z.toJSONSchema(s, {
    io,
    target: 'draft-2020-12',
    unrepresentable: 'any',
    override: ({ jsonSchema: out }) => {
      if (io !== 'input' || !('default' in out)) return
      const said = `Default: ${JSON.stringify(out.default)}.`
      out.description = out.description ? `${out.description} ${said}` : said
      delete out.default
    },
  }) as Schema
  return schema
}

const ref = (kind: 'schemas' | 'responses' | 'headers' | 'parameters', name: string) => ({
  $ref: `#/components/${kind}/${name}`,
})

type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 413 | 415 | 429 | 503
const ERROR_RESPONSES: Record<ErrorStatus, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  429: 'TooManyRequests',
  503: 'ServiceUnavailable',
}

interface Operation {
  operationId: string
  summary: string
  description: string
  /** `visitor`: an optional customer JWT and/or X-Gatehouse-Id; `ingest`: the ingest credential. */
  auth: 'visitor' | 'ingest' | 'none'
  request?: { schema: string; media?: string[] }
  ok: { status: 200 | 202; description: string; schema: string; headers?: string[] }
  errors: ErrorStatus[]
}

// Visitor routes verify a JWT when one is sent (401 for a bad one) and may issue an anonymous id.
const VISITOR_ERRORS: ErrorStatus[] = [401, 405]
const BODY_ERRORS: ErrorStatus[] = [400, 413]

const OPERATIONS: Record<string, Record<'get' | 'post' | 'delete', Operation | undefined>> = {
  '/v1/health': {
    get: {
      operationId: 'health',
      summary: 'Liveness and the rules in force',
      description: 'For load balancers and deploy checks.',
      auth: 'visitor',
      ok: { status: 200, description: 'The gateway is up', schema: 'HealthResponse' },
      errors: VISITOR_ERRORS,
    },
    post: undefined,
    delete: undefined,
  },
  '/v1/consent': {
    get: {
      operationId: 'getConsent',
      summary: 'The consent resolved for this request, and why',
      description: 'Jurisdiction, purposes, every signal read and how it was used (docs/consent.md).',
      auth: 'visitor',
      ok: { status: 200, description: 'The resolved consent', schema: 'ConsentResponse' },
      errors: VISITOR_ERRORS,
    },
    post: undefined,
    delete: undefined,
  },
  '/v1/identity': {
    get: {
      operationId: 'getIdentity',
      summary: 'Who the gateway takes the caller to be',
      description: 'For checking an integration: JWT accepted, id persistent, touchpoint read.',
      auth: 'visitor',
      ok: { status: 200, description: 'The caller’s identity', schema: 'IdentityResponse' },
      errors: VISITOR_ERRORS,
    },
    post: undefined,
    delete: undefined,
  },
  '/v1/sign-out': {
    get: undefined,
    post: {
      operationId: 'signOut',
      summary: 'Drop the customer binding of this device',
      description:
        'Call it when the app’s own session ends: the caller gets a new anonymous id that carries no ' +
        'customer (in X-Gatehouse-Id). 403 when a browser posts from another site.',
      auth: 'visitor',
      ok: { status: 200, description: 'Signed out', schema: 'SignOutResponse' },
      errors: [401, 403, 405],
    },
    delete: undefined,
  },
  '/v1/decide': {
    get: undefined,
    post: {
      operationId: 'decide',
      summary: 'Decide placements for the caller',
      description:
        'One decision per placement, with reason, fallback and experiment assignment. An unknown ' +
        'placement or key is a 400 naming it (with the nearest known name).',
      auth: 'visitor',
      request: { schema: 'DecideRequest' },
      ok: {
        status: 200,
        description: 'One decision per placement, in request order',
        schema: 'DecideResponse',
        headers: ['X-Gatehouse-Rules-Version'],
      },
      errors: [...BODY_ERRORS, ...VISITOR_ERRORS],
    },
    delete: undefined,
  },
  '/v1/decide/conversions': {
    get: undefined,
    post: {
      operationId: 'recordConversions',
      summary: 'Count conversions for experiment arms (server to server)',
      description:
        'Bandit feedback from a server holding the ingest credential; each conversion id counts once, ' +
        'so a retry with the same ids after a 503 is safe.',
      auth: 'ingest',
      request: { schema: 'ConversionsRequest' },
      ok: { status: 202, description: 'Counted', schema: 'ConversionsResponse' },
      errors: [...BODY_ERRORS, 401, 403, 405, 429, 503],
    },
    delete: undefined,
  },
  '/v1/events': {
    get: undefined,
    post: {
      operationId: 'sendEvents',
      summary: 'Send events of the caller',
      description:
        'Each event is validated on its own: an invalid one is listed in `rejected` by its index and ' +
        'never costs the others. Event ids are idempotency keys: retry a 503 with the same ids.',
      auth: 'visitor',
      request: { schema: 'EventsRequest', media: ['application/json', 'text/plain'] },
      ok: { status: 202, description: 'Accepted (see `stored` and `reason`)', schema: 'EventsResponse' },
      errors: [...BODY_ERRORS, 401, 403, 405, 415, 429, 503],
    },
    delete: undefined,
  },
  '/v1/ingest/events': {
    get: undefined,
    post: {
      operationId: 'ingestEvents',
      summary: 'Send offline events of one subject (server to server)',
      description: 'Events from a POS or call centre, for a customer id or a linked email.',
      auth: 'ingest',
      request: { schema: 'IngestRequest', media: ['application/json', 'text/plain'] },
      ok: { status: 202, description: 'Accepted', schema: 'IngestResponse' },
      errors: [...BODY_ERRORS, 401, 403, 404, 405, 415, 503],
    },
    delete: undefined,
  },
  '/v1/me': {
    get: {
      operationId: 'getMe',
      summary: 'What the gateway holds about the caller, and why they saw their decisions',
      description:
        'The caller’s own state (the customer’s with their JWT, else the device’s) and recent decisions.',
      auth: 'visitor',
      ok: { status: 200, description: 'What is held', schema: 'MeResponse' },
      errors: [401, 405, 429, 503],
    },
    post: undefined,
    delete: {
      operationId: 'deleteMe',
      summary: 'Erase what this request proves',
      description:
        'Takes no body (a body with any key is a 400 and erases nothing). 503 with the in-progress ' +
        'receipt when a store is busy: send the same request again to finish.',
      auth: 'visitor',
      ok: { status: 200, description: 'The erase receipt', schema: 'EraseReceipt' },
      errors: [400, 401, 405, 413, 429, 503],
    },
  },
}

const SECURITY = {
  visitor: [{}, { visitorJwt: [] }],
  ingest: [{ ingestCredential: [] }],
  none: [{}],
}

function operation(op: Operation): Schema {
  const okHeaders: Schema = { 'X-Request-Id': ref('headers', 'X-Request-Id') }
  if (op.auth === 'visitor') okHeaders['X-Gatehouse-Id'] = ref('headers', 'X-Gatehouse-Id')
  for (const h of op.ok.headers ?? []) okHeaders[h] = ref('headers', h)
  const responses: Schema = {
    [String(op.ok.status)]: {
      description: op.ok.description,
      headers: okHeaders,
      content: { 'application/json': { schema: ref('schemas', op.ok.schema) } },
    },
  }
  for (const status of [...new Set(op.errors)].sort()) {
    responses[String(status)] = ref('responses', ERROR_RESPONSES[status])
  }
  return {
    operationId: op.operationId,
    summary: op.summary,
    description: op.description,
    security: SECURITY[op.auth],
    ...(op.auth === 'visitor' ? { parameters: [ref('parameters', 'X-Gatehouse-Id')] } : {}),
    ...(op.request
      ? {
          requestBody: {
            required: true,
            content: Object.fromEntries(
              (op.request.media ?? ['application/json']).map((m) => [
                m,
                { schema: ref('schemas', op.request!.schema) },
              ]),
            ),
          },
        }
      : {}),
    responses,
  }
}

function problemResponse(description: string, headers: string[] = []): Schema {
  return {
    description,
    ...(headers.length ? { headers: Object.fromEntries(headers.map((h) => [h, ref('headers', h)])) } : {}),
    content: { 'application/problem+json': { schema: ref('schemas', 'Problem') } },
  }
}

export interface DocumentOptions {
  /** Content hash of the rules in force, reported in `info.x-gatehouse-rules-version`. */
  rulesVersion: string
  /** The origin the document was fetched from: the `servers` entry. */
  serverUrl: string
}

/**
 * The OpenAPI 3.1 document for a gateway at `serverUrl` running `rulesVersion`.
 *
 * @example openApiDocument({ rulesVersion: rules.version, serverUrl: 'https://shop.example' })
 */
export function openApiDocument(opts: DocumentOptions): Schema {
  return {
    ...baseDocument(opts.rulesVersion),
    servers: [{ url: opts.serverUrl, description: 'This gateway' }],
  }
}

// Building the schemas takes a few milliseconds: once per rules version, not per request.
let cached: { rulesVersion: string; doc: Schema } | null = null

function baseDocument(rulesVersion: string): Schema {
  if (cached?.rulesVersion === rulesVersion) return cached.doc
  const paths: Schema = {}
  for (const [path, methods] of Object.entries(OPERATIONS)) {
    const item: Schema = {}
    for (const [method, op] of Object.entries(methods)) if (op) item[method] = operation(op)
    paths[path] = item
  }
  const doc = {
    openapi: '3.1.0',
    info: {
      title: 'Gatehouse API',
      version: API_VERSION,
      description:
        'The app-facing routes of the Gatehouse gateway: decisions, events, consent, identity and the ' +
        'subject’s own data. Every error is problem+json (RFC 9457) naming the field at fault.',
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
      'x-gatehouse-rules-version': rulesVersion,
    },
    security: SECURITY.visitor,
    paths,
    components: {
      schemas: {
        DecideRequest: jsonSchema(decideRequestSchema, 'input'),
        DecideResponse: jsonSchema(decideResponseSchema, 'output'),
        ConversionsRequest: jsonSchema(conversionsRequestSchema, 'input'),
        ConversionsResponse: jsonSchema(conversionsResponseSchema, 'output'),
        EventsRequest: jsonSchema(eventsRequestSchema, 'input'),
        EventsResponse: jsonSchema(eventsResponseSchema, 'output'),
        IngestRequest: jsonSchema(ingestRequestSchema, 'input'),
        IngestResponse: jsonSchema(ingestResponseSchema, 'output'),
        HealthResponse: jsonSchema(healthResponseSchema, 'output'),
        ConsentResponse: jsonSchema(consentResponseSchema, 'output'),
        IdentityResponse: jsonSchema(identityResponseSchema, 'output'),
        SignOutResponse: jsonSchema(signOutResponseSchema, 'output'),
        MeResponse: jsonSchema(meResponseSchema, 'output'),
        EraseReceipt: jsonSchema(eraseReceiptSchema, 'output'),
        Problem: jsonSchema(problemSchema, 'output'),
      },
      responses: {
        BadRequest: problemResponse(
          'The request did not validate; `errors` names each field (unknown keys too).',
        ),
        Unauthorized: problemResponse(
          'The credential is missing (ingest routes) or not valid (a visitor JWT that does not verify).',
          ['WWW-Authenticate'],
        ),
        Forbidden: problemResponse(
          'Refused: a browser posting from another site, or a credential without the role.',
        ),
        NotFound: problemResponse('The subject is not known.'),
        MethodNotAllowed: problemResponse('The path does not answer this method.', ['Allow']),
        PayloadTooLarge: problemResponse('The body (or the batch) is over the limit named in `errors`.'),
        UnsupportedMediaType: problemResponse('The body is not JSON.'),
        TooManyRequests: problemResponse('Over the rate limit; retry after `Retry-After` seconds.', [
          'Retry-After',
        ]),
        ServiceUnavailable: problemResponse(
          'A store did not answer in time; retry after `Retry-After` seconds (ids make retries safe).',
          ['Retry-After'],
        ),
      },
      headers: {
        'X-Gatehouse-Id': {
          description:
            'The signed anonymous id the gateway issued or renewed (only with storage consent), an opaque ' +
            'value. Keep the latest and send it back as it is in the X-Gatehouse-Id request header.',
          schema: { type: 'string' },
        },
        'X-Gatehouse-Rules-Version': {
          description: 'Content hash of the rules that decided (sha256:...).',
          schema: { type: 'string' },
        },
        'X-Request-Id': { description: 'The request id, for support and logs.', schema: { type: 'string' } },
        'WWW-Authenticate': {
          description: 'The scheme to authenticate with (RFC 9110 section 11.6.1): Bearer.',
          schema: { type: 'string' },
        },
        Allow: {
          description: 'The methods the path answers (RFC 9110 section 10.2.1).',
          schema: { type: 'string' },
        },
        'Retry-After': {
          description: 'Seconds to wait before retrying (RFC 9110 section 10.2.3).',
          schema: { type: 'integer', minimum: 0 },
        },
      },
      parameters: {
        'X-Gatehouse-Id': {
          name: 'X-Gatehouse-Id',
          in: 'header',
          required: false,
          description: 'The signed anonymous id the gateway issued this app instance (the response header).',
          schema: { type: 'string', maxLength: 512 },
        },
      },
      securitySchemes: {
        visitorJwt: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'The signed-in customer’s JWT (optional); `sub` is the customer id.',
        },
        ingestCredential: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An ingestion API key (its SHA-256 in INGEST_API_KEY_HASHES) or an admin JWT with the ingest role.',
        },
      },
    },
  }
  cached = { rulesVersion, doc }
  return doc
}
