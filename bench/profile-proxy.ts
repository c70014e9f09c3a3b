/**
 * A CPU profile of the gateway's isolate (the Worker and its Durable Objects share it in
 * Miniflare) under the proxy benchmark's load, through the V8 inspector: where the JavaScript
 * time of a proxied page goes. Native work (HTTP, RPC plumbing, SQLite) shows as "(program)".
 *
 *   npx tsx bench/profile-proxy.ts [--path /product/lamp] [--requests 2000] [--country DE] [--out x.cpuprofile]
 *
 * Prints the top functions by self time and by total time; the .cpuprofile file opens in Chrome
 * DevTools (Performance panel) for the full picture.
 */
import { writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
// @ts-expect-error: ws ships no types (it is Miniflare's own dependency, used here as a CDP client)
import WebSocket from 'ws'
import { buildBundle, startGateway } from './lib/gateway'
import { loadVisitors } from './lib/load'
// @ts-expect-error: plain ESM module without types
import { startStorefront } from '../examples/storefront/server.mjs'

const { values: args } = parseArgs({
  options: {
    path: { type: 'string', default: '/product/lamp' },
    requests: { type: 'string', default: '2000' },
    out: { type: 'string' },
    bundle: { type: 'string' },
    // Development location override (docs/api.md), e.g. DE for an EU visitor without consent.
    country: { type: 'string' },
  },
})
const INSPECTOR_PORT = 9229 + Math.floor(Math.random() * 500)
const visitorHeaders = () => ({
  'accept-language': 'en-GB',
  ...(args.country ? { 'x-gatehouse-country': args.country } : {}),
})

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

interface Socket {
  on(event: 'message', listener: (data: unknown) => void): void
  send(data: string): void
}

/** Minimal CDP client: one request at a time is all this needs. */
function cdp(ws: Socket) {
  let id = 0
  const pending = new Map<number, (v: unknown) => void>()
  ws.on('message', (data: unknown) => {
    const msg = JSON.parse(String(data)) as { id?: number; result?: unknown }
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result)
  })
  return (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve) => {
      pending.set(++id, resolve)
      ws.send(JSON.stringify({ id, method, params }))
    })
}

function summarise(profile: Profile): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const self = new Map<number, number>()
  profile.samples.forEach((s, i) => self.set(s, (self.get(s) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const label = (n: ProfileNode) =>
    `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').pop() ?? ''}:${n.callFrame.lineNumber + 1}`
  const selfBy = new Map<string, number>()
  const inclusiveBy = new Map<string, number>()
  for (const [id, t] of self) {
    const n = byId.get(id)!
    selfBy.set(label(n), (selfBy.get(label(n)) ?? 0) + t)
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!)
      if (seen.has(l)) continue
      seen.add(l)
      inclusiveBy.set(l, (inclusiveBy.get(l) ?? 0) + t)
    }
  }
  const top = (m: Map<string, number>, k: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([l, t]) => `${((100 * t) / total).toFixed(1).padStart(5)}%  ${l}`)
      .join('\n')
  console.log(
    `sampled ${(total / 1000).toFixed(0)} ms\n\nself time:\n${top(selfBy, 40)}\n\ntotal time:\n${top(inclusiveBy, 60)}`,
  )
}

async function main() {
  const storefront = await startStorefront({ port: 0 })
  const originUrl = `http://127.0.0.1:${(storefront.address() as AddressInfo).port}`
  const scriptPath = args.bundle ?? (await buildBundle())
  const gw = await startGateway({ scriptPath, originUrl, inspectorPort: INSPECTOR_PORT })
  try {
    await loadVisitors(gw.url, args.path!, 300, { headers: visitorHeaders })
    const targets = (await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json`)).json()) as Array<{
      id: string
      webSocketDebuggerUrl?: string
      title?: string
    }>
    const target = targets.find((t) => t.id.includes('gatehouse')) ?? targets[0]
    const ws: Socket & { once(e: string, f: () => void): void; close(): void } = new WebSocket(
      target!.webSocketDebuggerUrl ?? `ws://127.0.0.1:${INSPECTOR_PORT}/${target!.id}`,
    )
    await new Promise<void>((r) => ws.once('open', () => r()))
    const send = cdp(ws)
    await send('Profiler.enable')
    await send('Profiler.setSamplingInterval', { interval: 100 })
    await send('Profiler.start')
    const started = performance.now()
    await loadVisitors(gw.url, args.path!, Number(args.requests), { headers: visitorHeaders })
    const seconds = (performance.now() - started) / 1000
    const { profile } = (await send('Profiler.stop')) as { profile: Profile }
    ws.close()
    console.log(`${args.requests} requests to ${args.path} in ${seconds.toFixed(1)} s (profiler on)`)
    if (args.out) writeFileSync(args.out, JSON.stringify(profile))
    summarise(profile)
  } finally {
    await gw.dispose()
    storefront.close()
  }
}

await main()
