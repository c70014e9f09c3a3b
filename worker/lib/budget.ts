/**
 * Time budgets for calls from the Worker to Durable Objects, D1 and other I/O (docs/architecture.md
 * "State (Durable Objects, queues, D1)"): the call races a timer; on timeout or error the caller
 * gets a tagged failure and falls back.
 * Pure: no Workers imports.
 */
import { err, ok, type Result } from './result'

export interface BudgetFailure {
  reason: 'timeout' | 'error'
  what: string
  message: string
}

export type BudgetResult<T> = Result<T, BudgetFailure>

/**
 * Runs `work` within `ms` milliseconds (0 or less: fall back at once). Never throws. A late result or rejection after the budget
 * is swallowed (it must not surface as an unhandled rejection).
 *
 * @example
 *   const r = await withBudget(stub.claim(req), 500, 'identity_index.claim')
 *   if (!r.ok) log.warn('stitch_fallback', r.error)
 */
export async function withBudget<T>(
  work: Promise<T> | (() => Promise<T>),
  ms: number,
  what: string,
): Promise<BudgetResult<T>> {
  // A budget of 0 (or less) means "do not wait at all": the caller falls back at once.
  if (ms <= 0) return err({ reason: 'timeout', what, message: 'no time budget' })
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms)
  })
  let promise: Promise<T>
  try {
    promise = typeof work === 'function' ? work() : work
  } catch (error) {
    clearTimeout(timer)
    return err({ reason: 'error', what, message: errorMessage(error) })
  }
  promise.catch(() => undefined)
  try {
    const winner = await Promise.race([promise.then((value) => ({ value })), timeout])
    if (winner === 'timeout') return err({ reason: 'timeout', what, message: `no answer within ${ms} ms` })
    return ok(winner.value)
  } catch (error) {
    return err({ reason: 'error', what, message: errorMessage(error) })
  } finally {
    clearTimeout(timer)
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}
