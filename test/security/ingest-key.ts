/**
 * A server-to-server ingestion key for tests: the key, the `INGEST_API_KEY_HASHES` value that
 * accepts it, and a gateway (the real app) called with that secret bound, as a deployment would.
 */
import { env } from 'cloudflare:workers'
import { createApp } from '../../worker/app'
import { bundledRules, type RuleSet } from '../../worker/rules'

export const INGEST_KEY = 'test-ingest-key-0123456789abcdef'

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * The bundled rules plus a copy of the `upsell_bandit` bandit under `id`: its ExperimentState is
 * this test's own, so counts asserted exactly are not moved by other test files running alongside.
 */
export function rulesWithBandit(id: string): RuleSet {
  const x = bundledRules.experiments
  return {
    ...bundledRules,
    experiments: { ...x, experiments: { ...x.experiments, [id]: x.experiments.upsell_bandit! } },
  }
}

/** The whole gateway with `INGEST_API_KEY_HASHES` holding INGEST_KEY's digest. */
export async function gatewayWithIngestKey(rules?: RuleSet) {
  const app = createApp({ rules })
  const bindings = { ...env, INGEST_API_KEY_HASHES: await sha256Hex(INGEST_KEY) }
  return async (path: string, init: RequestInit = {}) =>
    app.request(`http://gate.test${path}`, init, bindings)
}

/** Headers of a JSON request carrying the ingestion key. */
export function ingestHeaders(key = INGEST_KEY): Record<string, string> {
  return { 'content-type': 'application/json', authorization: `Bearer ${key}` }
}
