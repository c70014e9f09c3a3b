/**
 * Customer-state benchmark (caps, events, triggers), on the BUILT bundle in Miniflare directly:
 *
 * - cap check-and-reserve ops/s on ONE customer object (every call serialised through it) and
 *   across MANY objects, called from a Worker as the decision engine calls it (a small driver
 *   Worker in the same Miniflare, bound to the gateway's CUSTOMER namespace), against the same
 *   objects' cheapest durable write (`setAttributes`, one row: the reference, since every reserve
 *   must commit a row before it answers) and read-only `getDecisionState()`;
 * - events ingest throughput through `POST /v1/events` (full pipeline, batches of 20), against
 *   the same batches from a visitor without consent (validated, nothing stored) in the same run;
 * - trigger-to-delivery delay p50/p99: cart-abandonment timers that are due go through the alarm,
 *   the high-priority queue and the consumer to a local webhook receiver (Node).
 *
 *   npx tsx bench/state.ts                      (builds the bundle first; about a minute)
 *   npx tsx bench/state.ts --ops 3000 --customers 200 --fires 60
 */
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import type { Readable } from 'node:stream'
import { Miniflare } from 'miniflare'
import { unstable_getMiniflareWorkerOptions } from 'wrangler'
import { applyMigrations, buildBundle, freshSecrets, root } from './lib/gateway'
// @ts-expect-error: plain ESM module without types
import { startWebhookServer } from '../test/support/webhook-server.mjs'

const { values: args } = parseArgs({
  options: {
    ops: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '32' },
    customers: { type: 'string', default: '200' },
    batches: { type: 'string', default: '300' },
    fires: { type: 'string', default: '60' },
    bundle: { type: 'string' },
  },
})
const OPS = Number(args.ops)
const CONCURRENCY = Number(args.concurrency)
const CUSTOMERS = Number(args.customers)
const BATCHES = Number(args.batches)
const FIRES = Number(args.fires)

/** Runs `n` calls of `task` with at most `concurrency` in flight; returns calls per second. */
async function throughput(
  n: number,
  concurrency: number,
  task: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await task(next++)
    }),
  )
  return n / ((performance.now() - started) / 1000)
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')

/** The bench driver: calls CustomerState from inside workerd, as the decision engine does. */
const DRIVER = `
export default {
  async fetch(request, env) {
    const u = new URL(request.url)
    const n = Number(u.searchParams.get('n')), c = Number(u.searchParams.get('c'))
    const customers = Number(u.searchParams.get('customers')), prefix = u.searchParams.get('prefix')
    const mode = u.searchParams.get('mode')
    const stubs = Array.from({ length: customers }, (_, i) => env.CUSTOMER.get(env.CUSTOMER.idFromName(customers === 1 ? prefix : prefix + i)))
    let next = 0, done = 0, allowed = 0
    await Promise.all(Array.from({ length: c }, async () => {
      while (next < n) {
        const i = next++
        const s = stubs[i % customers]
        if (mode === 'reserve') {
          const [r] = await s.reserve([{ decisionId: prefix + '-' + i + '-' + n, placement: 'home_hero', campaign: 'spring', channel: 'web', tags: ['promo'] }])
          if (r.allowed) allowed++
        } else if (mode === 'write') await s.setAttributes([{ name: 'bench', value: i, source: 'app', at: Date.now() }])
        else await s.getDecisionState()
        done++
      }
    }))
    return Response.json({ done, allowed })
  },
}
`

// workerd writes every console line to stdout; a benchmark must not time the terminal.
const drain = (stdout: Readable, stderr: Readable) => {
  stdout.resume()
  stderr.resume()
}

/** The built gateway (wrangler.toml bindings, D1 migrated) plus the driver Worker, in one Miniflare. */
async function startWithDriver(scriptPath: string, bindings: Record<string, string>) {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(root, 'wrangler.toml'))
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { modulesRules, ...bindingsOnly } = workerOptions
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
        bindings: {
          ...(workerOptions.bindings as Record<string, string>),
          ...freshSecrets(),
          ORIGIN_URL: 'http://127.0.0.1:9',
          // The development location override headers drive the visitors below.
          GATEHOUSE_ENV: 'development',
          ...bindings,
        },
        routes: ['gate.bench/*'],
      },
      {
        name: 'driver',
        modules: true,
        script: DRIVER,
        compatibilityDate: workerOptions.compatibilityDate,
        durableObjects: { CUSTOMER: { className: 'CustomerState', scriptName: 'gatehouse' } },
        routes: ['driver.bench/*'],
      },
    ],
  } as unknown as ConstructorParameters<typeof Miniflare>[0])
  const url = await mf.ready
  await applyMigrations(mf, 'gatehouse')
  return { url, mf, dispose: () => mf.dispose() }
}

