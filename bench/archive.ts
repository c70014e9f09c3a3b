/**
 * Decision log capacity on the BUILT bundle in Miniflare directly (docs/scale.md):
 *
 * - queue consumer throughput: decision records sent to the real `gatehouse-decisions` queue until
 *   every one is in D1 and in the R2 archive (sealed, so with one archive-key RPC per subject per
 *   batch), records/s end to end;
 * - D1 inserts/s: the consumer's own statement (`INSERT OR IGNORE INTO decision_log`), 100 per
 *   `batch()`, from a Worker;
 * - one ExperimentState: `record()` batches/s (each batch as an isolate flushes it) and `stats()`
 *   reads/s, every call serialised through the one object;
 * - bytes per record: archive (gzip NDJSON, sealed) and D1 (the row's column bytes).
 *
 *   npx tsx bench/archive.ts                          (builds the bundle first)
 *   npx tsx bench/archive.ts --records 5000 --subjects 1000
 */
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { Miniflare } from 'miniflare'
import { unstable_getMiniflareWorkerOptions } from 'wrangler'
import { applyMigrations, buildBundle, drain, freshSecrets, root } from './lib/gateway'

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '5000' },
    subjects: { type: 'string', default: '1000' },
    inserts: { type: 'string', default: '5000' },
    batches: { type: 'string', default: '2000' },
    bundle: { type: 'string' },
  },
})

/** The bench driver: runs inside workerd with the gateway's queue, D1 and Durable Objects. */
const DRIVER = `
const record = (i, subjects, run) => ({
  id: run + '-' + i, time: new Date().toISOString(), requestId: 'req-' + run + '-' + i, channel: 'page',
  placement: 'home_hero', variant: i % 2 ? 'spring_sale' : null, reason: 'rule:spring_returning', fallback: null,
  rulesVersion: 'sha256:bench', consentSnapshotId: 'cs-bench',
  consent: { jurisdiction: 'EU', purposes: { storage: true, personalization: true, measurement: true }, saleShareOptOut: false },
  identityBasis: 'cookie', customerId: i % 3 ? null : 'bench-c-' + (i % subjects), anonymousId: 'bench-a-' + (i % subjects),
  experiment: { id: 'hero_test', arm: i % 2 ? 'a' : 'b', holdout: false }, caps: { hero_daily: { used: 1, limit: 3 } },
  trace: ['rule:spring_returning matched audience returning', 'rule:default skipped'],
})
export default {
  async fetch(request, env) {
    const u = new URL(request.url)
    const n = Number(u.searchParams.get('n')), run = u.searchParams.get('run'), mode = u.searchParams.get('mode')
    const started = Date.now()
    if (mode === 'send') {
      const subjects = Number(u.searchParams.get('subjects'))
      for (let i = 0; i < n; i += 100)
        await env.DECISIONS.sendBatch(Array.from({ length: Math.min(100, n - i) }, (_, j) => ({ body: record(i + j, subjects, run), contentType: 'json' })))
    } else if (mode === 'insert') {
      const sql = 'INSERT OR IGNORE INTO decision_log (id, at, time, request_id, channel, placement, variant, reason, fallback, rules_version, consent_snapshot_id, consent, identity_basis, customer_id, anonymous_id, experiment, caps, trace, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
      for (let i = 0; i < n; i += 100) {
        await env.DB.batch(Array.from({ length: Math.min(100, n - i) }, (_, j) => {
          const r = record(i + j, 1000, run)
          return env.DB.prepare(sql).bind(r.id, Date.now(), r.time, r.requestId, r.channel, r.placement, r.variant, r.reason, r.fallback, r.rulesVersion, r.consentSnapshotId, JSON.stringify(r.consent), r.identityBasis, r.customerId, r.anonymousId, JSON.stringify(r.experiment), JSON.stringify(r.caps), JSON.stringify(r.trace), Date.now())
        }))
      }
    } else {
      const stub = env.EXPERIMENT.get(env.EXPERIMENT.idFromName('bench-' + run))
      let next = 0
      await Promise.all(Array.from({ length: 32 }, async () => {
        while (next < n) {
          const i = next++
          if (mode === 'record') await stub.record({ id: run + '-' + i, deltas: [{ arm: 'a', exposures: 40, conversions: 1 }, { arm: 'b', exposures: 38, conversions: 2 }] })
          else await stub.stats()
        }
      }))
    }
    return Response.json({ ms: Date.now() - started })
  },
}
`

