/**
 * Runs the BUILT Gatehouse bundle in Miniflare directly (no wrangler dev proxy in between), with
 * the bindings of wrangler.toml, fresh secrets and the D1 migrations applied. Used by the proxy
 * benchmark and the browser test; also starts a bare passthrough Worker as the reference.
 */
import { execFile, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createServer } from 'node:net'
import { promisify } from 'node:util'
import type { Readable } from 'node:stream'
import { Miniflare } from 'miniflare'
import { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } from 'wrangler'

const run = promisify(execFile)
export const root = resolve(import.meta.dirname, '../..')

/** Builds the Worker as `wrangler deploy` would (rules compiled first) and returns the bundle path. */
export async function buildBundle(outdir = mkdtempSync(join(tmpdir(), 'gatehouse-build-'))): Promise<string> {
  await run('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', outdir], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
    maxBuffer: 16 * 1024 * 1024,
  })
  return join(outdir, 'index.js')
}

/** Bundles bench/lib/core-worker.ts (the proxy stages alone) with esbuild; returns the bundle path. */
export async function buildCoreBundle(
  outdir = mkdtempSync(join(tmpdir(), 'gatehouse-core-')),
): Promise<string> {
  const { build } = await import('esbuild')
  const outfile = join(outdir, 'index.js')
  await build({
    entryPoints: [join(root, 'bench/lib/core-worker.ts')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    // Provided by workerd (nodejs_compat), as wrangler leaves them when it bundles the Worker.
    external: ['cloudflare:*', 'node:*'],
    outfile,
    logLevel: 'warning',
  })
  return outfile
}

/** Secrets a running gateway needs; random per run, never written anywhere. */
export function freshSecrets(): Record<string, string> {
  const secret = () => randomBytes(32).toString('base64url')
  return {
    COOKIE_KEYS: JSON.stringify([{ kid: 'k1', secret: secret() }]),
    ID_PEPPER: secret(),
    WEBHOOK_SECRET: secret(),
  }
}

// workerd writes every console line to stdout; a benchmark must not time the terminal.
export const drain = (stdout: Readable, stderr: Readable) => {
  stdout.resume()
  stderr.resume()
}

export interface RunningWorker {
  url: URL
  mf: Miniflare
  /** The workerd process serving this instance (Linux), for CPU accounting. */
  pid: number | null
  dispose(): Promise<void>
}

/** The workerd processes this Node process has spawned. */
function childPids(): Set<number> {
  try {
    const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
    const workerd = out.split('\n').filter((line) => line.trim().endsWith('workerd'))
    return new Set(workerd.map((line) => Number(line.trim().split(/\s+/)[0])))
  } catch {
    return new Set()
  }
}

/**
 * A loopback port free right now, so the gateway's public host (PUBLIC_HOSTS) can be named before
 * it starts listening there.
 */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise))
  const { port } = server.address() as { port: number }
  await new Promise((resolvePromise) => server.close(resolvePromise))
  return port
}

/**
 * The vars a local run needs on top of wrangler.toml, whose top-level vars are production: the
 * development location override headers, and the loopback address as the one public host.
 */
export function localVars(port: number): Record<string, string> {
  return { GATEHOUSE_ENV: 'development', PUBLIC_HOSTS: `127.0.0.1:${port}` }
}

/** Starts a Miniflare instance and finds the workerd process it spawned. */
async function launch(options: ConstructorParameters<typeof Miniflare>[0]) {
  const before = childPids()
  const mf = new Miniflare(options)
  const url = await mf.ready
  const spawned = [...childPids()].filter((pid) => !before.has(pid))
  return { mf, url, pid: spawned.length === 1 ? spawned[0]! : null }
}

/**
 * CPU time (user + system) a process has used so far, in microseconds, from /proc (Linux). CPU
 * per request is steadier than requests/s on a machine shared with other work.
 */
