/**
 * What an app developer does with the OpenAPI document, done on the document the BUILT Worker
 * serves (in Miniflare, fetched over loopback; no public URL): Redocly's recommended rules find
 * nothing; openapi-typescript generates exactly the types committed with the typed client; a small
 * app written against those types type-checks with `tsc`, and the mistakes it must not make do
 * not; the client package compiles on its own, importing nothing outside its folder. Runs in Node
 * (vitest project "tooling"), because the tools are Node programs.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { root } from '../../../bench/lib/gateway'
import { CLIENT_TYPES, clientTypes, lint, servedDocument } from '../../../scripts/openapi'

const run = promisify(execFile)
const tsc = join(root, 'node_modules/.bin/tsc')

let doc: Record<string, unknown>
let types: string

beforeAll(async () => {
  doc = await servedDocument()
  types = await clientTypes(doc)
})

/** `tsc --noEmit` (strict) on `files` in `dir`, as a project of their own; its exit status and diagnostics. */
async function typecheck(dir: string, files: string[]): Promise<{ ok: boolean; out: string }> {
  const compilerOptions = {
    strict: true,
    noEmit: true,
    target: 'ES2022',
    module: 'ESNext',
    moduleResolution: 'Bundler',
    lib: ['ES2022', 'DOM'],
    types: [],
  }
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }))
  try {
    await run(tsc, ['-p', join(dir, 'tsconfig.json')], { cwd: dir })
    return { ok: true, out: '' }
  } catch (e) {
    return { ok: false, out: (e as { stdout?: string }).stdout ?? String(e) }
  }
}

// An app a developer might write from the generated types: the smallest decide request, a full
// one, reading a decision, sending events; and the mistakes the types must refuse.
const APP = `
import type { components, paths } from './api'
type Schemas = components['schemas']

const smallest: Schemas['DecideRequest'] = { placements: ['home_hero'] }
const full: Schemas['DecideRequest'] = {
  placements: ['home_hero', 'cart_upsell'],
  context: { locale: 'de-AT', url: 'https://shop.example/', attributes: { tier: 'gold', visits: 3, vip: true } },
  consent: { tcString: 'CQ...', gppSid: [7], gpc: false },
}
type Decided = paths['/v1/decide']['post']['responses'][200]['content']['application/json']
export function headline(r: Decided): string {
  const d = r.decisions.find((x) => x.placement === 'home_hero')
  const arm: string | undefined = d?.experiment?.arm
  return String(d?.content.headline ?? arm ?? r.rulesVersion)
}
const events: Schemas['EventsRequest'] = { events: [{ id: 'order-000123', type: 'purchase', ts: '2026-11-23T10:00:00Z' }] }
const server: Schemas['ConversionsRequest'] = { conversions: [{ id: 'order-000123', experiment: 'x', arm: 'a' }] }
type Problem = paths['/v1/decide']['post']['responses'][400]['content']['application/problem+json']
export const firstField = (p: Problem): string | undefined => p.errors?.[0]?.path

// @ts-expect-error a misspelt key is not a DecideRequest
const misspelt: Schemas['DecideRequest'] = { placements: ['home_hero'], contxt: {} }
// @ts-expect-error placements are required
const none: Schemas['DecideRequest'] = {}
// @ts-expect-error conversions have no count
const counted: Schemas['ConversionsRequest'] = { conversions: [{ id: 'order-000123', experiment: 'x', arm: 'a', count: 2 }] }

export const all = [smallest, full, events, server, misspelt, none, counted]
`

describe('the served OpenAPI document with the tools app developers use', () => {
  it('lints clean with Redocly CLI (recommended rules)', async () => {
    const report = await lint(doc)
    expect(report.problems).toEqual([])
    expect(report.totals).toEqual({ errors: 0, warnings: 0, ignored: 0 })
  })

  it('generates the types committed with the client (run `npm run openapi:types` after a change)', () => {
    expect(types).toBe(readFileSync(CLIENT_TYPES, 'utf8'))
  })

  it('type-checks an app written against the generated types, and refuses its mistakes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-app-'))
    writeFileSync(join(dir, 'api.ts'), types)
    writeFileSync(join(dir, 'app.ts'), APP)
    const good = await typecheck(dir, ['app.ts'])
    expect(good.out).toBe('')
    expect(good.ok).toBe(true)

    // Without the expectations, each mistake is an error tsc reports.
    writeFileSync(join(dir, 'app.ts'), APP.replaceAll('// @ts-expect-error', '// mistake:'))
    const bad = await typecheck(dir, ['app.ts'])
    expect(bad.ok).toBe(false)
    expect(bad.out).toMatch(/'contxt' does not exist/)
    expect(bad.out).toMatch(/Property 'placements' is missing/)
    expect(bad.out).toMatch(/'count' does not exist/)
  })

  it('compiles the client package on its own, importing nothing outside its folder', async () => {
    const pkg = join(root, 'examples/client')
    for (const file of readdirSync(pkg).filter((f) => f.endsWith('.ts'))) {
      const imports = [...readFileSync(join(pkg, file), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]!)
      expect(
        imports.filter((i) => !i.startsWith('./')),
        file,
      ).toEqual([])
    }
    const out = mkdtempSync(join(tmpdir(), 'gatehouse-client-'))
    await run(tsc, ['-p', join(pkg, 'tsconfig.json'), '--outDir', out])
    expect(readdirSync(out).sort()).toEqual(['api.d.ts', 'api.js', 'index.d.ts', 'index.js'])
  })
})
