/**
 * The decision archive read by a standard analytics engine (DuckDB, `@duckdb/node-api`), end to end
 * in Node: the BUILT gateway runs in Miniflare with its real queue consumer, D1 and R2; customers
 * ask `/v1/decide`; the archive objects the consumer wrote are copied out of R2 as they are, and
 * DuckDB reads them with Hive partitioning and returns the records D1 holds. Then one customer is
 * erased through the admin DSAR route, and the same files, queried again, still hold every row, but
 * the erased customer's sealed fields open with no key that exists, while everyone else's do.
 *
 * A small driver Worker in the same Miniflare reads the customers' archive keys over RPC (test only;
 * nothing of it is in the production bundle).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { DuckDBInstance } from '@duckdb/node-api'
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'
import { Miniflare } from 'miniflare'
import { unstable_getMiniflareWorkerOptions } from 'wrangler'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyMigrations, buildBundle, freshSecrets, root } from '../../bench/lib/gateway'
import { deriveKeys, openFields, type SealKeys } from '../../worker/archive/seal'

const DRIVER = `
export default {
  async fetch(request, env) {
    const stateKey = new URL(request.url).searchParams.get('stateKey')
    const keys = await env.CUSTOMER.get(env.CUSTOMER.idFromName(stateKey)).archiveKeys()
    return Response.json(keys.map((k) => ({ kid: k.kid, secret: btoa(String.fromCharCode(...new Uint8Array(k.secret))) })))
  },
}
`
const drain = (stdout: Readable, stderr: Readable) => {
  stdout.resume()
  stderr.resume()
}

let mf: Miniflare
let dir: string
let visitorKey: CryptoKey
let adminKey: CryptoKey
let rules: { jwtIssuer: string; jwtAudience: string; adminIssuer: string; adminAudience: string }

beforeAll(async () => {
  const scriptPath = await buildBundle()
  const visitor = await generateKeyPair('ES256', { extractable: true })
  const admin = await generateKeyPair('ES256', { extractable: true })
  visitorKey = visitor.privateKey
  adminKey = admin.privateKey
  const jwks = async (k: CryptoKey, kid: string): Promise<string> =>
    JSON.stringify({ keys: [{ ...(await exportJWK(k)), kid, alg: 'ES256', use: 'sig' } as JWK] })
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(root, 'wrangler.toml'))
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { modulesRules, ...bindingsOnly } = workerOptions
  const vars = workerOptions.bindings as Record<string, string>
  rules = {
    jwtIssuer: vars.JWT_ISSUER!,
    jwtAudience: vars.JWT_AUDIENCE!,
    adminIssuer: vars.ADMIN_JWT_ISSUER!,
    adminAudience: vars.ADMIN_JWT_AUDIENCE!,
  }
  mf = new Miniflare({
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
          ...vars,
          ...freshSecrets(),
          ORIGIN_URL: 'http://127.0.0.1:9',
          GATEHOUSE_ENV: 'development',
          PUBLIC_HOSTS: 'gate.test',
          JWT_JWKS: await jwks(visitor.publicKey, 'visitor-1'),
          ADMIN_JWKS: await jwks(admin.publicKey, 'admin-1'),
        },
        routes: ['gate.test/*'],
      },
      {
        name: 'driver',
        modules: true,
        script: DRIVER,
        compatibilityDate: workerOptions.compatibilityDate,
        durableObjects: { CUSTOMER: { className: 'CustomerState', scriptName: 'gatehouse' } },
        routes: ['driver.test/*'],
      },
    ],
  } as unknown as ConstructorParameters<typeof Miniflare>[0])
  await mf.ready
  await applyMigrations(mf, 'gatehouse')
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-archive-'))
}, 240_000)

afterAll(async () => {
  await mf?.dispose()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

async function token(sub: string, kind: 'visitor' | 'admin'): Promise<string> {
  const jwt = new SignJWT(kind === 'admin' ? { roles: ['privacy'] } : {})
    .setProtectedHeader({ alg: 'ES256', kid: kind === 'admin' ? 'admin-1' : 'visitor-1', typ: 'JWT' })
    .setSubject(sub)
    .setIssuer(kind === 'admin' ? rules.adminIssuer : rules.jwtIssuer)
    .setAudience(kind === 'admin' ? rules.adminAudience : rules.jwtAudience)
    .setIssuedAt()
    .setExpirationTime('5m')
  return jwt.sign(kind === 'admin' ? adminKey : visitorKey)
}

async function decide(customerId: string): Promise<void> {
  const res = await mf.dispatchFetch('http://gate.test/v1/decide', {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await token(customerId, 'visitor')}`,
      'content-type': 'application/json',
      'x-gatehouse-country': 'US',
      'x-gatehouse-region': 'CA',
    },
    body: JSON.stringify({ placements: ['home_hero'] }),
  })
  expect(res.status).toBe(200)
  await res.arrayBuffer()
}

/** D1 rows once every decision made so far is stored and archived (the consumer runs on its own). */
async function settled(expected: number) {
  const db = await mf.getD1Database('DB')
  for (let i = 0; i < 300; i++) {
    const { results } = await db
      .prepare(
        'SELECT id, customer_id, placement, variant, reason, rules_version, archived_at FROM decision_log',
      )
      .all<Record<string, string | number | null>>()
    if (results.length >= expected && results.every((r) => r.archived_at !== null)) return results
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`the consumer did not store and archive ${expected} records`)
}

