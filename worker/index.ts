/**
 * Gatehouse Worker entry: the Hono app for requests, queue consumers, the scheduled handler,
 * and the Durable Object classes wrangler binds.
 */
import { createApp } from './app'
import type { Env } from './env'

export { CustomerState } from '../durable-objects/customer'
export { ExperimentState } from '../durable-objects/experiment'
export { IdentityIndex } from '../durable-objects/identity'

const app = createApp()

export default {
  fetch: app.fetch,
  // --- queue consumers and scheduled jobs are added by the features that own them ---
} satisfies ExportedHandler<Env>
