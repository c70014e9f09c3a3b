/**
 * `npm run token -- visitor <sub>` | `admin --role <role> [--role ...] [--sub <name>]` | `ingest` |
 * `consent <jurisdiction>`: ready-to-use local credentials for the gateway `npm start` runs
 * (./dev-credentials.mjs), and a consented signal for a jurisdiction of rules/consent.yaml. What to
 * do with it comes first; the token or key alone is the last line, so scripts can capture it:
 *
 *   TOKEN=$(npm run --silent token -- admin --role privacy | tail -n 1)
 *
 * Refused when GATEHOUSE_ENV is production (in the environment or in `.dev.vars`): these keys are
 * for this machine only. Tokens live one hour.
 */
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { importJWK, SignJWT, type JWK } from 'jose'
import { ADMIN_ROLES } from '../worker/admin/roles'
import { bundledRules } from '../worker/rules'
import { coreBits, tcString, vendorBitfield, vendorsSegment } from '../test/support/consent/tcf-fixtures'
import { nearest } from '../worker/rules/suggest'
// @ts-expect-error: plain ESM module without types
import { devCredentials, devRoot, readDevVars, syncDevVars } from './dev-credentials.mjs'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const USAGE =
  'usage: npm run token -- visitor <sub> | admin --role <role> [--role <role>] [--sub <name>] | ingest | consent <jurisdiction>'
const LIFETIME = '1h'
const BASE = `http://127.0.0.1:${process.env.GATEHOUSE_PORT ?? 8787}`

interface KeyPair {
  kid: string
  privateJwk: JWK
}

/** The top-level [vars] of wrangler.toml (string values), then `.dev.vars` on top, as wrangler dev does. */
function localVars(): Record<string, string> {
  const vars: Record<string, string> = {}
  let inVars = false
  for (const line of readFileSync(join(repo, 'wrangler.toml'), 'utf8').split('\n')) {
    if (/^\s*\[/.test(line)) inVars = /^\s*\[vars\]/.test(line)
    const m = inVars ? /^([A-Z_][A-Z0-9_]*)\s*=\s*"([^"]*)"/.exec(line) : null
    if (m) vars[m[1]!] = m[2]!
  }
  return { ...vars, ...(readDevVars() as Record<string, string>) }
}

async function sign(pair: KeyPair, claims: Record<string, unknown>, sub: string, iss: string, aud: string) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: pair.kid, typ: 'JWT' })
    .setSubject(sub)
    .setIssuer(iss)
    .setAudience(aud)
    .setIssuedAt()
    .setExpirationTime(LIFETIME)
    .sign(await importJWK(pair.privateJwk, 'ES256'))
}

