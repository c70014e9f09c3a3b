/**
 * `npm start`: the demo store behind Gatehouse on this machine.
 *
 *   demo storefront (origin)  http://127.0.0.1:8788
 *   Gatehouse (wrangler dev)  http://127.0.0.1:8787   <- browse this one
 *
 * Creates `.dev.vars` with freshly generated secrets and development mode on first run (it is
 * gitignored; wrangler.toml's own vars are production), applies the
 * D1 migrations to the local database, starts the storefront in this process and `wrangler dev` as a child, forwards Ctrl+C / SIGTERM to it, and
 * exits with wrangler's exit code once both are down.
 * Ports: STOREFRONT_PORT (8788) and GATEHOUSE_PORT (8787).
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startStorefront } from '../examples/storefront/server.mjs'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const storefrontPort = Number(process.env.STOREFRONT_PORT ?? 8788)
const gatehousePort = Number(process.env.GATEHOUSE_PORT ?? 8787)
const host = '127.0.0.1'

// wrangler.toml's vars are production; `wrangler dev` reads this line from .dev.vars on top of them.
const DEVELOPMENT = 'GATEHOUSE_ENV=development'

function ensureDevVars() {
  const file = join(root, '.dev.vars')
  if (existsSync(file)) {
    // A .dev.vars from before development mode moved out of wrangler.toml gets the line added.
    const text = readFileSync(file, 'utf8')
    if (!/^GATEHOUSE_ENV=/m.test(text))
      appendFileSync(file, `${text.endsWith('\n') ? '' : '\n'}${DEVELOPMENT}\n`)
    return
  }
  const secret = () => randomBytes(32).toString('base64url')
  const keys = JSON.stringify([{ kid: `dev-${randomBytes(3).toString('hex')}`, secret: secret() }])
  writeFileSync(
    file,
    [
      '# Local secrets for `npm start`, generated once. Never commit this file (it is in .gitignore).',
      '# Production secrets are set with `wrangler secret put NAME` (docs/configuration.md).',
      `COOKIE_KEYS='${keys}'`,
      `ID_PEPPER=${secret()}`,
      `WEBHOOK_SECRET=${secret()}`,
      '# Development mode: the X-Gatehouse-Country/-Region location overrides (docs/configuration.md).',
      DEVELOPMENT,
      '',
    ].join('\n'),
    { mode: 0o600 },
  )
  console.log('created .dev.vars with fresh local secrets')
}

/** Runs a wrangler command to completion; resolves with its exit code. */
function wranglerRun(args, extraEnv = {}) {
  return new Promise((resolvePromise) => {
    const child = spawn(join(root, 'node_modules', '.bin', 'wrangler'), args, {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', ...extraEnv },
    })
    child.on('error', () => resolvePromise(1))
    child.on('exit', (code) => resolvePromise(code ?? 1))
  })
}

async function main() {
  ensureDevVars()
  // The local D1 database (decision log, audit, DSAR receipts) needs its tables; applying is
  // idempotent, and CI=true stops wrangler from asking for confirmation.
  if ((await wranglerRun(['d1', 'migrations', 'apply', 'DB', '--local'], { CI: 'true' })) !== 0) {
    console.error('could not apply the D1 migrations to the local database')
    process.exit(1)
  }

  let storefront
  try {
    storefront = await startStorefront({ port: storefrontPort, host })
  } catch (err) {
    console.error(`could not start the demo storefront on ${host}:${storefrontPort}: ${err.message}`)
    console.error('Is another `npm start` running? Set STOREFRONT_PORT to use another port.')
    process.exit(1)
  }
  console.log(`demo storefront (origin) on http://${host}:${storefrontPort}`)

  // The public host is the address the browser uses (site.publicHosts lists the default port only);
  // development mode is passed too, so it holds even if .dev.vars was edited.
  const args = [
    'dev',
    '--ip',
    host,
    '--port',
    String(gatehousePort),
    '--var',
    'GATEHOUSE_ENV:development',
    '--var',
    `PUBLIC_HOSTS:${host}:${gatehousePort},localhost:${gatehousePort}`,
  ]
  // The gateway must point at the storefront we just started, whatever port it got.
  if (storefrontPort !== 8788) args.push('--var', `ORIGIN_URL:http://${host}:${storefrontPort}`)
  const wrangler = spawn(join(root, 'node_modules', '.bin', 'wrangler'), args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  })
  console.log(`Gatehouse on http://${host}:${gatehousePort} (starting wrangler dev...)`)

  let stopping = false
  const stop = (signal) => {
    if (stopping) return
    stopping = true
    if (wrangler.exitCode === null) wrangler.kill(signal)
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))

  wrangler.on('error', (err) => {
    console.error(`could not run wrangler: ${err.message} (did you run npm install?)`)
    storefront.close()
    process.exit(1)
  })
  wrangler.on('exit', (code, signal) => {
    storefront.closeAllConnections?.()
    storefront.close(() => process.exit(code ?? (signal ? 0 : 1)))
  })
}

await main()
