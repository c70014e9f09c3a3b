/**
 * The soak's end-of-run checks, read from the stores themselves: events answered 202 stored
 * exactly once in their CustomerState; every `/v1/decide` decision one record in D1's
 * `decision_log`; trigger fires each delivered or dead-lettered (or still inside their delivery
 * window), none delivered twice; no page 5xx without the fallback; erased subjects empty
 * everywhere; no cap over its limit; the memory trend and the latency per route. Returns the
 * failed invariants and a markdown table.
 */
import type { SoakRuntime } from './soak-runtime'
import type { OriginFault, SoakWebhook } from './soak-faults'

export interface SoakLedger {
  profile: string
  minutes: number
  rate: number
  requests: number
  byRoute: Map<string, { ms: number[]; statuses: Map<number, number> }>
  pageViolations: string[]
  pagesFallback: number
  decides: Array<{ requestId: string; decisions: number; at: number }>
  /** Event ids answered 202 and stored, by CustomerState key. */
  acceptedEvents: Map<string, Set<string>>
  /** Events answered 202 but deliberately not stored, by the documented `reason` of the answer. */
  notStored: Map<string, number>
  /** Customers whose carts were ingested (their triggers fire). */
  customers: Set<string>
  erased: string[]
  restartAt: number | null
  /** Request ids of `/v1/decide` records in D1 just before the restart. */
  recordsBeforeRestart: Set<string> | null
  /** Anonymous states a login absorbed (stitching moves their events), by customer state. */
  absorbed: Map<string, Set<string>>
  restartResumedAt: number | null
  rss: Array<{ t: number; mib: number }>
  /** Index of the first RSS sample of the restarted process (null: no restart). */
  rssFromRestart: number | null
  originFaults: Record<OriginFault, number>
  webhook: SoakWebhook
  errors: Map<string, number>
}

interface Row {
  invariant: string
  held: boolean
  detail: string
}

type Dump = Record<string, Array<Record<string, unknown>>>

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

