/**
 * `npm run bundle:size`: builds the Worker as `wrangler deploy` would (`--dry-run`, no account
 * needed) and prints the bundle's raw and gzip size. Cloudflare's Worker size limits apply to
 * the compressed size (3 MB on the free plan, 10 MB on paid plans).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const outdir = mkdtempSync(join(tmpdir(), 'gatehouse-size-'))
try {
  execFileSync(join(root, 'node_modules', '.bin', 'wrangler'), ['deploy', '--dry-run', '--outdir', outdir], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
  })
  let raw = 0
  let gzip = 0
  for (const file of readdirSync(outdir).filter((f) => /\.(m?js|wasm)$/.test(f))) {
    const bytes = readFileSync(join(outdir, file))
    raw += bytes.length
    gzip += gzipSync(bytes, { level: 9 }).length
  }
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`
  console.log(`bundle: ${kib(raw)} raw, ${kib(gzip)} gzip (source maps excluded)`)
} finally {
  rmSync(outdir, { recursive: true, force: true })
}
