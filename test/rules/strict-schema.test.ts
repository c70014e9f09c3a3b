/**
 * The JSON Schemas in rules/schema are valid for a strict validator (ajv, strict mode, draft
 * 2020-12, with ajv-formats), and agree with the compiler: every shipped rule file is accepted by
 * both, and each file of a corpus of broken ones is refused by both.
 */
/// <reference types="vite/client" />
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { parse } from 'yaml'
import { describe, expect, it } from 'vitest'
import { compileRules } from '../../worker/rules/compile'

const schemas = import.meta.glob<Record<string, unknown>>('../../rules/schema/*.schema.json', {
  eager: true,
  import: 'default',
})
const shipped = Object.fromEntries(
  Object.entries(
    import.meta.glob<string>('../../rules/*.yaml', { eager: true, query: '?raw', import: 'default' }),
  ).map(([path, text]) => [path.replace('../../rules/', ''), text]),
)

function validator(concern: string) {
  const ajv = new Ajv2020({ strict: true, allErrors: true })
  addFormats(ajv)
  return ajv.compile(schemas[`../../rules/schema/${concern}.schema.json`]!)
}

/** Broken files a schema can see, each with the file it replaces. */
const broken: Array<[string, string, string]> = [
  [
    'an unknown field',
    'caps.yaml',
    'caps:\n  - { id: a, channel: email, limt: 1, window: { rollingHours: 1 } }\n',
  ],
  [
    'a fractional limit',
    'caps.yaml',
    'caps:\n  - { id: a, channel: email, limit: 1.5, window: { rollingHours: 1 } }\n',
  ],
  ['quiet hours that are not HH:MM', 'caps.yaml', 'quietHours: { start: "9pm", end: "08:00" }\n'],
  [
    'an unknown channel',
    'caps.yaml',
    'caps:\n  - { id: a, channel: fax, limit: 1, window: { rollingHours: 1 } }\n',
  ],
  ['a misspelt time zone', 'caps.yaml', 'defaultTimeZone: Europe/Berln\n'],
  ['a page path without a leading slash', 'placements.yaml', 'pages:\n  cart: [cart_upsell]\n'],
  [
    'a placement name that is not lower_snake_case',
    'placements.yaml',
    'placements:\n  Home: { fallback: a, variants: { a: { status: approved } } }\n',
  ],
  [
    'an approval status that does not exist',
    'placements.yaml',
    'placements:\n  home: { fallback: a, variants: { a: { status: aproved } } }\n',
  ],
  [
    'a misspelt schedule time zone',
    'audiences.yaml',
    'audiences:\n  a: { when: { schedule: { timeZone: Europe/Berln } } }\n',
  ],
  [
    'a field test with two operators',
    'audiences.yaml',
    'audiences:\n  a: { when: { field: geo.country, eq: DE, in: [AT] } }\n',
  ],
  [
    'a condition of two kinds',
    'audiences.yaml',
    'audiences:\n  a: { when: { field: geo.country, eq: DE, trait: b } }\n',
  ],
  [
    'a rule naming both a variant and an experiment',
    'placements.yaml',
    'placements:\n  home: { fallback: a, variants: { a: { status: approved } }, rules: [{ id: r, variant: a, experiment: e }] }\n',
  ],
  [
    'a trigger tag in capitals',
    'triggers.yaml',
    'triggers:\n  - { id: t, campaign: c, tags: [Marketing], on: x, channels: [email] }\ndelivery: { webhooks: { email: { env: E } } }\n',
  ],
]

describe('rules/schema under a strict validator', () => {
  it.each(Object.keys(schemas))('%s compiles in ajv strict mode (draft 2020-12)', (path) => {
    const concern = path.replace('../../rules/schema/', '').replace('.schema.json', '')
    expect(() => validator(concern)).not.toThrow()
  })

  it.each(Object.keys(shipped))('accepts the shipped %s, as the compiler does', (file) => {
    const validate = validator(file.replace('.yaml', ''))
    expect(validate(parse(shipped[file]!) ?? {}), JSON.stringify(validate.errors)).toBe(true)
    expect(compileRules(shipped).ok).toBe(true)
  })

  it.each(broken)('refuses %s, as the compiler does', (_name, file, text) => {
    const validate = validator(file.replace('.yaml', ''))
    expect(validate(parse(text))).toBe(false)
    expect(compileRules({ ...shipped, [file]: text }).ok).toBe(false)
  })
})
