import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { bundledRules } from '../worker/rules'

describe('GET /v1/health', () => {
  it('reports ok with the rules version in force', async () => {
    const res = await exports.default.fetch('http://gate.test/v1/health')
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ status: 'ok', rulesVersion: bundledRules.version })
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('answers unknown gateway routes with problem+json, never proxying them', async () => {
    const res = await exports.default.fetch('http://gate.test/v1/nope')
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
  })

  it('proxies other paths to the origin', async () => {
    const res = await exports.default.fetch('http://gate.test/')
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('Demo store')
  })
})