async function main(): Promise<void> {
  const secret = 'bench-webhook-secret-0123456789abcdef'
  const hooks = await startWebhookServer({ port: 0, secret })
  const hookBase = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`
  const scriptPath = args.bundle ?? (await buildBundle())
  const gw = await startWithDriver(scriptPath, {
    WEBHOOK_SECRET: secret,
    PUSH_WEBHOOK_URL: `${hookBase}/push`,
    EMAIL_WEBHOOK_URL: `${hookBase}/email`,
  })
  try {
    const drive = async (mode: 'reserve' | 'read' | 'write', customers: number, prefix: string, n = OPS) => {
      const u = new URL('http://driver.bench/drive')
      Object.entries({ mode, customers, prefix, n, c: CONCURRENCY }).forEach(([k, v]) =>
        u.searchParams.set(k, String(v)),
      )
      const started = performance.now()
      const res = await gw.mf.dispatchFetch(u.toString())
      const body = (await res.json()) as { done: number; allowed: number }
      if (body.done !== n) throw new Error(`driver did ${body.done} of ${n}`)
      return n / ((performance.now() - started) / 1000)
    }
    await drive('reserve', 1, 'c:warm', 300)
    const readOne = await drive('read', 1, 'c:bench-one')
    const writeOne = await drive('write', 1, 'c:bench-one')
    const reserveOne = await drive('reserve', 1, 'c:bench-one')
    await drive('read', CUSTOMERS, 'c:bench-many-', CUSTOMERS)
    const readMany = await drive('read', CUSTOMERS, 'c:bench-many-')
    const writeMany = await drive('write', CUSTOMERS, 'c:bench-many-')
    const reserveMany = await drive('reserve', CUSTOMERS, 'c:bench-many-')
    const ns = (await gw.mf.getDurableObjectNamespace('CUSTOMER', 'gatehouse')) as unknown as {
      idFromName(n: string): unknown
      get(id: unknown): {
        setAttributes(w: unknown[]): Promise<unknown>
        recordEvents(i: unknown): Promise<unknown>
      }
    }
    const stub = (name: string) => ns.get(ns.idFromName(name))

    // Events through the gateway: US visitors (opt-out: measurement allowed), one id per visitor.
    const base = gw.url
    const visitors: string[] = []
    for (let i = 0; i < 50; i++) {
      const res = await fetch(new URL('/v1/events', base), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-gatehouse-country': 'US',
          'x-gatehouse-region': 'TX',
        },
        body: JSON.stringify({ events: [] }),
      })
      await res.arrayBuffer()
      visitors.push(res.headers.get('x-gatehouse-id') ?? '')
    }
    const batch = () =>
      Array.from({ length: 20 }, (_, k) => ({
        id: crypto.randomUUID(),
        type: k % 5 === 0 ? 'add_to_cart' : 'product_view',
        ts: new Date().toISOString(),
        props: { sku: `sku-${k}` },
      }))
    // Reference: the same route and batches from an EU visitor without consent (validated, nothing stored).
    const unstored = await throughput(BATCHES, CONCURRENCY, async () => {
      const r = await fetch(new URL('/v1/events', base), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-gatehouse-country': 'DE' },
        body: JSON.stringify({ events: batch() }),
      })
      await r.arrayBuffer()
    })
    let accepted = 0
    const batchesPerSecond = await throughput(BATCHES, CONCURRENCY, async (i) => {
      const events = batch()
      const r = await fetch(new URL('/v1/events', base), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-gatehouse-country': 'US',
          'x-gatehouse-region': 'TX',
          'x-gatehouse-id': visitors[i % visitors.length]!,
        },
        body: JSON.stringify({ events }),
      })
      const body = (await r.json()) as { accepted?: number }
      accepted += body.accepted ?? 0
    })

    // Trigger-to-delivery: due abandonment timers on FIRES customers reachable by push.
    const now = Date.now()
    const fireIds: string[] = []
    await Promise.all(
      Array.from({ length: FIRES }, async (_, i) => {
        const key = `c:bench-fire-${now}-${i}`
        const s = stub(key)
        await s.setAttributes([{ name: 'push_token_present', value: true, source: 'crm', at: now }])
        const eventId = crypto.randomUUID()
        fireIds.push(`cart_abandoned:${eventId}`)
        await s.recordEvents({
          stateKey: key,
          source: 'web',
          purposes: { storage: true, measurement: true, personalization: false, advertising: false },
          // Started 30 minutes ago: the timer is due at once and the alarm fires it.
          events: [{ id: eventId, type: 'add_to_cart', ts: now - 30 * 60_000 - 100, props: {} }],
        })
      }),
    )
    const until = Date.now() + 60_000
    let delivered: Array<{ fireId: string; at: number; body: { firedAt: number } }> = []
    while (Date.now() < until) {
      const r = await fetch(`${hookBase}/_control/deliveries`)
      delivered = ((await r.json()) as { delivered: typeof delivered }).delivered.filter((d) =>
        fireIds.includes(d.fireId),
      )
      if (delivered.length >= FIRES) break
      await new Promise((r) => setTimeout(r, 200))
    }
    const delays = delivered.map((d) => d.at - d.body.firedAt).sort((a, b) => a - b)

    console.log('\n## Customer state (bench/state.ts)\n')
    console.log('| measurement | Gatehouse | reference | ratio |')
    console.log('| --- | --- | --- | --- |')
    console.log(
      `| reserve, one customer object (ops/s) | ${fmt(reserveOne)} | one-row write (setAttributes): ${fmt(writeOne)}; read (getDecisionState): ${fmt(readOne)} | ${(reserveOne / writeOne).toFixed(2)} of the write |`,
    )
    console.log(
      `| reserve, ${CUSTOMERS} customer objects (ops/s) | ${fmt(reserveMany)} | one-row write: ${fmt(writeMany)}; read: ${fmt(readMany)} | ${(reserveMany / writeMany).toFixed(2)} of the write |`,
    )
    console.log(
      `| POST /v1/events, 20 per batch, stored (events/s) | ${fmt(batchesPerSecond * 20)} | same batches, not stored (no consent): ${fmt(unstored * 20)} | ${(batchesPerSecond / unstored).toFixed(2)} |`,
    )
    console.log(
      `| trigger-to-delivery delay (ms) | p50 ${delays.length ? pct(delays, 50) : 'n/a'}, p99 ${delays.length ? pct(delays, 99) : 'n/a'} | ${delivered.length}/${FIRES} delivered | |`,
    )
    console.log(
      `\nops=${OPS} concurrency=${CONCURRENCY} customers=${CUSTOMERS} batches=${BATCHES} accepted=${accepted}`,
    )
  } finally {
    await gw.dispose()
    hooks.close()
  }
}

await main()
