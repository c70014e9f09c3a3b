/**
 * `npm run token` and the local credentials behind it (scripts/dev-credentials.mjs), run as a real
 * process against a temporary `.dev.vars`; what it prints is checked with the gateway's own
 * verifiers, configured from that `.dev.vars` as wrangler dev would. Also `DEV_LOCATION`.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { verifyAdminToken } from '../worker/admin/auth'
import { resolveRequestConsent } from '../worker/consent'
import { consentInputFromRequest } from '../worker/consent/signals'
import { bundledRules } from '../worker/rules'
import { locate } from '../worker/context/location'
import { verifyIngestKey } from '../worker/events/ingest-auth'
import { jwksFromConfig, verifyJwt } from '../worker/identity/jwt'
// @ts-expect-error: plain ESM module without types
import { readDevVars } from './dev-credentials.mjs'

const root = resolve(__dirname, '..')
let dir: string

function token(args: string[], env: Record<string, string> = {}) {
  const clean: NodeJS.ProcessEnv = { ...process.env, GATEHOUSE_DEV_ROOT: dir, ...env }
  if (!('GATEHOUSE_ENV' in env)) delete clean.GATEHOUSE_ENV
  const r = spawnSync(join(root, 'node_modules/.bin/tsx'), [join(root, 'scripts/token.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: clean,
  })
  const lines = r.stdout.trimEnd().split('\n')
  return { status: r.status, lines, last: lines.at(-1)!, err: r.stderr.trim() }
}

// The issuer and audience wrangler.toml gives the local Worker.
const wranglerVars = Object.fromEntries(
  [...readFileSync(join(root, 'wrangler.toml'), 'utf8').matchAll(/^([A-Z_]+) = "([^"]*)"$/gm)].map((m) => [
    m[1]!,
    m[2]!,
  ]),
)

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-token-'))
  writeFileSync(join(dir, '.dev.vars'), 'GATEHOUSE_ENV=development\n')
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe('npm run token', () => {
  it('prints a visitor token the gateway verifies, alone on the last line', async () => {
    const r = token(['visitor', 'cust-42'])
    expect(r.status).toBe(0)
    const vars = readDevVars(dir) as Record<string, string>
    const verified = await verifyJwt(r.last, {
      jwks: jwksFromConfig({ json: vars.JWT_JWKS }),
      issuer: wranglerVars.JWT_ISSUER!,
      audience: wranglerVars.JWT_AUDIENCE!,
    })
    expect(verified).toMatchObject({ ok: true, value: { subject: 'cust-42' } })
  })

  it('prints a TC string an EU visitor is granted every purpose with, and names a mistyped jurisdiction', () => {
    const r = token(['consent', 'eu'])
    expect(r.status).toBe(0)
    const url = new URL('http://127.0.0.1/v1/consent')
    const input = consentInputFromRequest(new Headers(), new Map([['euconsent-v2', r.last]]), url)
    const resolved = resolveRequestConsent(
      input,
      bundledRules,
      { country: 'AT', region: null, source: 'override' },
      new Date(),
    )
    expect(resolved.consent).toMatchObject({
      jurisdiction: 'EU',
      purposes: { storage: true, measurement: true, personalization: true, advertising: true },
    })

    const typo = token(['consent', 'UX'])
    expect(typo.status).toBe(2)
    expect(typo.err).toContain('unknown jurisdiction "UX" (did you mean "UK"?)')
  })

  it('prints an admin token with the asked role, and names a mistyped role', async () => {
    const r = token(['admin', '--role', 'privacy'])
    expect(r.status).toBe(0)
    const vars = readDevVars(dir) as Record<string, string>
    const verified = await verifyAdminToken(r.last, {
      ADMIN_JWKS: vars.ADMIN_JWKS,
      ADMIN_JWT_ISSUER: wranglerVars.ADMIN_JWT_ISSUER,
      ADMIN_JWT_AUDIENCE: wranglerVars.ADMIN_JWT_AUDIENCE,
    })
    expect(verified).toEqual({ ok: true, value: { sub: 'local-operator', roles: ['privacy'] } })
    const typo = token(['admin', '--role', 'privcy'])
    expect(typo.status).toBe(2)
    expect(typo.err).toBe(
      'unknown role "privcy" (did you mean "privacy"?); roles are marketer, analyst, privacy, admin, ingest',
    )
  })

  it('prints the ingestion key whose digest the Worker holds, the same key every time', async () => {
    const first = token(['ingest'])
    const again = token(['ingest'])
    expect(first.status).toBe(0)
    expect(again.last).toBe(first.last)
    const vars = readDevVars(dir) as Record<string, string>
    expect(await verifyIngestKey(`Bearer ${first.last}`, vars.INGEST_API_KEY_HASHES)).toMatchObject({
      ok: true,
    })
    // The Worker's side holds only the digest, never the key.
    expect(readFileSync(join(dir, '.dev.vars'), 'utf8')).not.toContain(first.last)
  })

  it('keeps values set by hand in .dev.vars and adds only the missing lines', () => {
    writeFileSync(join(dir, '.dev.vars'), 'GATEHOUSE_ENV=development\nDEV_LOCATION=DE\n')
    const r = token(['ingest'])
    expect(r.lines[0]).toContain('added JWT_JWKS, ADMIN_JWKS, INGEST_API_KEY_HASHES to ')
    expect((readDevVars(dir) as Record<string, string>).DEV_LOCATION).toBe('DE')
  })

  it('refuses when the environment is production, printing no credential', () => {
    for (const r of [
      token(['visitor', 'cust-42'], { GATEHOUSE_ENV: 'production' }),
      (writeFileSync(join(dir, '.dev.vars'), 'GATEHOUSE_ENV=production\n'), token(['ingest'])),
    ]) {
      expect(r.status).toBe(1)
      expect(r.lines).toEqual([''])
      expect(r.err).toBe(
        'refused: GATEHOUSE_ENV is production. These credentials are for local development only.',
      )
    }
  })
})

describe('DEV_LOCATION: the local default location', () => {
  const plain = new Request('http://gate.test/')
  it.each([
    { value: 'unknown', expected: { country: null, region: null, source: 'unknown' } },
    { value: 'DE', expected: { country: 'DE', region: null, source: 'override' } },
    { value: 'US-CA', expected: { country: 'US', region: 'CA', source: 'override' } },
    { value: 'Texas', expected: { country: null, region: null, source: 'unknown' } },
  ])('DEV_LOCATION=$value locates a request without override headers', ({ value, expected }) => {
    expect(locate(plain, true, value)).toEqual(expected)
  })

  it('never applies in production, and the override header still wins in development', () => {
    expect(locate(plain, false, 'DE')).toEqual({ country: null, region: null, source: 'unknown' })
    const header = new Request('http://gate.test/', { headers: { 'x-gatehouse-country': 'FR' } })
    expect(locate(header, true, 'DE')).toMatchObject({ country: 'FR', source: 'override' })
  })
})
