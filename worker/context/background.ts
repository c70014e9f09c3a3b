/** Work that runs after the response is sent (cache writes, queue sends), off the critical path. */
import type { Context } from 'hono'
import type { AppEnv } from '../env'

/**
 * Hands `promise` to `waitUntil`, so it may finish after the response has gone. Outside a Worker
 * invocation (a test calling `app.fetch` without an execution context) it simply runs on.
 */
export function runInBackground(c: Context<AppEnv>, promise: Promise<unknown>): void {
  let ctx: ExecutionContext | undefined
  try {
    ctx = c.executionCtx
  } catch {
    // Hono throws when no execution context was passed in.
    ctx = undefined
  }
  // Background work never fails the request or escapes as an unhandled rejection: it is logged.
  const guarded = promise.catch((error: unknown) => {
    c.get('log')?.error('background_task_failed', { error: String(error) })
  })
  if (ctx) ctx.waitUntil(guarded)
}
