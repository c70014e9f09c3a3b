/**
 * Rules version history: which compiled rule set went live when, so "what was live on the 3rd" is
 * answered from the gateway itself. `rulesVersionLog` records the first request each isolate serves
 * with a version (a per-isolate flag, then one idempotent D1 write after the response: the earliest
 * time per version wins); `GET /admin/v1/rules/versions` lists the history (./index.ts).
 */
import { runInBackground } from '../context/background'
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env'
import type { RuleSet } from '../rules'

/** Versions this isolate has recorded (or is recording); one write per version per isolate. */
const recorded = new Set<string>()

export interface RulesVersionLogOptions {
  rules: Pick<RuleSet, 'version'>
}

export const rulesVersionLog = (opts: RulesVersionLogOptions): MiddlewareHandler<AppEnv> =>
  async function rulesVersionLog(c, next) {
    await next()
    const version = opts.rules.version
    // A version goes live with the first request it answers well: a refused request (4xx, which
    // never depends on a store) or a failed one writes nothing.
    if (recorded.has(version) || !c.env?.DB || c.res.status >= 400) return
    recorded.add(version)
    const at = Date.now()
    const db = c.env.DB
    const write = Promise.resolve()
      .then(() =>
        db
          .prepare(
            `INSERT INTO rules_versions (version, first_served_at, first_request_id) VALUES (?, ?, ?)
       ON CONFLICT(version) DO UPDATE SET first_served_at = excluded.first_served_at,
         first_request_id = excluded.first_request_id
       WHERE excluded.first_served_at < rules_versions.first_served_at`,
          )
          .bind(version, at, c.get('requestId'))
          .run(),
      )
      .catch((error: unknown) => {
        // Try again on a later request; the request itself is never held up or failed by this.
        recorded.delete(version)
        c.get('log')?.warn('rules_version_not_recorded', { version, error: String(error) })
      })
    runInBackground(c, write)
  }

export interface RulesVersionRow {
  version: string
  first_served_at: number
}

export interface RulesVersionEntry {
  version: string
  firstServedAt: string
  /** When the next version was first served (null: still the latest). */
  supersededAt: string | null
}

/**
 * The history, newest first, and which version was live at `at` (ms; the latest version first
 * served at or before it; null before any). Pure.
 */
export function rulesHistory(
  rows: RulesVersionRow[],
  at: number | null,
): { versions: RulesVersionEntry[]; liveAt: RulesVersionEntry | null } {
  const sorted = [...rows].sort((a, b) => a.first_served_at - b.first_served_at)
  const entries = sorted.map((r, i) => ({
    version: r.version,
    firstServedAt: new Date(r.first_served_at).toISOString(),
    supersededAt: sorted[i + 1] ? new Date(sorted[i + 1]!.first_served_at).toISOString() : null,
  }))
  let liveAt: RulesVersionEntry | null = null
  if (at !== null) {
    for (let i = 0; i < sorted.length; i++) if (sorted[i]!.first_served_at <= at) liveAt = entries[i]!
  }
  return { versions: entries.reverse(), liveAt }
}
