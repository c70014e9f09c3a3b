/**
 * A webhook receiver for the trigger delivery tests, run in Node by vitest.config.ts on a free
 * loopback port. It behaves like a careful production receiver: it verifies the Gatehouse
 * signature (HMAC-SHA-256 over `t.body`, 300 s replay window), deduplicates on the fire id, and
 * records everything. Tests script its next answers over HTTP:
 *
 *   POST /_control/script  { "fireId": "...", "modes": ["fail", "timeout", "ok"] }
 *                          next answers for that fire, in order (then "ok"); scripts are per fire
 *                          id so test files running side by side do not consume each other's
 *   GET  /_control/deliveries?fireId=...   { attempts, delivered, duplicates } (all fires without it)
 *   POST /_control/reset                   forget everything
 *
 * Modes: `ok` (200), `fail` (503), `reject` (400, permanent), `redirect` (302 to `/redirected` on
 * this server, where a followed delivery would be recorded), `timeout` (processes the delivery,
 * then answers only after `hangMs`, longer than the sender's budget).
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'

export async function startWebhookServer({ port = 0, secret, hangMs = 3000, toleranceSeconds = 300 } = {}) {
  let modes = new Map()
  let attempts = []
  let delivered = new Map()
  let duplicates = 0
  let duplicatesById = new Map()
  const hanging = new Set()

  function verify(header, body) {
    const m = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header ?? '')
    if (!m) return 'malformed'
    if (Math.abs(Date.now() / 1000 - Number(m[1])) > toleranceSeconds) return 'outside_window'
    const expected = createHmac('sha256', secret).update(`${m[1]}.${body}`).digest()
    const got = Buffer.from(m[2], 'hex')
    return got.length === expected.length && timingSafeEqual(got, expected) ? 'ok' : 'mismatch'
  }

  const json = (res, status, value) => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(value))
  }

  const server = createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const url = new URL(req.url ?? '/', 'http://localhost')
      if (url.pathname === '/_control/reset') {
        modes = new Map()
        attempts = []
        delivered = new Map()
        duplicates = 0
        duplicatesById = new Map()
        return json(res, 200, { ok: true })
      }
      if (url.pathname === '/_control/script') {
        const script = JSON.parse(body || '{}')
        modes.set(String(script.fireId), [...(script.modes ?? [])])
        return json(res, 200, { ok: true })
      }
      if (url.pathname === '/_control/deliveries') {
        const id = url.searchParams.get('fireId')
        const mine = (a) => id === null || a.fireId === id
        return json(res, 200, {
          attempts: attempts.filter(mine),
          delivered: [...delivered.values()].filter(mine),
          duplicates: id === null ? duplicates : (duplicatesById.get(id) ?? 0),
        })
      }

      const signature = verify(req.headers['x-gatehouse-signature'], body)
      const fireId = req.headers['x-gatehouse-fire-id'] ?? null
      const mode = modes.get(String(fireId))?.shift() ?? 'ok'
      attempts.push({ path: url.pathname, fireId, mode, signature, at: Date.now() })
      if (signature !== 'ok') return json(res, 401, { error: `signature ${signature}` })
      if (mode === 'fail') return json(res, 503, { error: 'scripted failure' })
      if (mode === 'reject') return json(res, 400, { error: 'scripted rejection' })
      if (mode === 'redirect') {
        res.writeHead(302, { location: '/redirected' })
        return res.end()
      }
      // Processed: deduplicate on the fire id, as receivers are told to.
      if (delivered.has(fireId)) {
        duplicates++
        duplicatesById.set(fireId, (duplicatesById.get(fireId) ?? 0) + 1)
      } else delivered.set(fireId, { fireId, path: url.pathname, body: JSON.parse(body), at: Date.now() })
      if (mode === 'timeout') {
        const t = setTimeout(() => {
          hanging.delete(t)
          if (!res.writableEnded) json(res, 200, { ok: true, late: true })
        }, hangMs)
        hanging.add(t)
        return
      }
      return json(res, 200, { ok: true })
    })
  })
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve))
  const close = server.close.bind(server)
  server.close = (cb) => {
    for (const t of hanging) clearTimeout(t)
    return close(cb)
  }
  return server
}
