/**
 * Gatehouse Worker entry: the Hono app for requests, queue consumers, the scheduled handler,
 * and the Durable Object classes wrangler binds.
 */
import { createApp } from './app'
import { dropExpiredArchive } from './archive/retention'
import type { Env } from './env'
import { createLogger } from './lib/log'
import { consumeDecisions } from './log/consumer'
import { triggerQueue } from './delivery/consumer'
import { runRetention } from './privacy/retention'
import { bundledRules } from './rules'

export { CustomerState } from '../durable-objects/customer'
export { ExperimentState } from '../durable-objects/experiment'
export { IdentityIndex } from '../durable-objects/identity'

const app = createApp()

export default {
  fetch: app.fetch,
  // Queue consumers: the decision log (D1) and trigger delivery (webhooks, dead letters).
  async queue(batch: MessageBatch<unknown>, env: Env, _ctx: ExecutionContext): Promise<void> {
    switch (batch.queue) {
      case 'gatehouse-decisions':
        await consumeDecisions(batch, env)
        return
      case 'gatehouse-triggers-high':
      case 'gatehouse-triggers-low':
      case 'gatehouse-triggers-dlq':
        await triggerQueue(batch, env)
        return
      default:
        // A queue without a consumer here: redeliver later rather than lose the messages.
        createLogger({ queue: batch.queue }).error('queue_without_consumer', {
          messages: batch.messages.length,
        })
        batch.retryAll()
    }
  },
  async scheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
    const log = createLogger({ job: 'retention' })
    const retention = bundledRules.privacy.retention
    await runRetention(env, retention, log)
    // The archive keeps its own, longer window; whole day partitions go (worker/archive/retention.ts).
    await dropExpiredArchive(env.ARCHIVE, retention.decisionArchive, controller.scheduledTime, log)
  },
} satisfies ExportedHandler<Env>