const { workerOptions } = unstable_getMiniflareWorkerOptions(join(root, 'wrangler.toml'))
// eslint-disable-next-line @typescript-eslint/no-unused-vars
const { modulesRules, ...bindingsOnly } = workerOptions
const scriptPath = args.bundle ?? (await buildBundle())
const dbId = '00000000-0000-0000-0000-000000000000'
const mf = new Miniflare({
  host: '127.0.0.1',
  port: 0,
  handleRuntimeStdio: drain,
  workers: [
    {
      ...bindingsOnly,
      name: 'gatehouse',
      modules: true,
      scriptPath,
      modulesRoot: dirname(scriptPath),
      bindings: { ...(workerOptions.bindings as Record<string, string>), ...freshSecrets() },
      routes: ['gate.bench/*'],
    },
    {
      name: 'driver',
      modules: true,
      script: DRIVER,
      compatibilityDate: workerOptions.compatibilityDate,
      durableObjects: { EXPERIMENT: { className: 'ExperimentState', scriptName: 'gatehouse' } },
      queueProducers: { DECISIONS: { queueName: 'gatehouse-decisions' } },
      d1Databases: { DB: dbId },
      routes: ['driver.bench/*'],
    },
  ],
} as unknown as ConstructorParameters<typeof Miniflare>[0])
await mf.ready
const db = await mf.getD1Database('DB')
await applyMigrations(mf, 'gatehouse')

const drive = async (mode: string, n: number, extra = '') => {
  const res = await mf.dispatchFetch(
    `http://driver.bench/?mode=${mode}&n=${n}&run=${mode}-${Date.now()}${extra}`,
  )
  if (!res.ok) throw new Error(`driver ${mode}: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { ms: number }).ms
}
const fmt = (n: number) => Math.round(n).toLocaleString('en-US')

const RECORDS = Number(args.records)
const SUBJECTS = Number(args.subjects)
const started = performance.now()
await drive('send', RECORDS, `&subjects=${SUBJECTS}`)
let archived = 0
for (;;) {
  const row = await db
    .prepare('SELECT COUNT(*) AS n FROM decision_log WHERE archived_at IS NOT NULL')
    .first<{ n: number }>()
  archived = row!.n
  if (archived >= RECORDS) break
  await new Promise((resolve) => setTimeout(resolve, 100))
}
const consumerSeconds = (performance.now() - started) / 1000

const bucket = await mf.getR2Bucket('ARCHIVE')
let bytes = 0
let objects = 0
let cursor: string | undefined
do {
  const page = await bucket.list({ prefix: 'decisions/', cursor })
  for (const o of page.objects) bytes += o.size
  objects += page.objects.length
  cursor = page.truncated ? page.cursor : undefined
} while (cursor)
const d1Row = await db
  .prepare(
    `SELECT AVG(length(id) + 8 + length(time) + length(request_id) + length(channel) + length(placement)
       + coalesce(length(variant), 0) + length(reason) + coalesce(length(fallback), 0) + length(rules_version)
       + length(consent_snapshot_id) + length(consent) + length(identity_basis) + coalesce(length(customer_id), 0)
       + coalesce(length(anonymous_id), 0) + coalesce(length(experiment), 0) + coalesce(length(caps), 0)
       + length(trace) + 16) AS b FROM decision_log`,
  )
  .first<{ b: number }>()

const INSERTS = Number(args.inserts)
const insertMs = await drive('insert', INSERTS)
const BATCHES = Number(args.batches)
const recordMs = await drive('record', BATCHES)
const statsMs = await drive('stats', BATCHES)
await mf.dispose()

console.log(`decision log capacity (built bundle, Miniflare, ${new Date().toISOString()})`)
console.log(`| measure | figure |`)
console.log(`| --- | --- |`)
console.log(
  `| queue consumer, D1 + sealed R2 archive (${fmt(RECORDS)} records, ${fmt(SUBJECTS)} subjects) | ${fmt(RECORDS / consumerSeconds)} records/s |`,
)
console.log(`| D1 inserts (decision_log, 100 per batch()) | ${fmt(INSERTS / (insertMs / 1000))} rows/s |`)
console.log(
  `| one ExperimentState, record() (2 arms per batch) | ${fmt(BATCHES / (recordMs / 1000))} batches/s |`,
)
console.log(`| one ExperimentState, stats() | ${fmt(BATCHES / (statsMs / 1000))} reads/s |`)
console.log(
  `| archive: bytes per record (gzip NDJSON, sealed; ${objects} objects) | ${fmt(bytes / archived)} B |`,
)
console.log(`| D1: column bytes per decision_log row (before indexes) | ${fmt(d1Row!.b)} B |`)
