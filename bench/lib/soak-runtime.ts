/**
 * The soak's runtime: the BUILT gateway in Miniflare with persisted Durable Objects, D1 and cache
 * under one directory, so a restart (dispose, start again on the same port with the same secrets)
 * keeps the state, as a deploy or an eviction would. Beside it, a test-only inspector Worker bound
 * to the gateway's CustomerState class reads objects through their own RPCs (`exportAll`,
 * `counts`) for the end-of-run invariants; it is never part of the production bundle.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Miniflare } from 'miniflare'
import { unstable_getMiniflareWorkerOptions } from 'wrangler'
import { applyMigrations, drain, freePort, freshSecrets, localVars, root } from './gateway'

const INSPECTOR = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url)
    const key = url.searchParams.get('key')
    const stub = env.CUSTOMER.get(env.CUSTOMER.idFromName(key))
    if (url.pathname === '/export') return Response.json(await stub.exportAll())
    if (url.pathname === '/counts') return Response.json(await stub.counts())
    return new Response('not found', { status: 404 })
  },
}
`

export interface SoakRuntimeOptions {
  scriptPath: string
  originUrl: string
  persistDir: string
  webhookUrl: string
  /** Extra vars (JWKS, ingest key hashes). */
  bindings: Record<string, string>
}

export interface SoakRuntime {
  url: URL
  secrets: Record<string, string>
  pid(): number | null
  mf(): Miniflare
  restart(): Promise<void>
  inspect<T>(path: string, key: string): Promise<T>
  dispose(): Promise<void>
}

function workerdPids(): number[] {
  try {
    const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
    return out
      .split('\n')
      .filter((l) => l.trim().endsWith('workerd'))
      .map((l) => Number(l.trim().split(/\s+/)[0]))
  } catch {
    return []
  }
}

export async function startSoakRuntime(opts: SoakRuntimeOptions): Promise<SoakRuntime> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(root, 'wrangler.toml'))
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { modulesRules, ratelimits, ...bindingsOnly } = workerOptions as typeof workerOptions & {
    ratelimits?: Record<string, unknown>
  }
  const port = await freePort()
  const secrets = freshSecrets()
  // One loopback address sends all the soak's traffic: the per-IP and per-visitor limits would
  // answer most of it 429. The harness raises them (the limiter itself still runs).
  const soakLimits = Object.fromEntries(
    Object.keys(ratelimits ?? {}).map((name) => [name, { simple: { limit: 1_000_000, period: 60 } }]),
  )
  const options = {
    host: '127.0.0.1',
    port,
    durableObjectsPersist: join(opts.persistDir, 'do'),
    d1Persist: join(opts.persistDir, 'd1'),
    cachePersist: join(opts.persistDir, 'cache'),
    handleRuntimeStdio: drain,
    workers: [
      {
        ...bindingsOnly,
        ratelimits: soakLimits,
        name: 'gatehouse',
        modules: true,
        scriptPath: opts.scriptPath,
        modulesRoot: dirname(opts.scriptPath),
        bindings: {
          ...(workerOptions.bindings as Record<string, string>),
          ...secrets,
          ...localVars(port),
          ORIGIN_URL: opts.originUrl,
          PUSH_WEBHOOK_URL: `${opts.webhookUrl}/push`,
          EMAIL_WEBHOOK_URL: `${opts.webhookUrl}/email`,
          SMS_WEBHOOK_URL: `${opts.webhookUrl}/sms`,
          ...opts.bindings,
        },
      },
      {
        name: 'soak-inspector',
        modules: true,
        script: INSPECTOR,
        compatibilityDate: workerOptions.compatibilityDate,
        durableObjects: { CUSTOMER: { className: 'CustomerState', scriptName: 'gatehouse' } },
      },
    ],
  } as unknown as ConstructorParameters<typeof Miniflare>[0]

  let before = new Set(workerdPids())
  let mf = new Miniflare(options)
  const url = await mf.ready
  let pid = workerdPids().find((p) => !before.has(p)) ?? null
  // Once, on the first start: the persisted database keeps them across restarts.
  await applyMigrations(mf, 'gatehouse')

  return {
    url,
    secrets,
    pid: () => pid,
    mf: () => mf,
    async restart() {
      await mf.dispose()
      before = new Set(workerdPids())
      mf = new Miniflare(options)
      await mf.ready
      pid = workerdPids().find((p) => !before.has(p)) ?? null
    },
    async inspect<T>(path: string, key: string): Promise<T> {
      const worker = await mf.getWorker('soak-inspector')
      const res = await worker.fetch(`http://inspector${path}?key=${encodeURIComponent(key)}`)
      if (!res.ok) throw new Error(`inspector ${path} ${key}: ${res.status}`)
      return (await res.json()) as T
    },
    dispose: () => mf.dispose(),
  }
}

/** Resident memory of a process in MiB (Linux /proc), or null. */
export function rssMiB(pid: number | null): number | null {
  if (pid === null) return null
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : null
  } catch {
    return null
  }
}
