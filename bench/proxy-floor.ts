/**
 * The platform floor under a decided page, in Miniflare: what the I/O a decided page needs costs
 * by itself, with none of Gatehouse's code. Minimal Workers in front of the same storefront, in
 * ONE run, each adding one piece of that I/O to the bare passthrough:
 *
 *   bare              fetch(origin)
 *   + state read      one RPC to a SQLite Durable Object per visitor (one SELECT) before the fetch
 *   + page-view write one more RPC after it, in waitUntil (one INSERT)
 *   + record queued   one queue message per request, sent in 20 ms batches per isolate (as
 *                     Gatehouse does) in waitUntil, consumed in batches into D1 (one INSERT each)
 *   + HTMLRewriter    the origin's HTML through an HTMLRewriter with one element handler
 *
 * Gatehouse's decided page does at least all of these (docs/performance.md): if the floor itself
 * is below 0.8 of bare, no implementation of the issue-2 pipeline can reach 0.8 here.
 *
 *   npx tsx bench/proxy-floor.ts [--requests 600] [--path /product/lamp]
 */
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Miniflare } from 'miniflare'
import { unstable_getMiniflareWorkerOptions } from 'wrangler'
import { cpuMicros, drain, root } from './lib/gateway'
import { loadVisitors } from './lib/load'
// @ts-expect-error: plain ESM module without types
import { startStorefront } from '../examples/storefront/server.mjs'

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '600' },
    path: { type: 'string', default: '/product/lamp' },
  },
})
const REQUESTS = Number(args.requests)
const CONCURRENCY = 32
// Each load slot is one visitor, named in a header the floor Workers key their object by.
const load = (base: URL, total: number) =>
  loadVisitors(base, args.path!, total, {
    concurrency: CONCURRENCY,
    headers: (slot) => ({ 'x-visitor': `visitor-${slot}` }),
  })

const STEPS = ['bare', '+ state read', '+ page-view write', '+ record queued', '+ HTMLRewriter'] as const

// STEP is the index in STEPS; each Worker does every piece up to its own.
const SCRIPT = `
import { DurableObject } from 'cloudflare:workers'
export class State extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env)
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS attrs (name TEXT PRIMARY KEY, value TEXT); CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, ts INTEGER NOT NULL)')
  }
  read() { return this.ctx.storage.sql.exec('SELECT name, value FROM attrs').toArray() }
  write(id) { this.ctx.storage.sql.exec('INSERT OR IGNORE INTO events (id, ts) VALUES (?, ?)', id, Date.now()) }
}
let pending = []
let windowOpen = false
export default {
  async fetch(request, env, ctx) {
    const step = Number(env.STEP)
    const url = new URL(request.url)
    const visitor = request.headers.get('x-visitor') ?? 'anonymous'
    const stub = step >= 1 ? env.STATE.get(env.STATE.idFromName(visitor)) : null
    if (stub) await stub.read()
    let res = await fetch(env.ORIGIN_URL + url.pathname + url.search, { headers: request.headers, redirect: 'manual' })
    if (step >= 2) ctx.waitUntil(stub.write(crypto.randomUUID()))
    if (step >= 3) {
      // Batched per isolate over 20 ms, as Gatehouse sends its decision records (worker/log).
      pending.push({ body: { id: crypto.randomUUID(), visitor, path: url.pathname, at: Date.now() } })
      if (!windowOpen) {
        windowOpen = true
        ctx.waitUntil(new Promise((r) => setTimeout(r, 20)).then(() => {
          const batch = pending
          pending = []
          windowOpen = false
          return env.RECORDS.sendBatch(batch)
        }))
      }
    }
    if (step >= 4) res = new HTMLRewriter().on('[data-gatehouse-slot]', { element(el) { el.setInnerContent('x') } }).transform(res)
    return res
  },
  async queue(batch, env) {
    await env.DB.batch(batch.messages.map((m) => env.DB.prepare('INSERT OR IGNORE INTO records (id, body) VALUES (?, ?)').bind(m.body.id, JSON.stringify(m.body))))
    batch.ackAll()
  },
}
`

async function start(step: number, originUrl: string) {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(root, 'wrangler.toml'))
  const { execFileSync } = await import('node:child_process')
  const children = () =>
    new Set(
      execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.trim().endsWith('workerd'))
        .map((l) => Number(l.trim().split(/\s+/)[0])),
    )
  const before = children()
  const mf = new Miniflare({
    name: `floor-${step}`,
    modules: true,
    script: SCRIPT,
    compatibilityDate: workerOptions.compatibilityDate,
    compatibilityFlags: workerOptions.compatibilityFlags,
    host: '127.0.0.1',
    port: 0,
    bindings: { ORIGIN_URL: originUrl, STEP: String(step) },
    durableObjects: { STATE: { className: 'State', useSQLite: true } },
    queueProducers: { RECORDS: { queueName: `records-${step}` } },
    // The same consumer settings as the gateway's decision records (wrangler.toml).
    queueConsumers: { [`records-${step}`]: { maxBatchSize: 100, maxBatchTimeout: 2 } },
    d1Databases: ['DB'],
    handleRuntimeStdio: drain,
  })
  const url = await mf.ready
  const db = await mf.getD1Database('DB')
  await db.prepare('CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, body TEXT NOT NULL)').run()
  const pid = [...children()].find((p) => !before.has(p)) ?? null
  return { mf, url, pid }
}

async function main() {
  const storefront = await startStorefront({ port: 0 })
  const originUrl = `http://127.0.0.1:${(storefront.address() as AddressInfo).port}`
  const workers = []
  for (let step = 0; step < STEPS.length; step++) workers.push(await start(step, originUrl))
  try {
    console.log(
      `${args.path}: ${REQUESTS} requests at concurrency ${CONCURRENCY}, two rounds (order reversed)`,
    )
    console.log('  floor worker          req/s  ratio  CPU µs/req  ratio by CPU')
    const rps = STEPS.map(() => 0)
    const cpu = STEPS.map(() => 0)
    for (const w of workers) await load(w.url, 200)
    for (const order of [workers.keys(), [...workers.keys()].reverse()]) {
      for (const i of order) {
        const w = workers[i]!
        const before = cpuMicros(w.pid)
        rps[i]! += (await load(w.url, REQUESTS)) / 2
        const after = cpuMicros(w.pid)
        cpu[i]! += before !== null && after !== null ? (after - before) / REQUESTS / 2 : NaN
      }
    }
    for (const [i, name] of STEPS.entries()) {
      console.log(
        `  ${name.padEnd(20)} ${rps[i]!.toFixed(0).padStart(6)}  ${(rps[i]! / rps[0]!).toFixed(2)}  ${cpu[i]!.toFixed(0).padStart(10)}  ${(cpu[0]! / cpu[i]!).toFixed(2).padStart(12)}`,
      )
    }
  } finally {
    for (const w of workers) await w.mf.dispose()
    storefront.close()
  }
}

await main()