export function cpuMicros(pid: number | null): number | null {
  if (pid === null) return null
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // Fields 14 and 15 of proc(5) (utime, stime) are at 11 and 12 after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS
  } catch {
    return null
  }
}
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

export interface GatewayOptions {
  scriptPath: string
  originUrl: string
  /** Extra or overriding bindings (vars). */
  bindings?: Record<string, string>
  /** Print the Worker's log lines (default: discard them). */
  showLogs?: boolean
  /** Open the V8 inspector on this port (bench/profile-proxy.ts). */
  inspectorPort?: number
}

/**
 * Starts the built gateway on a free loopback port with wrangler.toml's bindings, in development
 * mode with that loopback address as its public host (`localVars`).
 */
export async function startGateway(opts: GatewayOptions): Promise<RunningWorker> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(root, 'wrangler.toml'))
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { modulesRules, ...bindingsOnly } = workerOptions
  const port = await freePort()
  const { mf, url, pid } = await launch({
    ...bindingsOnly,
    name: 'gatehouse',
    modules: true,
    scriptPath: opts.scriptPath,
    // Module names are relative to this root; the bundle lives in a temp dir outside the repo.
    modulesRoot: dirname(opts.scriptPath),
    host: '127.0.0.1',
    port,
    bindings: {
      ...(workerOptions.bindings as Record<string, string>),
      ...freshSecrets(),
      ...localVars(port),
      ORIGIN_URL: opts.originUrl,
      ...opts.bindings,
    },
    ...(opts.showLogs ? {} : { handleRuntimeStdio: drain }),
    ...(opts.inspectorPort ? { inspectorPort: opts.inspectorPort } : {}),
  } as ConstructorParameters<typeof Miniflare>[0])
  await applyMigrations(mf)
  return { url, mf, pid, dispose: () => mf.dispose() }
}

/** Applies the D1 migrations (migrations/*.sql, in name order) to the `DB` of `worker` in `mf`. */
export async function applyMigrations(mf: Miniflare, worker?: string): Promise<void> {
  const dir = join(root, 'migrations')
  if (!existsSync(dir)) return
  const db = await mf.getD1Database('DB', worker)
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    for (const statement of unstable_splitSqlQuery(readFileSync(join(dir, file), 'utf8'))) {
      await db.prepare(statement).run()
    }
  }
}

/** Starts the proxy-core Worker (no bindings beyond the origin). */
export async function startCore(scriptPath: string, originUrl: string): Promise<RunningWorker> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(root, 'wrangler.toml'))
  const port = await freePort()
  const { mf, url, pid } = await launch({
    name: 'gatehouse-core',
    modules: true,
    scriptPath,
    modulesRoot: dirname(scriptPath),
    compatibilityDate: workerOptions.compatibilityDate,
    compatibilityFlags: workerOptions.compatibilityFlags,
    host: '127.0.0.1',
    port,
    bindings: { ORIGIN_URL: originUrl, ...localVars(port) },
    handleRuntimeStdio: drain,
  })
  return { url, mf, pid, dispose: () => mf.dispose() }
}

/** The reference: a Worker that only forwards the request to the origin and returns its answer. */
const PASSTHROUGH = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url)
    return fetch(env.ORIGIN_URL + url.pathname + url.search, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
    })
  },
}
`

/** Starts the bare passthrough Worker (same compatibility settings as Gatehouse). */
export async function startPassthrough(originUrl: string): Promise<RunningWorker> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(root, 'wrangler.toml'))
  const { mf, url, pid } = await launch({
    name: 'passthrough',
    modules: true,
    script: PASSTHROUGH,
    compatibilityDate: workerOptions.compatibilityDate,
    compatibilityFlags: workerOptions.compatibilityFlags,
    host: '127.0.0.1',
    port: 0,
    bindings: { ORIGIN_URL: originUrl },
    handleRuntimeStdio: drain,
  })
  return { url, mf, pid, dispose: () => mf.dispose() }
}
