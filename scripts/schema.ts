/**
 * JSON Schemas for the rule files, generated from the same zod definitions the compiler validates
 * with (`z.toJSONSchema`), one per concern: rules/schema/<concern>.schema.json. Each YAML file points
 * at its schema with a `# yaml-language-server: $schema=./schema/<concern>.schema.json` first line,
 * so editors autocomplete fields and flag mistakes as marketers type.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { concerns, type ConcernName } from '../worker/rules/concerns'

/** Formats a strict validator knows (JSON Schema 2020-12 section 7.3 and ajv-formats); others are dropped. */
const STANDARD_FORMATS = new Set([
  'date',
  'date-time',
  'time',
  'duration',
  'email',
  'uri',
  'uri-reference',
  'uuid',
  'regex',
])

/**
 * Rewrites zod's output into what strict validators (ajv strict, draft 2020-12) accept: a union
 * `type: [a, b]` becomes `anyOf` of single types, and zod's private formats (`starts_with`, whose
 * meaning the `pattern` beside it already carries) are removed.
 */
export function strictSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strictSchema)
  if (!node || typeof node !== 'object') return node
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(node)) {
    // Values of `enum`, `const`, `default` and `examples` are data, not schemas.
    out[k] = ['enum', 'const', 'default', 'examples'].includes(k) ? v : strictSchema(v)
  }
  if (typeof out.format === 'string' && !STANDARD_FORMATS.has(out.format)) delete out.format
  if (Array.isArray(out.type)) {
    const types = out.type as string[]
    delete out.type
    const union = types.map((t) => ({ type: t }))
    out.anyOf = Array.isArray(out.anyOf) ? [...(out.anyOf as unknown[]), ...union] : union
  }
  return out
}

/** The JSON Schema (draft 2020-12) of one concern's file, as written by marketers (zod input side). */
export function concernSchema(name: ConcernName): Record<string, unknown> {
  const schema = strictSchema(
    z.toJSONSchema(concerns[name], { io: 'input', unrepresentable: 'any' }),
  ) as Record<string, unknown>
  return { ...schema, $id: `https://gatehouse.dev/rules/${name}.schema.json`, title: `rules/${name}.yaml` }
}

/** Writes every concern's schema into `dir`; returns the files that changed. */
export function writeSchemas(dir: string): string[] {
  mkdirSync(dir, { recursive: true })
  const files: string[] = []
  for (const name of Object.keys(concerns) as ConcernName[]) {
    const file = join(dir, `${name}.schema.json`)
    const text = JSON.stringify(concernSchema(name), null, 2) + '\n'
    // Unchanged files are left alone, so a build does not touch the work tree needlessly.
    if (existsSync(file) && readFileSync(file, 'utf8') === text) continue
    writeFileSync(file, text)
    files.push(file)
  }
  return files
}
