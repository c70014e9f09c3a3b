/**
 * Rule tooling for marketers and the build:
 *   npm run rules:check              validate rules/ and print every error as file:line:col
 *   npm run rules:build              validate, then write the compiled rule set for the Worker
 *   npm run rules:explain -- v.json  what each placement shows the described visitor, and why
 *   npm run rules:diff -- [ref]      what changes against a git ref (default HEAD) before it goes live
 *   npm run rules:schema             regenerate rules/schema/*.schema.json from the zod definitions
 *
 * GATEHOUSE_RULES_DIR points every command at another folder (a candidate release, a broken copy).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { compileRules, formatRuleError, type CompileResult } from '../worker/rules/compile'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const rulesDir = process.env.GATEHOUSE_RULES_DIR ?? join(root, 'rules')
const outFile = join(root, 'worker/rules/generated/ruleset.json')
// Errors name files the way the reader sees them: `rules/x.yaml`, or the path of another folder.
const shownDir = relative(process.cwd(), rulesDir) || '.'

function readRuleFiles(dir: string): Record<string, string> {
  const files: Record<string, string> = {}
  for (const name of readdirSync(dir).sort()) {
    if (/\.ya?ml$/.test(name)) files[name] = readFileSync(join(dir, name), 'utf8')
  }
  return files
}

function compileOrExit(): Extract<CompileResult, { ok: true }> {
  const result = compileRules(readRuleFiles(rulesDir))
  for (const w of result.warnings ?? []) console.warn(`warning: ${formatRuleError(w, shownDir)}`)
  if (!result.ok) {
    for (const e of result.errors) console.error(formatRuleError(e, shownDir))
    console.error(`\n${result.errors.length} error(s): the rule set was not compiled.`)
    process.exit(1)
  }
  return result
}

async function main(): Promise<void> {
  const [command = 'check', ...args] = process.argv.slice(2)
  switch (command) {
    case 'check': {
      const { ruleset } = compileOrExit()
      console.log(`rules OK: ${ruleset.version}`)
      return
    }
    case 'build': {
      const { ruleset } = compileOrExit()
      mkdirSync(dirname(outFile), { recursive: true })
      writeFileSync(outFile, JSON.stringify(ruleset) + '\n')
      // Keep the editor schemas in step with the definitions the build validated against.
      const { writeSchemas } = await import('./schema')
      writeSchemas(join(root, 'rules/schema'))
      console.log(`rules compiled: ${ruleset.version}`)
      return
    }
    case 'explain': {
      const { ruleset } = compileOrExit()
      const { explainCommand } = await import('./explain')
      process.exit(await explainCommand(ruleset, args))
    }
    // falls through: process.exit never returns
    case 'diff': {
      const { diffCommand } = await import('./rules-diff')
      process.exit(diffCommand(args))
    }
    // falls through: process.exit never returns
    case 'schema': {
      const { writeSchemas } = await import('./schema')
      for (const file of writeSchemas(join(root, 'rules/schema'))) console.log(`wrote ${file}`)
      return
    }
    default:
      console.error(`unknown command "${command}": use check, build, explain, diff or schema`)
      process.exit(2)
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