/** Runs the command; returns the exit status. Output goes to `out` (lines), errors to `fail`. */
export async function tokenCommand(
  args: string[],
  out: (line: string) => void = console.log,
  fail: (line: string) => void = console.error,
): Promise<number> {
  // wrangler.toml's own vars are production by design; the local environment is what npm start
  // runs: .dev.vars, or a GATEHOUSE_ENV set in this shell.
  const devEnv = readDevVars() as Record<string, string>
  if (process.env.GATEHOUSE_ENV === 'production' || devEnv.GATEHOUSE_ENV === 'production') {
    fail('refused: GATEHOUSE_ENV is production. These credentials are for local development only.')
    return 1
  }
  const [kind, ...rest] = args
  if (kind === 'consent') return sampleConsent(rest, out, fail)
  if (kind !== 'visitor' && kind !== 'admin' && kind !== 'ingest') {
    fail(kind ? `unknown credential "${kind}"\n${USAGE}` : USAGE)
    return 2
  }
  const added = syncDevVars() as string[]
  const creds = devCredentials() as { visitor: KeyPair; admin: KeyPair; ingestKey: string }
  if (added.length)
    out(`added ${added.join(', ')} to ${join(devRoot(), '.dev.vars')}: restart npm start to use them`)
  const vars = localVars()

  if (kind === 'ingest') {
    if (rest.length) {
      fail(`ingest takes no arguments\n${USAGE}`)
      return 2
    }
    out('ingestion API key (POST /v1/ingest/events, POST /v1/decide/conversions):')
    out(
      `  curl ${BASE}/v1/ingest/events -H "Authorization: Bearer $KEY" -H 'content-type: application/json' -d @batch.json`,
    )
    out(creds.ingestKey)
    return 0
  }

  if (kind === 'visitor') {
    const sub = rest[0]
    if (!sub || rest.length > 1 || sub.startsWith('--')) {
      fail(`visitor needs one subject (the customer id)\n${USAGE}`)
      return 2
    }
    const token = await sign(creds.visitor, {}, sub, vars.JWT_ISSUER ?? '', vars.JWT_AUDIENCE ?? '')
    out(`visitor token for customer "${sub}", valid ${LIFETIME}:`)
    out(`  curl ${BASE}/v1/me -H "Authorization: Bearer $TOKEN" -H 'X-Gatehouse-Country: DE'`)
    out(token)
    return 0
  }

  const roles: string[] = []
  let sub = 'local-operator'
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]
    const value = rest[i + 1]
    if ((a === '--role' || a === '--sub') && value && !value.startsWith('--')) {
      if (a === '--role') roles.push(value)
      else sub = value
      i++
    } else {
      fail(`unexpected "${a}"\n${USAGE}`)
      return 2
    }
  }
  if (roles.length === 0) {
    fail(`admin needs --role: one of ${ADMIN_ROLES.join(', ')}\n${USAGE}`)
    return 2
  }
  for (const role of roles) {
    if (!(ADMIN_ROLES as readonly string[]).includes(role)) {
      const hint = nearest(role, ADMIN_ROLES)
      fail(
        `unknown role "${role}"${hint ? ` (did you mean "${hint}"?)` : ''}; roles are ${ADMIN_ROLES.join(', ')}`,
      )
      return 2
    }
  }
  const claim = vars.ADMIN_ROLES_CLAIM || 'roles'
  const token = await sign(
    creds.admin,
    { [claim]: roles },
    sub,
    vars.ADMIN_JWT_ISSUER ?? '',
    vars.ADMIN_JWT_AUDIENCE ?? '',
  )
  out(`admin token for "${sub}" with role(s) ${roles.join(', ')}, valid ${LIFETIME}:`)
  out(`  curl ${BASE}/admin/v1/rules/versions -H "Authorization: Bearer $TOKEN"`)
  out(token)
  return 0
}

/**
 * A consented signal for `jurisdiction` (an id of rules/consent.yaml): in an opt-in jurisdiction a
 * TC string created now with every purpose allowed (a string goes stale after the rules'
 * `maxAgeMonths`, so it is made fresh rather than written into the docs); in an opt-out one none is
 * needed, and the opt-out to try is shown instead. The string is written with the tests' TCF
 * encoder (the gateway itself only decodes).
 */
function sampleConsent(rest: string[], out: (line: string) => void, fail: (line: string) => void): number {
  const jurisdictions = bundledRules.consent.jurisdictions
  const ids = jurisdictions.map((j) => j.id)
  const wanted = rest[0]?.toUpperCase()
  const j = jurisdictions.find((x) => x.id === wanted)
  if (!j || rest.length > 1) {
    const hint = rest[0] ? nearest(rest[0].toUpperCase(), ids) : null
    fail(
      `${rest[0] ? `unknown jurisdiction "${rest[0]}"${hint ? ` (did you mean "${hint}"?)` : ''}` : 'consent needs a jurisdiction'}; jurisdictions are ${ids.join(', ')}\n${USAGE}`,
    )
    return 2
  }
  const country = j.countries[0] ?? 'DE'
  const region = j.regions?.[0]
  const where = `-H 'X-Gatehouse-Country: ${country}'${region ? ` -H 'X-Gatehouse-Region: ${region}'` : ''}`
  if (j.regime === 'opt-out') {
    out(
      `${j.id} is an opt-out jurisdiction: every purpose is granted until the visitor opts out, so no signal is needed.`,
    )
    out(`  curl ${BASE}/v1/consent ${where}`)
    out(`  opt out with Global Privacy Control: curl ${BASE}/v1/consent ${where} -H 'Sec-GPC: 1'`)
    return 0
  }
  const t = Math.floor(Date.now() / 100) * 100
  const tc = tcString(
    coreBits({
      created: t,
      lastUpdated: t,
      purposeConsents: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      publisherCountryCode: country,
    }),
    vendorsSegment(1, vendorBitfield(8, [1, 2, 3])),
  )
  out(
    `TC string for ${j.id} (opt-in) allowing purposes 1-10, created now (valid ${bundledRules.consent.tcf.maxAgeMonths} months):`,
  )
  out(`  curl ${BASE}/v1/consent ${where} -H "Cookie: euconsent-v2=$TC"`)
  out(`  in an app: POST /v1/decide with { "consent": { "tcString": "$TC" }, ... }`)
  out(tc)
  return 0
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  process.exit(await tokenCommand(process.argv.slice(2)))
