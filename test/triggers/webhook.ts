/** Talks to the local webhook receiver (test/support/webhook-server.mjs) over HTTP. */
import { env } from 'cloudflare:workers'

const base = (env as unknown as { WEBHOOK_SERVER_URL: string }).WEBHOOK_SERVER_URL

export interface Attempt {
  path: string
  fireId: string | null
  mode: string
  signature: string
  at: number
}

export const webhook = {
  async script(fireId: string, modes: string[]): Promise<void> {
    await fetch(`${base}/_control/script`, { method: 'POST', body: JSON.stringify({ fireId, modes }) })
  },
  async deliveries(fireId: string): Promise<{
    attempts: Attempt[]
    delivered: Array<{ fireId: string; path: string; body: Record<string, unknown> }>
    duplicates: number
  }> {
    const res = await fetch(`${base}/_control/deliveries?fireId=${encodeURIComponent(fireId)}`)
    return res.json()
  },
  /** Waits until the receiver has `n` deliveries for `fireId` (queue consumers run asynchronously). */
  async waitFor(fireId: string, n = 1, timeoutMs = 10_000) {
    const until = Date.now() + timeoutMs
    for (;;) {
      const d = await webhook.deliveries(fireId)
      if (d.delivered.length >= n || Date.now() > until) return d
      await new Promise((r) => setTimeout(r, 100))
    }
  },
}

/** The D1 dead-letter row of a fire, polled until the consumer writes it (15 s), else null. */
export async function deadLetter(fireId: string): Promise<{ reason: string; attempts: number } | null> {
  for (let i = 0; i < 150; i++) {
    const row = await env.DB.prepare('SELECT reason, attempts FROM trigger_dead_letters WHERE fire_id = ?')
      .bind(fireId)
      .first<{ reason: string; attempts: number }>()
    if (row) return row
    await new Promise((r) => setTimeout(r, 100))
  }
  return null
}
