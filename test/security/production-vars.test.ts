/**
 * Attack catalogue: `wrangler.toml` used to carry `GATEHOUSE_ENV = "development"` at top level, so
 * a plain `wrangler deploy` shipped the X-Gatehouse-Country/-Region location overrides, with which
 * any visitor can choose their own jurisdiction (and so their consent regime). The top-level vars
 * are now production; development mode comes only from `npm start` and the test configuration.
 */
/// <reference types="vite/client" />
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import wranglerToml from '../../wrangler.toml?raw'
import { createApp } from '../../worker/app'
import type { Env } from '../../worker/env'

/** `key = "value"` lines of the top-level `[vars]` table (the vars a plain deploy ships). */
function topLevelVars(toml: string): Record<string, string> {
  const vars: Record<string, string> = {}
  let inVars = false
  for (const raw of toml.split('\n')) {
    const line = raw.trim()
    if (line.startsWith('[')) {
      inVars = line === '[vars]'
      continue
    }
    const m = inVars ? /^([A-Z0-9_]+)\s*=\s*"([^"]*)"\s*(?:#.*)?$/.exec(line) : null
    if (m) vars[m[1]!] = m[2]!
  }
  return vars
}

async function jurisdictionWith(vars: Partial<Env>, headers: Record<string, string>): Promise<unknown> {
  const ctx = createExecutionContext()
  const res = await createApp().fetch(
    new Request('http://gate.test/v1/consent', { headers }),
    { ...env, ...vars } as Env,
    ctx,
  )
  await waitOnExecutionContext(ctx)
  return ((await res.json()) as { jurisdiction: unknown }).jurisdiction
}

const OVERRIDE = { 'x-gatehouse-country': 'US', 'x-gatehouse-region': 'CA' }

describe('production by default', () => {
  it('ships GATEHOUSE_ENV = "production" in the top-level vars of wrangler.toml', () => {
    const vars = topLevelVars(wranglerToml)
    expect(vars.GATEHOUSE_ENV).toBe('production')
    // No other table may turn development mode back on for a plain deploy.
    expect(wranglerToml).not.toMatch(/GATEHOUSE_ENV\s*=\s*"development"/)
  })

  it('ignores the location override headers with the vars a plain deploy ships', async () => {
    const shipped = topLevelVars(wranglerToml)
    const deployed = await jurisdictionWith({ GATEHOUSE_ENV: shipped.GATEHOUSE_ENV }, OVERRIDE)
    // The control: the same request in development mode is located by the headers.
    const development = await jurisdictionWith({ GATEHOUSE_ENV: 'development' }, OVERRIDE)
    expect(development).toBe('US-CA')
    expect(deployed).not.toBe(development)
  })

  it('treats a missing or misspelt GATEHOUSE_ENV as production', async () => {
    for (const value of [undefined, 'Development', 'dev', '']) {
      const located = await jurisdictionWith({ GATEHOUSE_ENV: value as string }, OVERRIDE)
      expect(located, String(value)).not.toBe('US-CA')
    }
  })
})
