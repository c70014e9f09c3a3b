/**
 * `rules/identity.yaml`: how the gateway recognises visitors. The anonymous-id cookie, which JWTs
 * it accepts, and the limits that keep identity stitching from collapsing people into one graph.
 * See rules/README.md "## identity".
 */
import { z } from 'zod'

/** Asymmetric JWS algorithms only (RFC 7518 section 3.1): keys come from a public JWKS, so HS* and `none` are never valid. */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const

export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number]

// RFC 6265 section 4.1.1 cookie-name token, kept to a conservative character set.
const cookieName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a cookie name of letters, digits, - and _')

export const identitySchema = z
  .strictObject({
    cookie: z
      .strictObject({
        name: cookieName.default('gh_id').describe('Name of the first-party anonymous-id cookie.'),
        maxAgeDays: z
          .number()
          .int()
          .min(1)
          .max(400)
          .default(390)
          .describe('Lifetime of the cookie in days; browsers cap cookies at 400 days, so does the gateway.'),
        refreshAfterDays: z
          .number()
          .int()
          .min(0)
          .max(400)
          .default(7)
          .describe('Re-issue the cookie (rolling expiry) once it is older than this many days.'),
      })
      .prefault({})
      .describe(
        'The signed first-party cookie that carries the anonymous id (and the customer id after login).',
      ),
    jwt: z
      .strictObject({
        algorithms: z
          .array(z.enum(JWT_ALGORITHMS))
          .min(1)
          .default(['RS256', 'ES256'])
          .describe('Signature algorithms accepted. Asymmetric only: `none` and HS* are never accepted.'),
        clockSkewSeconds: z
          .number()
          .int()
          .min(0)
          .max(300)
          .default(30)
          .describe('Tolerance for exp/nbf/iat against the gateway clock, in seconds.'),
        maxTokenBytes: z
          .number()
          .int()
          .min(256)
          .max(65_536)
          .default(8192)
          .describe('Tokens longer than this are rejected before any parsing.'),
        cookie: cookieName
          .nullable()
          .default(null)
          .describe(
            'Name of a site session cookie holding the JWT (sites); null reads only the Authorization header.',
          ),
        jwksCooldownSeconds: z
          .number()
          .min(0)
          .max(3600)
          .default(30)
          .describe('Minimum time between two JWKS refetches when an unknown key id appears (key rotation).'),
        jwksCacheMaxAgeSeconds: z
          .number()
          .min(0)
          .max(86_400)
          .default(600)
          .describe('How long a fetched JWKS is used before it is fetched again.'),
        jwksTimeoutMs: z
          .number()
          .int()
          .min(100)
          .max(10_000)
          .default(1500)
          .describe('Time budget for one JWKS fetch.'),
      })
      .prefault({})
      .describe('Known visitors: JWTs from `Authorization: Bearer` (apps) or a session cookie (sites).'),
    stitching: z
      .strictObject({
        maxIdentifiersPerCustomer: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .default(25)
          .describe(
            'Cap on identifiers (CRM ids, emails, phones) linked to one customer; more are refused and recorded as conflicts.',
          ),
        maxAnonymousIdsPerCustomer: z
          .number()
          .int()
          .min(1)
          .max(10_000)
          .default(200)
          .describe('Cap on anonymous ids (browsers, app installs) linked to one customer.'),
        budgetMs: z
          .number()
          .int()
          .min(50)
          .max(10_000)
          .default(1500)
          .describe(
            'Time budget for one stitching step (a login); on timeout the visit continues and stitching is retried at the next login.',
          ),
        callBudgetMs: z
          .number()
          .int()
          .min(20)
          .max(10_000)
          .default(500)
          .describe('Time budget for one call to a Durable Object while stitching.'),
      })
      .prefault({})
      .describe('Linking anonymous ids, emails and phones to customers (deterministic only).'),
  })
  .prefault({})

export type IdentityRules = z.output<typeof identitySchema>
