/**
 * Soak and fault harness (`npm run soak`): the BUILT gateway in Miniflare with persisted state, in
 * front of the demo storefront, under a mixed load for a bounded time while faults are injected on
 * a schedule; at the end the invariants are checked from the stores themselves (CustomerState
 * objects through a test-only inspector Worker, D1, the webhook receiver), a table is written to
 * bench/results/, and the exit status is non-zero when an invariant fails.
 *
 *   npm run soak -- --minutes 1 --rate 20              (the CI profile)
 *   npm run soak -- --minutes 10 --rate 25             (by hand: docs/reliability.md)
 *   npm run soak -- --minutes 3 --rate 25 --profile returning   (memory: returning visitors only)
 *
 * Loopback only; `--minutes` at most 60 and `--rate` at most 200 requests/s. Load: new and
 * returning visitors on pages (EU without consent, EU with a TC string, US with GPC), app
 * `/v1/decide` calls (some as logins: a customer JWT meeting the visitor's id), event batches with
 * duplicates and late arrivals, server ingestion (profile attributes and backdated carts, so
 * cart-abandonment triggers fire and reach the webhook), and DSAR erasure (`DELETE /v1/me`).
 * Faults (mixed profile): origin slow, 5xx, connection resets and truncated bodies through a
 * fault-injecting proxy; the webhook receiver answering 5xx, hanging past the sender's budget,
 * slow, and down; the runtime restarted mid-run with its state kept.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import { buildBundle, root } from './lib/gateway'
import { startFaultyOrigin, startSoakWebhook, type OriginFault, type WebhookFault } from './lib/soak-faults'
import { rssMiB, startSoakRuntime } from './lib/soak-runtime'
import { checkInvariants, type SoakLedger } from './lib/soak-invariants'
import { ALL_PURPOSES, tcCookie } from '../test/consent/consent-support'
// @ts-expect-error: plain ESM module without types
import { startStorefront } from '../examples/storefront/server.mjs'

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    rate: { type: 'string', default: '20' },
    profile: { type: 'string', default: 'mixed' },
    bundle: { type: 'string' },
    out: { type: 'string' },
  },
})
const MINUTES = Math.min(60, Math.max(0.25, Number(args.minutes) || 1))
const RATE = Math.min(200, Math.max(1, Number(args.rate) || 20))
const PROFILE = args.profile === 'returning' ? 'returning' : 'mixed'
const DURATION_MS = MINUTES * 60_000

const JWT_ISSUER = 'https://auth.gatehouse.test/'
const JWT_AUDIENCE = 'gatehouse'

interface Visitor {
  cookie: string
  anonId: string
  sentEvents: string[]
}

/** The anonymous id inside the gateway's signed id cookie (`v1.<kid>.<claims>.<mac>`). */
function anonIdOf(value: string): string | null {
  try {
    const claims = JSON.parse(Buffer.from(value.split('.')[2] ?? '', 'base64url').toString('utf8')) as {
      a?: string
    }
    return typeof claims.a === 'string' ? claims.a : null
  } catch {
    return null
  }
}

function idCookie(res: Response): string | null {
  for (const line of res.headers.getSetCookie()) {
    const m = /^gh_id=([^;]+)/.exec(line)
    if (m && m[1]) return m[1]
  }
  return null
}

