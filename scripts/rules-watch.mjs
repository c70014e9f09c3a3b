/**
 * Rebuilds the rule set while `npm start` runs, calmly: one build per burst of changes in rules/
 * (debounced), never two at once, and when files change during a build, one more build afterwards
 * with the latest state. Each build prints one line: the version now live, or the errors.
 * (wrangler's `watch_dir` started one build per file event: touching the 13 rule files twice
 * started ~78 concurrent builds.)
 *
 *   node scripts/rules-watch.mjs [--check]   watch GATEHOUSE_RULES_DIR (default rules/); --check
 *                                            validates without writing (for tests)
 */
import { spawn } from 'node:child_process'
import { watch } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/**
 * Watches `dir` and runs `tsx scripts/rules.ts <command>` after each burst of changes.
 * `log(line)` receives one line per build; `onStart()` is called as each build starts. Returns `close()`.
 */
export function watchRules({
  dir,
  command = 'build',
  debounceMs = 300,
  env = process.env,
  log = console.log,
  onStart = () => {},
}) {
  let timer = null
  let running = false
  let again = false
  let closed = false

  const build = () => {
    running = true
    again = false
    onStart()
    const child = spawn(join(root, 'node_modules/.bin/tsx'), [join(root, 'scripts/rules.ts'), command], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('close', (code) => {
      running = false
      if (closed) return
      log(summary(code, out, err))
      // Files changed while this build ran: build once more, with what is on disk now.
      if (again) build()
    })
  }

  const changed = () => {
    if (closed) return
    if (running) {
      again = true
      return
    }
    clearTimeout(timer)
    timer = setTimeout(build, debounceMs)
  }

  const watcher = watch(dir, (_event, name) => {
    if (!name || /\.ya?ml$/.test(name)) changed()
  })
  return {
    close() {
      closed = true
      clearTimeout(timer)
      watcher.close()
    },
  }
}

/** One line for a finished build: the version now live, or how many errors and the first. */
export function summary(code, stdout, stderr) {
  const version = /sha256:[0-9a-f]+/.exec(stdout)?.[0]
  if (code === 0 && version) return `rules: ${version} is now live`
  const errors = stderr.split('\n').filter((l) => /:\d+:\d+: /.test(l) && !l.startsWith('warning:'))
  const count = /(\d+) error\(s\)/.exec(stderr)?.[1] ?? String(errors.length || 1)
  const first = errors[0] ?? stderr.trim().split('\n')[0] ?? `exit ${code}`
  return `rules: not rebuilt, ${count} error(s), the previous rules stay live: ${first}`
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.env.GATEHOUSE_RULES_DIR || join(root, 'rules')
  // GATEHOUSE_RULES_WATCH_TRACE=1 marks each build's start on stderr (the tests count them).
  const trace = process.env.GATEHOUSE_RULES_WATCH_TRACE === '1'
  const w = watchRules({
    dir,
    command: process.argv.includes('--check') ? 'check' : 'build',
    onStart: () => trace && console.error('build started'),
  })
  console.log(`watching ${dir}`)
  process.on('SIGTERM', () => {
    w.close()
    process.exit(0)
  })
}
