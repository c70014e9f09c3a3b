/// <reference types="vite/client" />
import { describe, expect, it } from 'vitest'
import { concerns, type ConcernName } from '../../worker/rules/concerns'
import { concernSchema } from '../../scripts/schema'

const committed = import.meta.glob<Record<string, unknown>>('../../rules/schema/*.schema.json', {
  eager: true,
  import: 'default',
})
const yamlFiles = import.meta.glob<string>('../../rules/*.yaml', {
  eager: true,
  query: '?raw',
  import: 'default',
})

describe('JSON Schemas for editors (rules/schema/)', () => {
  it.each(Object.keys(concerns))('rules/schema/%s.schema.json matches the zod definition', (name) => {
    expect(committed[`../../rules/schema/${name}.schema.json`]).toEqual(concernSchema(name as ConcernName))
  })

  it.each(Object.keys(yamlFiles))('%s points editors at its schema on the first line', (path) => {
    const concern = path.replace('../../rules/', '').replace('.yaml', '')
    expect(yamlFiles[path]!.split('\n')[0]).toBe(
      `# yaml-language-server: $schema=./schema/${concern}.schema.json`,
    )
  })

  it('describes the condition language recursively, with operators documented', () => {
    const s = JSON.stringify(concernSchema('audiences'))
    expect(s).toContain('"regex"')
    expect(s).toContain('A number in [low, high], inclusive.')
  })
})