/** Copies every archive object out of R2, byte for byte, to `dir` under the same key. */
async function copyArchive(into: string): Promise<number> {
  const bucket = await mf.getR2Bucket('ARCHIVE')
  const { objects } = await bucket.list({ prefix: 'decisions/' })
  for (const o of objects) {
    const body = await bucket.get(o.key)
    const file = join(into, o.key)
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, new Uint8Array(await body!.arrayBuffer()))
  }
  return objects.length
}

type Row = {
  id: string
  dt: string
  hour: string
  placement: string
  variant: string | null
  subject: string
  sealed: string
}

async function query(from: string): Promise<Row[]> {
  const duck = await DuckDBInstance.create(':memory:')
  const conn = await duck.connect()
  const reader = await conn.runAndReadAll(
    `SELECT id, CAST(dt AS VARCHAR) AS dt, CAST(hour AS VARCHAR) AS hour, placement, variant, subject, sealed
       FROM read_json('${join(from, 'decisions')}/*/*/*.ndjson.gz', format = 'newline_delimited', hive_partitioning = true)
      ORDER BY id`,
  )
  const rows = reader.getRowObjectsJson() as unknown as Row[]
  conn.closeSync()
  return rows
}

async function keysOf(customerId: string): Promise<SealKeys[]> {
  const res = await mf.dispatchFetch(`http://driver.test/?stateKey=${encodeURIComponent(`c:${customerId}`)}`)
  const keys = (await res.json()) as Array<{ secret: string }>
  return Promise.all(keys.map((k) => deriveKeys(Uint8Array.from(Buffer.from(k.secret, 'base64')))))
}

async function opener(keys: SealKeys[], row: Row): Promise<string | null> {
  for (const k of keys) {
    const fields = await openFields(k, row.id, row.sealed)
    if (fields) return fields.customerId
  }
  return null
}

describe('decision archive read with DuckDB', () => {
  it('returns the records the gateway wrote; after erase one customer is unreadable, the others intact', async () => {
    const customers = ['alice-archive', 'bob-archive', 'carol-archive']
    for (const c of customers) for (let i = 0; i < 3; i++) await decide(c)
    const stored = await settled(9)

    const first = join(dir, 'first')
    expect(await copyArchive(first)).toBeGreaterThan(0)
    const rows = await query(first)
    // The same records D1 holds: same ids, placements, variants; partitions from the record time.
    expect(rows.map((r) => r.id)).toEqual(stored.map((r) => r.id).sort())
    for (const r of rows) {
      const d1 = stored.find((s) => s.id === r.id)!
      expect({ placement: r.placement, variant: r.variant }).toEqual({
        placement: d1.placement,
        variant: d1.variant,
      })
      expect(r.dt).toMatch(/^\d{4}-\d{2}-\d{2}$/)
      expect(r.hour).toMatch(/^\d{1,2}$/)
    }
    // Each row opens under exactly its customer's key, to its customer id.
    const keys = Object.fromEntries(
      await Promise.all(customers.map(async (c) => [c, await keysOf(c)] as const)),
    )
    for (const r of rows) {
      const owner = stored.find((s) => s.id === r.id)!.customer_id as string
      expect(await opener(keys[owner]!, r)).toBe(owner)
      for (const other of customers.filter((c) => c !== owner))
        expect(await opener(keys[other]!, r)).toBeNull()
    }

    // Erase alice through the admin DSAR route.
    const res = await mf.dispatchFetch('http://gate.test/admin/v1/subjects/erase', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await token('dpo-1', 'admin')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ identifier: { type: 'customer_id', value: 'alice-archive' } }),
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({
      status: 'completed',
      cryptoShredded: { store: 'decisionArchive', keysDestroyed: 1, archivedRecords: 'unreadable' },
    })

    const second = join(dir, 'second')
    await copyArchive(second)
    const again = await query(second)
    // The files were not rewritten: every row is still there, byte for byte the same values.
    expect(again).toEqual(rows)
    expect(await keysOf('alice-archive')).toEqual([])
    const remaining = [...(await keysOf('bob-archive')), ...(await keysOf('carol-archive'))]
    for (const r of again) {
      const owner = stored.find((s) => s.id === r.id)!.customer_id as string
      if (owner === 'alice-archive') {
        expect(await opener(remaining, r)).toBeNull()
        expect(JSON.stringify(r)).not.toContain('alice')
      } else {
        expect(await opener(remaining, r)).toBe(owner)
      }
    }
  })
})
