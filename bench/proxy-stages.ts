/**
 * Where the full pipeline's time goes: the same proxied request through bundles that add one
 * feature stage at a time (bench/lib/stages-worker.ts), all in Miniflare directly, in ONE run.
 *
 *   npx tsx bench/proxy-stages.ts [--requests 600] [--path /catalog?n=1500 --path /product/lamp]
 *
 * Each load slot is one returning visitor (its cookies are kept), concurrency 32. Reports req/s
 * and the workerd CPU time per request (from /proc; steadier on a shared machine).
 */
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { parseArgs } from 'node:util'
import { build } from 'esbuild'
import { loadVisitors } from './lib/load'
import { cpuMicros, root, startGateway, startPassthrough, type RunningWorker } from './lib/gateway'
// @ts-expect-error: plain ESM module without types
import { startStorefront } from '../examples/storefront/server.mjs'

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '600' },
    // Repeatable: the paths to load (default: a decided product page and the JSON API).
    path: { type: 'string', multiple: true },
  },
})
const REQUESTS = Number(args.requests)
const CONCURRENCY = 32
const LABELS = ['proxy core', '+ consent', '+ identity', '+ touchpoint', '+ decide', '+ page views']

async function main() {
  const storefront = await startStorefront({ port: 0 })
  const originUrl = `http://127.0.0.1:${(storefront.address() as AddressInfo).port}`
  const workers: RunningWorker[] = [await startPassthrough(originUrl)]
  for (let n = 0; n < LABELS.length; n++) {
    const outfile = join(mkdtempSync(join(tmpdir(), `gatehouse-stages-${n}-`)), 'index.js')
    await build({
      entryPoints: [join(root, 'bench/lib/stages-worker.ts')],
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      conditions: ['workerd', 'worker', 'browser'],
      mainFields: ['module', 'main'],
      external: ['cloudflare:*', 'node:*'],
      define: { STAGES: String(n) },
      outfile,
      logLevel: 'error',
    })
    workers.push(await startGateway({ scriptPath: outfile, originUrl }))
  }
  const names = ['bare passthrough', ...LABELS]
  try {
    for (const path of args.path ?? ['/product/lamp', '/api/products']) {
      console.log(`\n${path}: ${REQUESTS} requests at concurrency ${CONCURRENCY}`)
      console.log('  target              req/s  ratio  CPU µs/req  ratio by CPU')
      let bare = 0
      let bareCpu = 0
      for (let i = 0; i < workers.length; i++) {
        const w = workers[i]!
        await loadVisitors(w.url, path, 100, { concurrency: CONCURRENCY })
        const before = cpuMicros(w.pid)
        const r = await loadVisitors(w.url, path, REQUESTS, { concurrency: CONCURRENCY })
        const after = cpuMicros(w.pid)
        const cpu = before !== null && after !== null ? (after - before) / REQUESTS : NaN
        if (i === 0) [bare, bareCpu] = [r, cpu]
        console.log(
          `  ${names[i]!.padEnd(18)} ${r.toFixed(0).padStart(6)}  ${(r / bare).toFixed(2)}  ${cpu.toFixed(0).padStart(10)}  ${(bareCpu / cpu).toFixed(2).padStart(12)}`,
        )
      }
    }
  } finally {
    for (const w of workers) await w.dispose()
    storefront.close()
  }
}

await main()
