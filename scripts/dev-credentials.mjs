/**
 * Local credentials for `npm start` and `npm run token`: an ES256 key pair that signs visitor
 * JWTs, one that signs admin JWTs, and an ingestion API key, generated once into
 * `.gatehouse/dev-credentials.json` (git-ignored, mode 0600). The Worker gets only what verifies
 * them, as lines of `.dev.vars`: `JWT_JWKS` and `ADMIN_JWKS` (public keys) and
 * `INGEST_API_KEY_HASHES` (the key's SHA-256), plus `DEV_LOCATION=unknown`, the location of a
 * request without override headers (unknown fails closed, as in production).
 *
 * GATEHOUSE_DEV_ROOT points both files at another folder (tests).
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto'
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** The folder holding `.dev.vars` and `.gatehouse/`. */
export function devRoot() {
  return process.env.GATEHOUSE_DEV_ROOT || repo
}

function keyPair(name) {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const kid = `dev-${name}-${randomBytes(3).toString('hex')}`
  return {
    kid,
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' },
    privateJwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'ES256' },
  }
}

/** The local credentials, created on first use. */
export function devCredentials(root = devRoot()) {
  const file = join(root, '.gatehouse', 'dev-credentials.json')
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'))
  const creds = {
    note: 'Local development credentials made by npm start / npm run token. Never use them anywhere else.',
    visitor: keyPair('visitor'),
    admin: keyPair('admin'),
    ingestKey: `gh_dev_${randomBytes(24).toString('base64url')}`,
  }
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, JSON.stringify(creds, null, 2) + '\n', { mode: 0o600 })
  return creds
}

/** The `.dev.vars` lines that let the local Worker verify the local credentials. */
export function devVarsLines(creds) {
  const jwks = (pair) => JSON.stringify({ keys: [pair.publicJwk] })
  return {
    JWT_JWKS: `'${jwks(creds.visitor)}'`,
    ADMIN_JWKS: `'${jwks(creds.admin)}'`,
    INGEST_API_KEY_HASHES: createHash('sha256').update(creds.ingestKey).digest('hex'),
    DEV_LOCATION: 'unknown',
  }
}

/**
 * Adds each missing credential line to `.dev.vars` (never changes a line that is there: a value
 * someone set by hand wins). Returns the names it added.
 */
export function syncDevVars(root = devRoot()) {
  const file = join(root, '.dev.vars')
  const text = existsSync(file) ? readFileSync(file, 'utf8') : ''
  const added = []
  let out = ''
  for (const [name, value] of Object.entries(devVarsLines(devCredentials(root)))) {
    if (new RegExp(`^${name}=`, 'm').test(text)) continue
    if (name === 'DEV_LOCATION')
      out += '# Location of requests without X-Gatehouse-Country (DE, US-CA, ...; unknown fails closed).\n'
    out += `${name}=${value}\n`
    added.push(name)
  }
  if (out) appendFileSync(file, `${text === '' || text.endsWith('\n') ? '' : '\n'}${out}`, { mode: 0o600 })
  return added
}

/** Values of `.dev.vars` (NAME=value, optionally quoted). */
export function readDevVars(root = devRoot()) {
  const file = join(root, '.dev.vars')
  const vars = {}
  if (!existsSync(file)) return vars
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim())
    if (m) vars[m[1]] = m[2].replace(/^'(.*)'$/, '$1').replace(/^"(.*)"$/, '$1')
  }
  return vars
}
