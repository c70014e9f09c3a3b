/**
 * One module's source bundled as wrangler bundles the Worker (esbuild, ESM, platform neutral), for
 * benchmarks that time code the way it ships. Imports only esbuild: loading Miniflare or wrangler
 * into a benchmark's process changes what it measures (see bench/tcf.ts).
 */
import { resolve } from 'node:path'
import { build } from 'esbuild'

const root = resolve(import.meta.dirname, '../..')

/** `contents` (TypeScript, imports relative to the repository root) bundled into one ESM text. */
export async function bundleSource(contents: string): Promise<string> {
  const out = await build({
    stdin: { contents, resolveDir: root, loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    write: false,
    logLevel: 'warning',
  })
  return (out.outputFiles[0] as { text: string }).text
}
