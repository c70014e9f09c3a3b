/**
 * Tests run in workerd through the Workers vitest pool, with the real Durable Objects, Queues and
 * D1 from wrangler.toml. The demo storefront runs as a real HTTP origin on a free loopback port
 * for the life of the test run, and the Worker is pointed at it.
 */
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers'
import { generateKeyPairSync } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { configDefaults, defineConfig, defineProject } from 'vitest/config'
// @ts-expect-error: plain ESM module without types
import { startStorefront } from './examples/storefront/server.mjs'
// @ts-expect-error: plain ESM module without types
import { startJwksServer } from './test/support/jwks-server.mjs'
// @ts-expect-error: plain ESM module without types
import { startWebhookServer } from './test/support/webhook-server.mjs'

const storefront = await startStorefront({ port: 0 })
// Do not keep the test process alive once the run is over.
storefront.unref()
// D1 migrations are applied by test/setup/d1.ts before the tests of each file.
const d1Migrations = await readD1Migrations('./migrations')

// Admin JWT keys for test/admin and test/privacy: a static JWKS binding (never a public URL). The
// private halves reach the tests as TEST_ADMIN_SIGNING_KEYS so they can sign tokens per role.
const adminEc = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const adminRsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const adminJwks = {
  keys: [
    { ...adminEc.publicKey.export({ format: 'jwk' }), kid: 'test-es256', alg: 'ES256', use: 'sig' },
    { ...adminRsa.publicKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' },
  ],
}
const adminSigningKeys = {
  ES256: { ...adminEc.privateKey.export({ format: 'jwk' }), kid: 'test-es256', alg: 'ES256' },
  RS256: { ...adminRsa.privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256' },
}

const originUrl = `http://127.0.0.1:${(storefront.address() as AddressInfo).port}`
// Identity tests (visitor JWTs): the customers' JWKS is served over HTTP by a local server, as by an IdP.
const jwksServer = await startJwksServer({ port: 0 })
jwksServer.unref()
const jwksBase = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}`
// Trigger delivery tests (webhooks): a webhook receiver that verifies signatures and deduplicates,
// scripted by the tests over HTTP to fail, time out, then succeed.
const webhookSecret = 'test-webhook-secret-0123456789abcdef'
const webhookServer = await startWebhookServer({ port: 0, secret: webhookSecret, hangMs: 2500 })
webhookServer.unref()
const webhookBase = `http://127.0.0.1:${(webhookServer.address() as AddressInfo).port}`

// Project "workers": everything that runs in workerd through the Workers pool (below).
const workers = defineProject({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: {
          // wrangler.toml's vars are production; the tests drive the development location
          // override headers, and address the Worker as http://gate.test.
          GATEHOUSE_ENV: 'development',
          PUBLIC_HOSTS: 'gate.test',
          ORIGIN_URL: originUrl,
          JWT_JWKS_URL: `${jwksBase}/jwks.json`,
          TEST_JWKS_BASE: jwksBase,
          COOKIE_KEYS: JSON.stringify([
            { kid: 'k2', secret: 'test-cookie-key-2-0123456789abcdef0123456789abcdef' },
            { kid: 'k1', secret: 'test-cookie-key-1-0123456789abcdef0123456789abcdef' },
          ]),
          ID_PEPPER: 'test-pepper-0123456789abcdef0123456789abcdef',
          WEBHOOK_SECRET: webhookSecret,
          WEBHOOK_SERVER_URL: webhookBase,
          PUSH_WEBHOOK_URL: `${webhookBase}/push`,
          EMAIL_WEBHOOK_URL: `${webhookBase}/email`,
          SMS_WEBHOOK_URL: `${webhookBase}/sms`,
          TEST_MIGRATIONS: d1Migrations,
          ADMIN_JWKS: JSON.stringify(adminJwks),
          TEST_ADMIN_SIGNING_KEYS: JSON.stringify(adminSigningKeys),
        },
        // The production limiters come from wrangler.toml; test/security swaps in this small one
        // (a real Miniflare limiter) to reach a limit in a few requests.
        ratelimits: { TEST_RATE_LIMIT_3: { simple: { limit: 3, period: 60 } } },
      },
    }),
  ],
  test: {
    include: [
      'test/**/*.test.ts',
      'worker/**/*.test.ts',
      'durable-objects/**/*.test.ts',
      'scripts/**/*.test.ts',
    ],
    testTimeout: 20_000,
    setupFiles: ['./test/setup/d1.ts', './test/setup/id-ranges.ts'],
  },
})

export default defineConfig({
  test: {
    projects: [
      {
        ...workers,
        test: {
          ...workers.test,
          name: 'workers',
          exclude: [...configDefaults.exclude, 'test/browser/**', 'test/contract/tooling/**'],
        },
      },
      // Project "browser": Node drives Debian chromium against the built gateway in Miniflare
      // (test/browser); it starts its own storefront and gateway, so it needs nothing above.
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 180_000,
        },
      },
      // Project "tooling": Node runs the OpenAPI tools app developers use (Redocly, openapi-typescript,
      // tsc) on the document the built gateway serves in Miniflare (test/contract/tooling).
      {
        test: {
          name: 'tooling',
          include: ['test/contract/tooling/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
})
