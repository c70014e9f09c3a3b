/**
 * A decoder's first call in a cold workerd isolate: the engine the Worker runs on, before any of
 * its code has been compiled or warmed. Each string gets `isolates` fresh isolates (one Miniflare
 * worker each, all in one workerd process); each isolate decodes its string once and reports
 * the time.
 *
 * workerd's clock ticks in whole milliseconds, so one call reads 0, 1, 2... ms; over many
 * isolates, whose calls start at unrelated points of a tick, the mean of the readings estimates
 * the mean time to a fraction of a millisecond. The per-isolate readings are returned too.
 */
import { Miniflare } from 'miniflare'
import { bundleSource } from './bundle'

export interface ColdFirstCalls {
  /** Mean of the isolates' readings, in ms. */
  meanMs: number
  /** Each isolate's reading, in whole ms. */
  readingsMs: number[]
}

/**
 * `decoder` is the decoding function's name as exported by `module` (a path from the repository
 * root); it is called as `decoder(string)`.
 */
export async function coldFirstCalls(
  module: string,
  decoder: string,
  strings: Record<string, string>,
  isolates = 30,
): Promise<Record<string, ColdFirstCalls>> {
  const script = await bundleSource(`import { ${decoder} as decode } from './${module}'
export default {
  async fetch(request) {
    const input = await request.text()
    const start = performance.now()
    decode(input)
    return new Response(String(performance.now() - start))
  },
}`)
  const names = Object.keys(strings)
  const workers = names.flatMap((name, s) =>
    Array.from({ length: isolates }, (_, i) => ({
      name: `cold-${s}-${i}`,
      modules: true,
      compatibilityDate: '2026-04-01',
      script,
    })),
  )
  const mf = new Miniflare({ workers })
  try {
    const out: Record<string, ColdFirstCalls> = {}
    for (const [s, name] of names.entries()) {
      const readingsMs: number[] = []
      for (let i = 0; i < isolates; i++) {
        const worker = await mf.getWorker(`cold-${s}-${i}`)
        const response = await worker.fetch('http://cold/', { method: 'POST', body: strings[name] })
        readingsMs.push(Number(await response.text()))
      }
      out[name] = { meanMs: readingsMs.reduce((a, b) => a + b, 0) / isolates, readingsMs }
    }
    return out
  } finally {
    await mf.dispose()
  }
}
