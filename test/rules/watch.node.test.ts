/**
 * The rules watcher behind `npm start` (scripts/rules-watch.mjs), as a real process on a copy of
 * rules/: a burst of changes to every rule file (what `git checkout -- rules` does) is one build and
 * one line; a broken file is one line naming the error; and npm start's wrangler config has no
 * build step of its own that would start more builds.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
// @ts-expect-error: plain ESM module without types
import { devConfig } from '../../scripts/start.mjs'

const root = resolve(__dirname, '../..')
let dir: string
let watcher: ChildProcess | undefined
let lines: string[]
let starts = 0

function startWatcher(): Promise<void> {
  lines = []
  starts = 0
  watcher = spawn(process.execPath, [join(root, 'scripts/rules-watch.mjs'), '--check'], {
    cwd: root,
    env: { ...process.env, GATEHOUSE_RULES_DIR: dir, GATEHOUSE_RULES_WATCH_TRACE: '1' },
  })
  watcher.stderr!.on('data', (d: Buffer) => (starts += d.toString().split('build started').length - 1))
  let buffer = ''
  return new Promise((ready) => {
    watcher!.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString()
      const parts = buffer.split('\n')
      buffer = parts.pop()!
      for (const line of parts) {
        if (line.startsWith('watching ')) ready()
        else lines.push(line)
      }
    })
  })
}

/**
 * Waits until `n` lines have been printed, then longer than the debounce (300 ms) more: a further
 * build would have started by then (its start is traced at once, long before its line).
 */
async function linesAfterQuiet(n: number): Promise<string[]> {
  while (lines.length < n) await new Promise((r) => setTimeout(r, 100))
  await new Promise((r) => setTimeout(r, 1500))
  return [...lines]
}

function touchAll(): void {
  const now = new Date()
  for (const f of readdirSync(dir)) if (f.endsWith('.yaml')) utimesSync(join(dir, f), now, now)
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-watch-'))
  cpSync(join(root, 'rules'), dir, { recursive: true })
})

afterEach(() => {
  watcher?.kill('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
})

describe('rules watcher for npm start', () => {
  it('builds once for a burst of changes to every rule file, twice over', async () => {
    await startWatcher()
    for (let i = 0; i < 2; i++) {
      touchAll()
      for (const f of readdirSync(dir))
        if (f.endsWith('.yaml')) writeFileSync(join(dir, f), readFileSync(join(dir, f)))
    }
    const out = await linesAfterQuiet(1)
    expect(starts).toBe(1)
    expect(out).toHaveLength(1)
    expect(out[0]).toMatch(/^rules: sha256:[0-9a-f]{32} is now live$/)
  })

  it('prints one line with the error for a broken file, and the version once it is fixed', async () => {
    await startWatcher()
    const file = join(dir, 'experiments.yaml')
    const good = readFileSync(file, 'utf8')
    writeFileSync(file, good.replace('control: default_hero', 'control: default_heroo'))
    const broken = await linesAfterQuiet(1)
    expect(broken).toHaveLength(1)
    expect(broken[0]).toMatch(
      new RegExp(
        `^rules: not rebuilt, 1 error\\(s\\), the previous rules stay live: .*experiments\\.yaml:\\d+:\\d+: .*default_heroo`,
      ),
    )
    writeFileSync(file, good)
    const fixed = await linesAfterQuiet(2)
    expect(starts).toBe(2)
    expect(fixed).toHaveLength(2)
    expect(fixed[1]).toMatch(/^rules: sha256:[0-9a-f]{32} is now live$/)
  })

  it("runs wrangler dev from a config without wrangler.toml's [build] table, keeping the rest", () => {
    const text = readFileSync(join(root, 'wrangler.toml'), 'utf8')
    const dev = devConfig(text) as string
    expect(text).toMatch(/^\[build\]$/m)
    expect(dev).not.toMatch(/^\[build\]|^command =|^watch_dir =/m)
    for (const kept of [
      'main = "worker/index.ts"',
      '[vars]',
      '[[durable_objects.bindings]]',
      '[[d1_databases]]',
    ])
      expect(dev).toContain(kept)
  })
})
