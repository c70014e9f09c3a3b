/**
 * The Worker's bindings and the values each pipeline stage puts on the Hono context.
 * Every stage reads what earlier stages set and adds one typed value (docs/architecture.md
 * "The request path").
 */
import type { CustomerState } from '../durable-objects/customer'
import type { ExperimentState } from '../durable-objects/experiment'
import type { IdentityIndex } from '../durable-objects/identity'
import type { Consent } from './consent/types'
import type { Identity } from './identity/types'
import type { Logger } from './lib/log'
import type { DecisionRecord } from './log/record'
import type { Touchpoint } from './touchpoint/types'
import type { RequestInfo } from './context'
import type { ResponseHooks } from './proxy/hooks'

export interface Env {
  /** `development` enables the location override headers (docs/api.md); anything else is production. */
  GATEHOUSE_ENV: string
  /**
   * Development only: the visitor location when no override header is sent (`DE`, `US-CA`, or
   * `unknown`), instead of wrangler dev's placeholder `request.cf`. Ignored in production.
   */
  DEV_LOCATION?: string
  /** The one origin this gateway proxies to. Overrides `site.origin` in rules/ when set. */
  ORIGIN_URL?: string
  /**
   * Comma-separated hosts visitors reach the site on (`shop.example,www.shop.example`). Overrides
   * `site.publicHosts` in rules/ when set; page requests for any other host get 421.
   */
  PUBLIC_HOSTS?: string
  /** Time budget for one origin request, in milliseconds. */
  ORIGIN_TIMEOUT_MS?: string
  JWT_ISSUER?: string
  JWT_AUDIENCE?: string
  /** JSON Web Key Set as JSON text (static keys), or a URL serving one. */
  JWT_JWKS?: string
  JWT_JWKS_URL?: string
  ADMIN_JWT_ISSUER?: string
  ADMIN_JWT_AUDIENCE?: string
  ADMIN_JWKS?: string
  ADMIN_JWKS_URL?: string
  /** JWT claim holding admin roles (array or space-separated string); default `roles`. */
  ADMIN_ROLES_CLAIM?: string
  /** Longest accepted admin/ingest token lifetime (`exp - iat`) in seconds; default 86400. */
  ADMIN_JWT_MAX_LIFETIME_SECONDS?: string
  /** Time budget (ms) for one store call during DSAR export/erase and /v1/me; default 5000. */
  PRIVACY_STORE_BUDGET_MS?: string
  /** Secret: JSON array of `{ "kid": "...", "secret": "..." }`, newest first. Signs gateway cookies. */
  COOKIE_KEYS?: string
  /** Secret: pepper for hashing identifiers (email, phone) before they are stored. */
  ID_PEPPER?: string
  /** Secret: HMAC key for webhook signatures. */
  WEBHOOK_SECRET?: string
  /** Secret: comma-separated SHA-256 hex digests of server-to-server ingestion API keys. */
  INGEST_API_KEY_HASHES?: string

  CUSTOMER: DurableObjectNamespace<CustomerState>
  EXPERIMENT: DurableObjectNamespace<ExperimentState>
  IDENTITY: DurableObjectNamespace<IdentityIndex>
  DECISIONS: Queue
  TRIGGERS_HIGH: Queue
  TRIGGERS_LOW: Queue
  TRIGGERS_DLQ: Queue
  DB: D1Database
  /** The decision archive (R2): sealed decision records by `dt=`/`hour=` partition (worker/archive). */
  ARCHIVE: R2Bucket
  /** Rate limiters (`[[ratelimits]]`, worker/ratelimit/policy.ts); a missing one limits nothing. */
  RATE_LIMIT_VISITOR?: RateLimit
  RATE_LIMIT_IP?: RateLimit
  RATE_LIMIT_PRIVACY?: RateLimit
}

/** Values on the Hono context, set by the stages in pipeline order. */
export interface Vars {
  requestId: string
  log: Logger
  request: RequestInfo
  hooks: ResponseHooks
  /** Set by the `consent` stage. */
  consent: Consent
  /** Set by the `identity` stage. */
  identity: Identity
  /** Set by the `touchpoint` stage; null when the visit carries no campaign data. */
  touchpoint: Touchpoint | null
  /** Decision records produced while handling the request; the `log` stage queues them. */
  decisionRecords: DecisionRecord[]
}

export type AppEnv = { Bindings: Env; Variables: Vars }

type GatehouseEnv = Env

declare global {
  // `import { env } from 'cloudflare:workers'` is typed with our bindings.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Cloudflare {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface Env extends GatehouseEnv {}
    interface GlobalProps {
      mainModule: typeof import('./index')
      durableNamespaces: 'CustomerState' | 'ExperimentState' | 'IdentityIndex'
    }
  }
}
