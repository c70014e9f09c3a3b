/**
 * The load the proxy benchmarks put on a Worker: `total` GET requests of one path over keep-alive
 * connections, `concurrency` in flight, each slot one returning visitor whose cookies are kept
 * between its requests (as a browser's would be). Resolves with requests per second.
 */
import { Agent, request } from 'node:http'

export interface VisitorLoad {
  concurrency?: number
  /** Request headers for a slot's requests (its cookies are added). */
  headers?: (slot: number) => Record<string, string>
}

export async function loadVisitors(
  base: URL,
  path: string,
  total: number,
  opts: VisitorLoad = {},
): Promise<number> {
  const concurrency = opts.concurrency ?? 32
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const jars = Array.from({ length: concurrency }, () => new Map<string, string>())
  let next = 0
  const started = performance.now()
  await Promise.all(
    jars.map(async (jar, slot) => {
      while (next++ < total) {
        await new Promise<void>((resolve, reject) => {
          const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
          const headers = { accept: 'text/html', ...opts.headers?.(slot), ...(cookie ? { cookie } : {}) }
          const req = request({ agent, host: base.hostname, port: base.port, path, headers }, (res) => {
            for (const line of res.headers['set-cookie'] ?? []) {
              const pair = line.split(';')[0] ?? ''
              const eq = pair.indexOf('=')
              if (eq > 0) jar.set(pair.slice(0, eq), pair.slice(eq + 1))
            }
            res.resume()
            res.on('end', resolve)
          })
          req.on('error', reject)
          req.end()
        })
      }
    }),
  )
  agent.destroy()
  return total / ((performance.now() - started) / 1000)
}
