// Applies the D1 migrations in migrations/ to the test database (idempotent: applied ones are skipped).
import { applyD1Migrations } from 'cloudflare:test'
import { env } from 'cloudflare:workers'

const testEnv = env as typeof env & { TEST_MIGRATIONS: Parameters<typeof applyD1Migrations>[1] }
await applyD1Migrations(testEnv.DB, testEnv.TEST_MIGRATIONS)
