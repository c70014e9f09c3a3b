/**
 * `npm run rules:diff` against a real git repository: a temporary repo holds a small rule set
 * (test/rules/fixtures/diff) and two sample visitors; each test edits the working tree and runs the
 * real command, comparing its whole output and exit status.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { compileRules } from '../../worker/rules/compile'

const root = resolve(__dirname, '../..')
const fixture = join(root, 'test/rules/fixtures/diff')
const tsx = join(root, 'node_modules/.bin/tsx')
const AT = '2026-03-10T10:30:00Z'

let repo: string

function git(...args: string[]): void {
  execFileSync('git', ['-c', 'user.email=dev@gatehouse.test', '-c', 'user.name=dev', ...args], {
    cwd: repo,
    stdio: 'ignore',
  })
}

function version(): string {
  const files: Record<string, string> = {}
  for (const f of ['audiences.yaml', 'consent.yaml', 'experiments.yaml', 'placements.yaml'])
    files[f] = readFileSync(join(repo, 'rules', f), 'utf8')
  const r = compileRules(files)
  if (!r.ok) throw new Error('fixture does not compile')
  return r.ruleset.version
}

function edit(file: string, from: string, to: string): void {
  const path = join(repo, 'rules', file)
  const text = readFileSync(path, 'utf8')
  expect(text).toContain(from)
  writeFileSync(path, text.replace(from, to))
}

function diff(...args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(tsx, [join(root, 'scripts/rules.ts'), 'diff', '--at', AT, ...args], {
    cwd: repo,
    encoding: 'utf8',
    env: withoutRulesDir(),
  })
  return { status: r.status, out: r.stdout.trimEnd(), err: r.stderr.trimEnd() }
}

// The command reads the repository's rules/ folder, not one the caller's shell points at.
function withoutRulesDir(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.GATEHOUSE_RULES_DIR
  return env
}

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'gatehouse-diff-'))
  git('init', '-q')
  cpSync(fixture, join(repo, 'rules'), { recursive: true })
  mkdirSync(join(repo, 'examples/visitors'), { recursive: true })
  writeFileSync(
    join(repo, 'examples/visitors/berlin.json'),
    JSON.stringify({
      description: 'consented visitor in Berlin',
      location: { country: 'DE' },
      jurisdiction: 'EU',
      consent: { storage: true, measurement: true, personalization: true },
      identity: { anonymousId: 'anon-berlin' },
    }),
  )
  writeFileSync(
    join(repo, 'examples/visitors/texas.json'),
    JSON.stringify({
      location: { country: 'US', region: 'TX' },
      jurisdiction: 'US',
      consent: { storage: true, measurement: true, personalization: true, advertising: true },
      identity: { anonymousId: 'anon-texas-2' },
    }),
  )
  git('add', '.')
  git('commit', '-qm', 'rules')
})

afterEach(() => rmSync(repo, { recursive: true, force: true }))

describe('npm run rules:diff', () => {
  it('says nothing changed when the working tree compiles to the committed rules', () => {
    const v = version()
    // A comment is not a rule change: the compiled rule set (and its version) stays the same.
    writeFileSync(
      join(repo, 'rules/audiences.yaml'),
      '# reviewed\n' + readFileSync(join(repo, 'rules/audiences.yaml')),
    )
    expect(diff()).toEqual({
      status: 0,
      out: `rules ${v} -> ${v}\nno change: the compiled rule set is the same`,
      err: '',
    })
  })

  it('lists which audience changed and which decisions move, old -> new, with the reason', () => {
    const before = version()
    edit('audiences.yaml', 'in: [DE, AT, CH]', 'in: [AT, CH]')
    const r = diff()
    expect(r.out).toBe(
      [
        `rules ${before} -> ${version()}`,
        '',
        'changed rules:',
        '  changed audience dach: when',
        '',
        'decisions that change (1 across 5 sample visitors):',
        '  examples/visitors/berlin.json home_hero: dach_hero [rule:dach_first] -> free_shipping [rule:hero_test, hero_test:free_shipping]',
        '    because: audience dach: no',
        '',
        'traffic moves in running experiments:',
        '  hero_test: audience dach changed: the rules before the experiment decide who reaches it',
        '',
        'this invalidates running experiments: acknowledge with --ack hero_test',
      ].join('\n'),
    )
    expect(r.status).toBe(1)
  })

  it('refuses to pass a reweighted running experiment until it is acknowledged', () => {
    edit('experiments.yaml', '{ variant: default_hero, weight: 50 }', '{ variant: default_hero, weight: 10 }')
    const refused = diff()
    expect(refused.status).toBe(1)
    expect(refused.out).toContain('  changed experiment hero_test: arms\n')
    expect(refused.out).toContain('  hero_test: arms changed while running\n')
    const acked = diff('--ack', 'hero_test')
    expect(acked.status).toBe(0)
    expect(acked.out).toContain('  hero_test: arms changed while running (acknowledged)')
    expect(acked.out).not.toContain('this invalidates')
  })

  it('compares against any ref, and adding a placement variant moves nobody', () => {
    const first = version()
    edit(
      'placements.yaml',
      '      free_shipping:\n',
      "      winter_sale:\n        status: approved\n        content:\n          default: { html: '<h2>Winter</h2>' }\n      free_shipping:\n",
    )
    git('commit', '-qam', 'winter sale variant')
    const r = diff('HEAD~1')
    expect(r.out).toBe(
      [
        `rules ${first} -> ${version()}`,
        '',
        'changed rules:',
        '  changed placement home_hero: variants',
        '',
        'decisions that change (0 across 5 sample visitors):',
        '  (none)',
      ].join('\n'),
    )
    expect(r.status).toBe(0)
  })

  it('reports a rule set that does not compile, and a ref git does not know', () => {
    edit('experiments.yaml', 'control: default_hero', 'control: default_heroo')
    const broken = diff()
    expect(broken.status).toBe(1)
    expect(broken.err).toMatch(
      /^the rules at the working tree do not compile:\n {2}rules\/experiments\.yaml:\d+:\d+: /,
    )
    const unknown = diff('no-such-ref')
    expect(unknown).toMatchObject({
      status: 2,
      err: 'unknown git ref "no-such-ref" (or it has no rules folder)',
    })
  })
})