/** Least-squares slope of y over x. */
function slope(points: Array<{ t: number; mib: number }>): number {
  const n = points.length
  if (n < 3) return 0
  const mx = points.reduce((s, p) => s + p.t, 0) / n
  const my = points.reduce((s, p) => s + p.mib, 0) / n
  let num = 0
  let den = 0
  for (const p of points) {
    num += (p.t - mx) * (p.mib - my)
    den += (p.t - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function checkInvariants(
  runtime: SoakRuntime,
  ledger: SoakLedger,
  opts: { drainMs: number },
): Promise<{ failed: string[]; markdown: string }> {
  const rows: Row[] = []
  const add = (invariant: string, held: boolean, detail: string) => rows.push({ invariant, held, detail })
  const db = await runtime.mf().getD1Database('DB', 'gatehouse')

  // Let the queues drain: decision records (2 s batches) and trigger retries in flight.
  const wanted = ledger.decides.reduce((n, d) => n + d.decisions, 0)
  for (let waited = 0; waited < opts.drainMs; waited += 1000) {
    const n = (await db.prepare('SELECT COUNT(*) AS n FROM decision_log').first<{ n: number }>())?.n ?? 0
    if (n >= wanted) break
    await sleep(1000)
  }

  // 1. Events answered 202: stored exactly once in their object (ids are the primary key).
  let accepted = 0
  let missing = 0
  const missingSamples: string[] = []
  const dumps = new Map<string, Dump>()
  const exportOf = async (key: string) => {
    let dump = dumps.get(key)
    if (!dump) dumps.set(key, (dump = await runtime.inspect<Dump>('/export', key)))
    return dump
  }
  // A login absorbs the anonymous state into the customer's (docs/identity.md): its events move.
  const absorbedBy = new Map<string, string[]>()
  for (const [customer, anons] of ledger.absorbed)
    for (const a of anons) absorbedBy.set(a, [...(absorbedBy.get(a) ?? []), customer])
  for (const [key, ids] of ledger.acceptedEvents) {
    const stored = new Map<string, number>()
    for (const k of [key, ...(absorbedBy.get(key) ?? [])])
      for (const e of (await exportOf(k)).events ?? [])
        stored.set(String(e.id), (stored.get(String(e.id)) ?? 0) + 1)
    for (const id of ids) {
      accepted++
      if (stored.get(id) !== 1) {
        missing++
        if (missingSamples.length < 3) missingSamples.push(`${key}:${id}`)
      }
    }
  }
  add(
    'every event answered 202 is stored exactly once',
    missing === 0,
    `${accepted} accepted events in ${ledger.acceptedEvents.size} objects; ${missing} not stored once ${missingSamples.join(' ')}; deliberately not stored (answer's reason): ${[...ledger.notStored].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
  )

  // 2. Every decision of /v1/decide: one decision record in D1, by request id.
  const counts = new Map<string, number>()
  const rowsD1 = await db
    .prepare("SELECT request_id, COUNT(*) AS n FROM decision_log WHERE channel = 'api' GROUP BY request_id")
    .all<{ request_id: string; n: number }>()
  for (const r of rowsD1.results) counts.set(r.request_id, r.n)
  let lostAtRestart = 0
  let lost = 0
  const lostSamples: string[] = []
  let doubled = 0
  for (const d of ledger.decides) {
    const n = counts.get(d.requestId) ?? 0
    if (n > d.decisions) doubled++
    else if (n < d.decisions) {
      // Documented (docs/storage.md "What a decision record survives"): answered before the
      // restart and not yet in D1 then, the record sat in the local queue, which Miniflare does
      // not persist.
      const inWindow =
        ledger.restartAt !== null &&
        d.at <= ledger.restartAt &&
        !(ledger.recordsBeforeRestart?.has(d.requestId) ?? false)
      if (inWindow) lostAtRestart++
      else {
        lost++
        if (lostSamples.length < 5)
          lostSamples.push(
            ledger.restartAt === null
              ? `${d.requestId}`
              : `${((d.at - ledger.restartAt) / 1000).toFixed(1)}s`,
          )
      }
    }
  }
  add(
    'every decision produced one decision record (D1)',
    lost === 0 && doubled === 0,
    `${ledger.decides.length} decide answers; ${lost} missing (answered at ${lostSamples.join(', ') || '-'} from the restart), ${doubled} stored twice; ${lostAtRestart} in the local queue at the restart (documented window)`,
  )

  // 3. Trigger fires: each ends delivered or dead-lettered (or is still inside its window).
  const dead = new Set(
    (await db.prepare('SELECT fire_id FROM trigger_dead_letters').all<{ fire_id: string }>()).results.map(
      (r) => r.fire_id,
    ),
  )
  let fires = 0
  let delivered = 0
  let deadLettered = 0
  let inFlight = 0
  let contradictions = 0
  for (const key of ledger.customers) {
    const dump = await exportOf(key)
    for (const f of dump.trigger_fires ?? []) {
      if (f.status === 'skipped') continue
      fires++
      const id = String(f.fire_id)
      const atReceiver = ledger.webhook.delivered.has(id)
      if (f.outcome === 'delivered') {
        delivered++
        if (!atReceiver) contradictions++
      } else if (f.outcome === 'dead') {
        deadLettered++
        if (!dead.has(id)) contradictions++
      } else inFlight++
    }
  }
  add(
    'each trigger fire delivered at most once, and delivered or dead-lettered',
    contradictions === 0,
    `${fires} fires: ${delivered} delivered, ${deadLettered} dead-lettered, ${inFlight} still in their delivery window (re-sent by the outbox when it ends); receiver saw ${ledger.webhook.delivered.size} distinct fire ids, ${ledger.webhook.duplicates} repeated deliveries deduplicated by fire id, ${ledger.webhook.badSignatures} bad signatures`,
  )
  add(
    'webhook signatures valid',
    ledger.webhook.badSignatures === 0,
    `${ledger.webhook.badSignatures} refused`,
  )

  // 4. Pages: no 5xx while a last-good copy or the fallback page exists (the site has a fallback).
  add(
    'no page answered 5xx except the fallback page',
    ledger.pageViolations.length === 0,
    `${ledger.pagesFallback} answered from a stale copy or the fallback; violations: ${ledger.pageViolations.slice(0, 3).join(', ') || 'none'}`,
  )

  // 5. Erased subjects: nothing left in their object, nor in the decision log.
  let leftovers = 0
  const where: string[] = []
  for (const key of ledger.erased) {
    const c = await runtime.inspect<Record<string, number>>('/counts', key)
    for (const [table, n] of Object.entries(c)) if (n > 0) where.push(`${key} ${table}: ${n}`)
    leftovers += Object.values(c).reduce((s, n) => s + n, 0)
    const anon = key.slice(2)
    const before = leftovers
    leftovers +=
      (
        await db
          .prepare('SELECT COUNT(*) AS n FROM decision_log WHERE anonymous_id = ?')
          .bind(anon)
          .first<{ n: number }>()
      )?.n ?? 0
    if (leftovers > before) where.push(`${key} decision_log: ${leftovers - before}`)
  }
  add(
    'erased subjects have nothing left',
    leftovers === 0,
    `${ledger.erased.length} erased; ${leftovers} rows left ${where.slice(0, 3).join(', ')}`,
  )

  // 6. Caps: no reservation window over its limit (the rules' caps count per object; 200
  // concurrent reserves are covered by test/caps/reserve.test.ts in the runtime).
  let over = 0
  for (const key of ledger.customers) {
    const dump = await exportOf(key)
    const allowed = (dump.cap_reservations ?? []).filter(
      (r) => r.allowed === 1 && String(r.placement).startsWith('trigger:'),
    )
    // cart_abandoned: minimum interval 24 h: at most one allowed push/email reservation per trigger a day.
    const perTrigger = new Map<string, number>()
    for (const r of allowed)
      perTrigger.set(String(r.placement), (perTrigger.get(String(r.placement)) ?? 0) + 1)
    for (const n of perTrigger.values()) if (n > 1) over++
  }
  add(
    'no trigger cap exceeded (one fire per trigger per day)',
    over === 0,
    `${ledger.customers.size} customers; ${over} over`,
  )

  // 7. Memory: RSS of workerd over the run (after the restart only, a fresh process).
  const after = ledger.rssFromRestart === null ? ledger.rss : ledger.rss.slice(ledger.rssFromRestart)
  const series = after.length >= 5 ? after : ledger.rss
  const half = series.slice(Math.floor(series.length / 2))
  const mibPerMin = slope(half) * 60
  const first = series[0]?.mib ?? NaN
  const last = series[series.length - 1]?.mib ?? NaN
  rows.push({
    invariant: 'workerd memory (RSS)',
    held: true,
    detail: `${first.toFixed(0)} -> ${last.toFixed(0)} MiB, max ${Math.max(...series.map((p) => p.mib)).toFixed(0)} MiB; second-half trend ${mibPerMin.toFixed(1)} MiB/min (reported, see docs/reliability.md)`,
  })

  const failed = rows.filter((r) => !r.held).map((r) => r.invariant)
  const lines = [
    `Profile **${ledger.profile}**, ${ledger.minutes} min at ${ledger.rate} req/s: ${ledger.requests} requests` +
      (ledger.restartAt ? ', one runtime restart (state persisted)' : '') +
      '.',
    '',
    '| invariant | held | detail |',
    '| --- | --- | --- |',
    ...rows.map((r) => `| ${r.invariant} | ${r.held ? 'yes' : '**NO**'} | ${r.detail} |`),
    '',
    '| route | requests | p50 ms | p99 ms | statuses |',
    '| --- | --- | --- | --- | --- |',
    ...[...ledger.byRoute]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([route, r]) => {
        const s = [...r.ms].sort((a, b) => a - b)
        const st = [...r.statuses]
          .sort(([a], [b]) => a - b)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ')
        return `| ${route} | ${s.length} | ${pct(s, 50).toFixed(1)} | ${pct(s, 99).toFixed(1)} | ${st} |`
      }),
    '',
    `Faults injected: origin ${Object.entries(ledger.originFaults)
      .filter(([k]) => k !== 'none')
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; webhook ${Object.entries(ledger.webhook.injected)
      .filter(([k]) => k !== 'none')
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')} (down: connections refused while it lasted); client-side errors ${
      [...ledger.errors].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'
    }.`,
  ]
  return { failed, markdown: lines.join('\n') }
}
