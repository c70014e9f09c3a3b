/**
 * Writes `worker/consent/gpp/us-objects.ts` from the US field tables (`us-objects-source.ts`):
 *
 *   npx tsx scripts/us-objects.ts           # rewrite the file
 *   npx tsx scripts/us-objects.ts --check   # exit 1 when the file is stale
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { usObjectsSource } from './us-objects-source'

const target = fileURLToPath(new URL('../worker/consent/gpp/us-objects.ts', import.meta.url))
const source = usObjectsSource()
if (process.argv.includes('--check')) {
  const stale = readFileSync(target, 'utf8') !== source
  console.log(stale ? `${target} is stale: run npx tsx scripts/us-objects.ts` : `${target} is current`)
  process.exit(stale ? 1 : 0)
}
writeFileSync(target, source)
console.log(`wrote ${target}`)
