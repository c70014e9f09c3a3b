/**
 * Time budgets for calls to Durable Objects (DESIGN.md "Failure behaviour"): race the call against
 * a timer; on timeout or error the caller falls back and says so. Never throws.
 */

export type Budgeted<T> =
  { ok: true; value: T } | { ok: false; error: { reason: 'timeout' | 'error'; message: string } }

/** Runs `call` with `ms` milliseconds to answer. A budget of 0 means "do not wait at all". */
export async function withBudget<T>(ms: number, call: () => Promise<T>): Promise<Budgeted<T>> {
  if (ms <= 0) return { ok: false, error: { reason: 'timeout', message: 'no time budget' } }
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<Budgeted<T>>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, error: { reason: 'timeout', message: `no answer within ${ms} ms` } }),
      ms,
    )
  })
  const attempt = (async (): Promise<Budgeted<T>> => {
    try {
      return { ok: true, value: await call() }
    } catch (e) {
      return { ok: false, error: { reason: 'error', message: e instanceof Error ? e.message : String(e) } }
    }
  })()
  try {
    return await Promise.race([attempt, timeout])
  } finally {
    clearTimeout(timer)
  }
}
