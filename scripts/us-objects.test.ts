/// <reference types="vite/client" />
/**
 * The checked-in `worker/consent/gpp/us-objects.ts` is exactly what its generator writes from the
 * current US field tables: a table changed without regenerating fails here, before a layout can
 * fall back to the slow generic builder.
 */
import { describe, expect, it } from 'vitest'
import checkedIn from '../worker/consent/gpp/us-objects.ts?raw'
import { US_BUILDERS } from '../worker/consent/gpp/us-objects'
import { usLayouts, usObjectsSource } from './us-objects-source'

describe('worker/consent/gpp/us-objects.ts', () => {
  it('is the generator output for the current tables (npx tsx scripts/us-objects.ts)', () => {
    expect(checkedIn).toBe(usObjectsSource())
  })

  it('has one literal per distinct key list, each writing its keys from their own positions', () => {
    const layouts = usLayouts()
    expect(US_BUILDERS).toHaveLength(layouts.length)
    const positions = Array.from({ length: 24 }, (_, i) => i) as Parameters<(typeof US_BUILDERS)[number]>[0]
    US_BUILDERS.forEach((build, i) => {
      const keys = layouts[i]!.keys
      expect(build(positions)).toEqual(Object.fromEntries(keys.map((key, at) => [key, at])))
    })
  })
})
