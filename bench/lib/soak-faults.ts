/**
 * The soak's fault injectors, loopback only: a proxy in front of the demo storefront that turns
 * answers slow, 5xx, reset or truncated on command, and a webhook receiver that records trigger
 * deliveries by fire id (verifying the signature, deduplicating as receivers must) and can
 * answer 5xx, hang past the sender's budget, answer slowly, or be down (connections refused).
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export type OriginFault = 'none' | 'slow' | '5xx' | 'reset' | 'truncated'

export interface FaultyOrigin {
  url: string
  fault: OriginFault
  /** Requests answered with each fault. */
  injected: Record<OriginFault, number>
  close(): Promise<void>
}

/** A proxy to `upstream` that applies `fault` to every request while it is set. */
export async function startFaultyOrigin(upstream: string): Promise<FaultyOrigin> {
  const target = new URL(upstream)
  const state: FaultyOrigin = {
    url: '',
    fault: 'none',
    injected: { none: 0, slow: 0, '5xx': 0, reset: 0, truncated: 0 },
    close: async () => {},
  }
  const server = createServer((req, res) => {
    const fault = state.fault
    state.injected[fault]++
    if (fault === '5xx') {
      res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway (injected)')
      return
    }
    if (fault === 'reset') {
      req.socket.destroy()
      return
    }
    const forward = () => {
      const up = request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (upRes) => {
          if (fault === 'truncated') {
            // Promise the whole body, send half of the first chunk, then cut the connection.
            res.writeHead(upRes.statusCode ?? 200, upRes.headers)
            upRes.once('data', (chunk: Buffer) => {
              res.write(chunk.subarray(0, Math.max(1, chunk.length >> 1)))
              res.socket?.destroy()
              upRes.destroy()
            })
            return
          }
          res.writeHead(upRes.statusCode ?? 502, upRes.headers)
          upRes.pipe(res)
        },
      )
      up.on('error', () => res.socket?.destroy())
      req.pipe(up)
    }
    if (fault === 'slow') setTimeout(forward, 1500)
    else forward()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  state.close = () => closeServer(server)
  return state
}

export type WebhookFault = 'none' | '5xx' | 'hang' | 'slow' | 'down'

export interface SoakWebhook {
  url: string
  fault: WebhookFault
  /** Requests answered (or dropped) with each fault. */
  injected: Record<WebhookFault, number>
  /** Fire ids accepted (2xx) once each, with the channel path. */
  delivered: Map<string, string>
  /** Deliveries of a fire id already accepted (deduplicated, as a receiver must). */
  duplicates: number
  badSignatures: number
  setFault(f: WebhookFault): Promise<void>
  close(): Promise<void>
}

/** Gatehouse's signature: HMAC-SHA-256 over `<t>.<body>` (worker/delivery/sign.ts, docs/events.md). */
function signatureOk(secret: string, header: string | undefined, body: string): boolean {
  const m = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header ?? '')
  if (!m) return false
  const want = createHmac('sha256', secret).update(`${m[1]}.${body}`).digest()
  return timingSafeEqual(want, Buffer.from(m[2]!, 'hex'))
}

export async function startSoakWebhook(secret: string): Promise<SoakWebhook> {
  let server: Server | null = null
  let port = 0
  const hooks: SoakWebhook = {
    url: '',
    fault: 'none',
    injected: { none: 0, '5xx': 0, hang: 0, slow: 0, down: 0 },
    delivered: new Map(),
    duplicates: 0,
    badSignatures: 0,
    async setFault(f) {
      if (f === 'down' && server) {
        await closeServer(server)
        server = null
      } else if (f !== 'down' && !server) await listen()
      hooks.fault = f
    },
    close: async () => {
      if (server) await closeServer(server)
    },
  }
  const accept = (fireId: string, path: string, res: import('node:http').ServerResponse) => {
    if (hooks.delivered.has(fireId)) hooks.duplicates++
    else hooks.delivered.set(fireId, path)
    res.writeHead(200).end('ok')
  }
  const listen = async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        const fireId = String(req.headers['x-gatehouse-fire-id'] ?? '')
        if (!signatureOk(secret, req.headers['x-gatehouse-signature'] as string | undefined, body)) {
          hooks.badSignatures++
          res.writeHead(401).end()
          return
        }
        const fault = hooks.fault
        hooks.injected[fault]++
        if (fault === '5xx') res.writeHead(503).end()
        // Hang: processed, but the answer comes after the sender's budget (a timeout it retries).
        else if (fault === 'hang') setTimeout(() => accept(fireId, req.url ?? '', res), 7000)
        else if (fault === 'slow') setTimeout(() => accept(fireId, req.url ?? '', res), 1000)
        else accept(fireId, req.url ?? '', res)
      })
    })
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', r))
    port = (server!.address() as AddressInfo).port
    hooks.url = `http://127.0.0.1:${port}`
  }
  await listen()
  return hooks
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((r) => server.close(() => r()))
}
