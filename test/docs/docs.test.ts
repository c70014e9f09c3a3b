/// <reference types="vite/client" />
/**
 * The docs stay true to the code and inside the repository. The response hooks table in
 * docs/architecture.md lists every field of `ResponseHooks` with exactly the files that register on
 * it; every link into docs/ and every `docs/<page>.md "<Section>"` citation names a heading that
 * exists; and no file points outside the repository or at a tracker's issue numbers. Reads the
 * files as text at build time (Vite's `?raw` glob), so it needs no file system at run time.
 */
import { describe, expect, it } from 'vitest'
import { emptyHooks } from '../../worker/proxy/hooks'

const docs = import.meta.glob<string>(['../../docs/*.md', '../../README.md', '../../rules/README.md'], {
  eager: true,
  query: '?raw',
  import: 'default',
})
const code = import.meta.glob<string>(
  [
    '../../worker/**/*.ts',
    '../../durable-objects/**/*.ts',
    '!../../**/*.test.ts',
    '!../../worker/rules/generated/**',
  ],
  { eager: true, query: '?raw', import: 'default' },
)
const everything = import.meta.glob<string>(
  [
    '../../worker/**/*.{ts,json,md}',
    '../../durable-objects/**/*.ts',
    '../../docs/*.md',
    '../../README.md',
    '../../bench/**/*.{ts,mjs}',
    '../../scripts/**/*.{ts,mjs}',
    '../../test/**/*.{ts,mjs,json}',
    '../../examples/**/*.{ts,mjs,json,md}',
    '../../rules/**/*.{yaml,md}',
    '../../migrations/*.sql',
    '../../vitest.config.ts',
    '../../wrangler.toml',
    '!../../worker/rules/generated/**',
  ],
  { eager: true, query: '?raw', import: 'default' },
)

/** Repository-relative path of a glob key (`../../docs/api.md` -> `docs/api.md`). */
const repoPath = (key: string) => key.replace(/^\.\.\/\.\.\//, '')
const byPath = (files: Record<string, string>) =>
  new Map(Object.entries(files).map(([k, v]) => [repoPath(k), v]))
const docFiles = byPath(docs)
const architecture = docFiles.get('docs/architecture.md')!

/** The headings of a Markdown document, outside fenced code blocks, without `#`s and backticks. */
function headings(markdown: string): string[] {
  const out: string[] = []
  let fenced = false
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced
    else if (!fenced && /^#{1,6} /.test(line)) out.push(line.replace(/^#+ /, '').replaceAll('`', '').trim())
  }
  return out
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchor = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')

/** The rows of the hooks table: hook names (first cell) and the files in the "registered by" cell. */
function hooksTable(): Map<string, string[]> {
  const start = architecture.indexOf('## Response hooks')
  const section = architecture.slice(start, architecture.indexOf('\n## ', start + 1))
  const rows = new Map<string, string[]>()
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue
    const [names, registeredBy] = line.split(' | ')
    const files = [...(registeredBy ?? '').matchAll(/`((?:worker|durable-objects)\/[^`]+\.ts)`/g)].map(
      (m) => m[1]!,
    )
    for (const [, name] of (names ?? '').matchAll(/`(\w+)`/g)) rows.set(name!, files.sort())
  }
  return rows
}

/**
 * Files that register on a hook: `hooks.<hook>.push(` or `hooks.<hook> = ` (also through
 * `c.get('hooks')` and `hooks?.`) outside worker/proxy/hooks.ts.
 */
function registrants(hook: string): string[] {
  const write = new RegExp(`hooks(?:'\\))?\\??\\.${hook}(?:\\.push\\(|\\s*=(?!=))`)
  return [...byPath(code)]
    .filter(([path, text]) => path !== 'worker/proxy/hooks.ts' && write.test(text))
    .map(([path]) => path)
    .sort()
}

describe('docs/architecture.md response hooks table', () => {
  const table = hooksTable()

  it('lists every field of ResponseHooks and nothing else', () => {
    expect([...table.keys()].sort()).toEqual(Object.keys(emptyHooks()).sort())
  })

  it.each(Object.keys(emptyHooks()))('names every file that registers on `%s`, and only those', (hook) => {
    expect(table.get(hook), `update the "registered by" cell of \`${hook}\``).toEqual(registrants(hook))
  })

  it('finds the registrations it checks (the scan is not vacuous)', () => {
    expect(registrants('originHeaders').length).toBeGreaterThanOrEqual(3)
    expect(registrants('html')).toContain('worker/decide/index.ts')
  })
})

describe('citations of docs/ sections', () => {
  const sections = new Map([...docFiles].map(([path, text]) => [path, headings(text)]))
  const sectionExists = (page: string, section: string) =>
    (sections.get(page) ?? []).some((h) => h === section || h.startsWith(`${section} `))

  it('every `docs/<page>.md "<Section>"` names a heading that exists', () => {
    const broken: string[] = []
    let checked = 0
    for (const [path, text] of byPath(everything)) {
      // A citation may wrap onto the next comment line: `docs/api.md\n * "POST /v1/decide"`.
      for (const m of text.matchAll(
        /docs\/([a-z-]+\.md)(?:[ \t]|\n[ \t]*(?:\*|\/\/|--)?[ \t]*)"([^"\n]+)"/g,
      )) {
        checked++
        if (!sectionExists(`docs/${m[1]}`, m[2]!)) broken.push(`${path}: docs/${m[1]} "${m[2]}"`)
      }
    }
    expect(broken).toEqual([])
    expect(checked).toBeGreaterThan(10)
  })

  it('every Markdown link to a page of docs/ names a page and an anchor that exist', () => {
    const broken: string[] = []
    let checked = 0
    for (const [path, text] of docFiles) {
      const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/') + 1) : ''
      for (const m of text.matchAll(/\]\(((?:\.\.\/)?[\w./-]*?\.md)(?:#([\w-]+))?\)/g)) {
        const target = new URL(m[1]!, `file:///${dir}`).pathname.slice(1)
        if (!docFiles.has(target)) {
          if (target.startsWith('docs/')) broken.push(`${path}: ${m[0]} (no such page)`)
          continue
        }
        checked++
        const anchors = headings(docFiles.get(target)!).map(anchor)
        if (m[2] && !anchors.includes(m[2])) broken.push(`${path}: ${m[0]} (no such section)`)
      }
    }
    expect(broken).toEqual([])
    expect(checked).toBeGreaterThan(20)
  })
})

describe('a self-contained repository', () => {
  // Written so that this file does not match itself.
  const outside = [
    new RegExp(['\\.\\.', 'shared', ''].join('/')),
    new RegExp(['API', 'md'].join('\\.')),
    new RegExp(['DESIGN', 'md'].join('\\.')),
    new RegExp(['TOOL', 'CHAIN'].join('')),
    new RegExp(['issue', '\\d'].join(' ')),
  ]

  it('no file points outside the repository or at tracker issue numbers', () => {
    const found: string[] = []
    for (const [path, text] of byPath(everything)) {
      text.split('\n').forEach((line, i) => {
        if (outside.some((re) => re.test(line))) found.push(`${path}:${i + 1}: ${line.trim()}`)
      })
    }
    expect(found).toEqual([])
    expect(Object.keys(everything).length).toBeGreaterThan(200)
  })
})