async function main(): Promise<number> {
  const started = new Date()
  const scriptPath = args.bundle ?? (await buildBundle())
  const storefront = (await startStorefront({ port: 0 })) as import('node:http').Server
  const origin = await startFaultyOrigin(`http://127.0.0.1:${(storefront.address() as AddressInfo).port}`)
  const webhookSecret = randomBytes(32).toString('base64url')
  const webhook = await startSoakWebhook(webhookSecret)

  const { publicKey, privateKey } = await generateKeyPair('RS256')
  const jwk = { ...(await exportJWK(publicKey)), kid: 'soak-1', alg: 'RS256', use: 'sig' }
  const ingestKey = randomBytes(24).toString('base64url')
  const persistDir = mkdtempSync(join(tmpdir(), 'gatehouse-soak-'))
  const runtime = await startSoakRuntime({
    scriptPath,
    originUrl: origin.url,
    persistDir,
    webhookUrl: webhook.url,
    bindings: {
      WEBHOOK_SECRET: webhookSecret,
      JWT_JWKS: JSON.stringify({ keys: [jwk] }),
      JWT_ISSUER,
      JWT_AUDIENCE,
      INGEST_API_KEY_HASHES: createHash('sha256').update(ingestKey).digest('hex'),
    },
  })
  const base = runtime.url.origin
  const tc = tcCookie(ALL_PURPOSES)

  const ledger: SoakLedger = {
    profile: PROFILE,
    minutes: MINUTES,
    rate: RATE,
    requests: 0,
    byRoute: new Map(),
    pageViolations: [],
    pagesFallback: 0,
    decides: [],
    acceptedEvents: new Map(),
    notStored: new Map(),
    customers: new Set(),
    erased: [],
    restartAt: null,
    recordsBeforeRestart: null,
    absorbed: new Map(),
    restartResumedAt: null,
    rss: [],
    rssFromRestart: null,
    originFaults: origin.injected,
    webhook,
    errors: new Map(),
  }
  const latency = (route: string, ms: number, status: number) => {
    const r = ledger.byRoute.get(route) ?? { ms: [], statuses: new Map<number, number>() }
    r.ms.push(ms)
    r.statuses.set(status, (r.statuses.get(status) ?? 0) + 1)
    ledger.byRoute.set(route, r)
  }
  const timed = async (route: string, url: string, init: RequestInit): Promise<Response | null> => {
    const t0 = performance.now()
    ledger.requests++
    try {
      const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(20_000), ...init })
      const body = await res.arrayBuffer()
      latency(route, performance.now() - t0, res.status)
      return new Response(res.status === 204 ? null : body, { status: res.status, headers: res.headers })
    } catch (error) {
      // Refused while the runtime restarts, or cut off: counted, not a page answer.
      const name = error instanceof Error ? error.name : 'error'
      ledger.errors.set(`${route}:${name}`, (ledger.errors.get(`${route}:${name}`) ?? 0) + 1)
      return null
    }
  }

  const visitors: Visitor[] = []
  const RETURNING_POOL = PROFILE === 'returning' ? 50 : 200
  const jwtFor = (customerId: string) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'soak-1', typ: 'JWT' })
      .setSubject(customerId)
      .setIssuer(JWT_ISSUER)
      .setAudience(JWT_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(privateKey)

  const HTML = { accept: 'text/html', 'accept-language': 'en-GB' }
  const US = { 'x-gatehouse-country': 'US', 'x-gatehouse-region': 'CA' }
  const page = async (kind: string, headers: Record<string, string>, visitor?: Visitor) => {
    const path = Math.random() < 0.5 ? '/' : '/product/lamp'
    const res = await timed(`page:${kind}`, base + path, { headers: { ...HTML, ...headers } })
    if (!res) return
    if (res.status >= 500) {
      const fallback = res.headers.get('x-gatehouse-fallback')
      if (res.status === 503 && fallback) ledger.pagesFallback++
      else ledger.pageViolations.push(`${kind} ${path} -> ${res.status}`)
    } else if (res.headers.get('x-gatehouse-fallback')) ledger.pagesFallback++
    const cookie = idCookie(res)
    if (cookie && !visitor && visitors.length < RETURNING_POOL) {
      const anonId = anonIdOf(cookie)
      if (anonId) visitors.push({ cookie, anonId, sentEvents: [] })
    }
  }
  const pick = () => visitors[Math.floor(Math.random() * visitors.length)]

  const actions: Array<[number, () => Promise<void>]> =
    PROFILE === 'returning'
      ? [
          [
            0.6,
            () =>
              visitors.length < RETURNING_POOL
                ? page('new_us', US)
                : page('returning', US, pick()).then(() => undefined),
          ],
          [0.4, () => events()],
        ]
      : [
          [0.12, () => page('new_eu', { 'x-gatehouse-country': 'DE' })],
          [0.1, () => page('eu_tc', { 'x-gatehouse-country': 'DE', cookie: `euconsent-v2=${tc}` })],
          [0.1, () => page('new_us_gpc', { ...US, 'sec-gpc': '1' })],
          [0.1, () => page('new_us', US)],
          [0.18, () => (visitors.length ? returningPage() : page('new_us', US))],
          [0.14, () => decide()],
          [0.16, () => events()],
          [0.07, () => ingest()],
          [0.03, () => erase()],
        ]

  const returningPage = async () => {
    const v = pick()!
    await page('returning', { ...US, cookie: `gh_id=${v.cookie}` }, v)
  }

  let customerSeq = 0
  const decide = async () => {
    const v = visitors.length ? pick() : undefined
    const login = v && Math.random() < 0.25
    const eu = Math.random() < 0.5
    const customerId = login ? `soak-cust-${Math.floor(Math.random() * 40)}` : null
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...(eu ? { 'x-gatehouse-country': 'AT' } : US),
      ...(v ? { 'x-gatehouse-id': v.cookie } : {}),
      ...(customerId ? { authorization: `Bearer ${await jwtFor(customerId)}` } : {}),
    }
    const body = { placements: ['home_hero'], ...(eu ? { consent: { tcString: tc } } : {}) }
    const at = Date.now()
    const res = await timed(login ? 'decide:login' : 'decide', `${base}/v1/decide`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    })
    if (res?.status === 200 && v && customerId) {
      const set = ledger.absorbed.get(`c:${customerId}`) ?? new Set<string>()
      set.add(`a:${v.anonId}`)
      ledger.absorbed.set(`c:${customerId}`, set)
    }
    if (res?.status === 200) {
      const json = (await res.json()) as { requestId: string; decisions: unknown[] }
      ledger.decides.push({ requestId: json.requestId, decisions: json.decisions.length, at })
    }
  }

  const events = async () => {
    const v = pick()
    if (!v) return page('new_us', US)
    const now = Date.now()
    const batch: Array<{ id: string; type: string; ts: string; props: Record<string, unknown> }> = []
    for (let i = 0; i < 1 + Math.floor(Math.random() * 3); i++)
      batch.push({
        id: `soak-${randomUUID()}`,
        type: 'product_view',
        ts: new Date(now).toISOString(),
        props: {},
      })
    // A late arrival (two hours old) and, sometimes, an event sent before (a client retry).
    if (Math.random() < 0.3)
      batch.push({
        id: `soak-${randomUUID()}`,
        type: 'page_view',
        ts: new Date(now - 7_200_000).toISOString(),
        props: {},
      })
    const dup = v.sentEvents.length && Math.random() < 0.3 ? v.sentEvents[v.sentEvents.length - 1] : null
    if (dup) batch.push({ id: dup, type: 'product_view', ts: new Date(now).toISOString(), props: {} })
    const res = await timed('events', `${base}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...US, cookie: `gh_id=${v.cookie}` },
      body: JSON.stringify({ events: batch }),
    })
    if (res?.status === 202) {
      const answer = (await res.json()) as { reason?: string }
      if (answer.reason) {
        ledger.notStored.set(answer.reason, (ledger.notStored.get(answer.reason) ?? 0) + batch.length)
        return
      }
      const key = `a:${v.anonId}`
      const set = ledger.acceptedEvents.get(key) ?? new Set<string>()
      for (const e of batch) set.add(e.id)
      ledger.acceptedEvents.set(key, set)
      for (const e of batch) if (e.id !== dup) v.sentEvents.push(e.id)
    }
  }

  const ingest = async () => {
    const customerId = `soak-ingest-${customerSeq++ % 60}`
    const id = `soak-${randomUUID()}`
    // A cart left 31 minutes ago: its abandonment timer is due at once, so the trigger fires.
    const res = await timed('ingest', `${base}/v1/ingest/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ingestKey}` },
      body: JSON.stringify({
        subject: { type: 'customer_id', value: customerId },
        source: 'pos',
        measurementConsent: true,
        attributes: { push_token_present: true, email_reachable: true },
        events: [
          { id, type: 'add_to_cart', ts: new Date(Date.now() - 31 * 60_000).toISOString(), props: {} },
        ],
      }),
    })
    if (res?.status === 202) {
      const answer = (await res.json()) as { reason?: string }
      if (answer.reason) {
        ledger.notStored.set(answer.reason, (ledger.notStored.get(answer.reason) ?? 0) + 1)
        return
      }
      ledger.customers.add(`c:${customerId}`)
      const set = ledger.acceptedEvents.get(`c:${customerId}`) ?? new Set<string>()
      set.add(id)
      ledger.acceptedEvents.set(`c:${customerId}`, set)
    }
  }

  const erase = async () => {
    if (visitors.length < 20) return
    const i = Math.floor(Math.random() * visitors.length)
    const v = visitors[i]!
    const res = await timed('dsar:erase', `${base}/v1/me`, {
      method: 'DELETE',
      headers: { ...US, cookie: `gh_id=${v.cookie}` },
    })
    if (res && res.status < 300) {
      visitors.splice(i, 1)
      ledger.erased.push(`a:${v.anonId}`)
      ledger.acceptedEvents.delete(`a:${v.anonId}`)
    }
  }

  // Faults on a schedule, as fractions of the run (mixed profile).
  const originPlan: Array<[number, number, OriginFault]> = [
    [0.1, 0.17, 'slow'],
    [0.2, 0.27, '5xx'],
    [0.3, 0.35, 'reset'],
    [0.38, 0.44, 'truncated'],
  ]
  const webhookPlan: Array<[number, number, WebhookFault]> = [
    [0.12, 0.2, '5xx'],
    [0.24, 0.32, 'hang'],
    [0.6, 0.66, 'slow'],
    [0.68, 0.85, 'down'],
  ]
  const RESTART_AT = 0.5
  let restarting = false

  const t0 = Date.now()
  const sampler = setInterval(() => {
    const mib = rssMiB(runtime.pid())
    if (mib !== null && !restarting) ledger.rss.push({ t: (Date.now() - t0) / 1000, mib })
  }, 2000)

  const inflight = new Set<Promise<void>>()
  let tick = 0
  while (Date.now() - t0 < DURATION_MS) {
    const f = (Date.now() - t0) / DURATION_MS
    if (PROFILE === 'mixed') {
      origin.fault = originPlan.find(([a, b]) => f >= a && f < b)?.[2] ?? 'none'
      const wf = webhookPlan.find(([a, b]) => f >= a && f < b)?.[2] ?? 'none'
      if (wf !== webhook.fault) await webhook.setFault(wf)
      if (ledger.restartAt === null && f >= RESTART_AT) {
        restarting = true
        ledger.restartAt = Date.now()
        await Promise.allSettled([...inflight])
        const db = await runtime.mf().getD1Database('DB', 'gatehouse')
        ledger.recordsBeforeRestart = new Set(
          (
            await db
              .prepare("SELECT DISTINCT request_id FROM decision_log WHERE channel = 'api'")
              .all<{ request_id: string }>()
          ).results.map((r) => r.request_id),
        )
        await runtime.restart()
        ledger.restartResumedAt = Date.now()
        ledger.rssFromRestart = ledger.rss.length
        restarting = false
      }
    }
    const r = Math.random()
    let acc = 0
    const action = actions.find(([w]) => (acc += w) > r)?.[1] ?? actions[0]![1]
    const p = action()
      .catch((error: unknown) => {
        ledger.errors.set('harness', (ledger.errors.get('harness') ?? 0) + 1)
        if (ledger.errors.get('harness')! <= 3) console.error(error)
      })
      .finally(() => inflight.delete(p))
    inflight.add(p)
    tick++
    // Open-loop pacing at the target rate, bounded in flight (a stalled gateway is not hammered).
    const due = t0 + (tick * 1000) / RATE
    while (inflight.size > RATE * 4) await Promise.race(inflight)
    await new Promise((res) => setTimeout(res, Math.max(0, due - Date.now())))
  }
  await Promise.allSettled([...inflight])
  origin.fault = 'none'
  await webhook.setFault('none')
  clearInterval(sampler)

  const result = await checkInvariants(runtime, ledger, { drainMs: 20_000 })
  const out = args.out ?? join(root, 'bench/results')
  mkdirSync(out, { recursive: true })
  const stamp = started.toISOString().replace(/[:.]/g, '-')
  const command = `npm run soak -- --minutes ${MINUTES} --rate ${RATE}${PROFILE === 'mixed' ? '' : ' --profile returning'}`
  const report = `# Soak ${started.toISOString()}\n\n\`${command}\`\n\n${result.markdown}\n`
  writeFileSync(join(out, `soak-${PROFILE}-${stamp}.md`), report)
  console.log(report)

  await runtime.dispose()
  await webhook.close()
  await origin.close()
  storefront.closeAllConnections()
  await new Promise((r) => storefront.close(() => r(undefined)))
  rmSync(persistDir, { recursive: true, force: true })
  return result.failed.length === 0 ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error)
    process.exit(2)
  },
)
