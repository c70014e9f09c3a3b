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

/** The JSON Schema (draft 2020-12) of one concern's file, as written by marketers (zod input side). */
export function concernSchema(name: ConcernName): Record<string, unknown> {
  const schema = z.toJSONSchema(concerns[name], { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >
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
