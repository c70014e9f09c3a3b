/**
 * Helpers for the proxy tests: the gateway as a Worker (`exports.default`) or as an app built
 * from the real stages with test-chosen hooks and rules, and the demo storefront's fault controls.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env, exports } from 'cloudflare:workers'
import { Hono, type Context } from 'hono'
import { context } from '../../worker/context'
import type { AppEnv, Env } from '../../worker/env'
import { ProblemError, problemResponse } from '../../worker/lib/problem'
import type { LogLevel } from '../../worker/lib/log'
import { accessLog } from '../../worker/log'
import { origin } from '../../worker/proxy/origin'
import { response } from '../../worker/proxy/response'
import { bundledRules, type RuleSet } from '../../worker/rules'

export const PUBLIC = 'http://gate.test'

/** A request through the whole Worker, as deployed (all stages). */
export function gate(path: string, init?: RequestInit): Promise<Response> {
  // Redirects come back to the test as they are, like a browser sees them before following.
  return exports.default.fetch(new Request(PUBLIC + path, { redirect: 'manual', ...init }))
}

/** A direct request to the demo storefront (bypassing the gateway). */
export function originFetch(path: string, init?: RequestInit): Promise<Response> {
  return fetch(env.ORIGIN_URL + path, init)
}

/** Makes the storefront misbehave for one path: `fail` (503), `slow` (ms), `down` (connection dropped), `ok`. */
export async function fault(path: string, mode: 'fail' | 'slow' | 'down' | 'ok', ms = 0): Promise<void> {
  const res = await originFetch('/__control/fault', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path, mode, ms }),
  })
  await res.body?.cancel()
  if (!res.ok) throw new Error(`fault control failed: ${res.status}`)
}

/** A path no other test uses, so cached copies and faults never leak between tests. */
export function uniqueProduct(label: string): string {
  return `/product/${label}-${crypto.randomUUID().slice(0, 8)}`
}

export function rulesWithSite(site: Partial<RuleSet['site']>): RuleSet {
  return { ...bundledRules, site: { ...bundledRules.site, ...site } }
}

export interface TestGateway {
  /** Sends a request and waits for the background work (cache writes, queue sends) to finish. */
  fetch(path: string, init?: RequestInit): Promise<Response>
  /** Log lines written while handling requests, parsed. */
  lines: Array<{ level: LogLevel } & Record<string, unknown>>
}

/**
 * The proxy stages (context, log, response, origin) with a test stage in the place of
 * consent..decide that shapes the hooks as those stages would.
 */
export function testGateway(
  opts: {
    rules?: RuleSet
    env?: Partial<Env>
    stage?: (c: Context<AppEnv>) => void
  } = {},
): TestGateway {
  const rules = opts.rules ?? bundledRules
  const lines: TestGateway['lines'] = []
  const app = new Hono<AppEnv>()
  app.use('*', context({ logSink: (level, line) => lines.push({ ...JSON.parse(line), level }) }))
  app.use('*', accessLog({ rules, backoffMs: 5 }))
  app.use('*', async function testStage(c, next) {
    opts.stage?.(c)
    await next()
  })
  app.use('*', response({ rules }))
  app.all('*', origin({ rules }))
  app.onError((err) => {
    if (err instanceof ProblemError) return problemResponse(err.problem)
    return problemResponse({ type: 'about:blank', title: 'Internal error', status: 500 })
  })
  const bindings = { ...env, ...opts.env } as Env
  return {
    lines,
    async fetch(path, init) {
      const ctx = createExecutionContext()
      const res = await app.fetch(new Request(PUBLIC + path, init), bindings, ctx)
      await waitOnExecutionContext(ctx)
      return res
    },
  }
}

export const PAGE = { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' }
