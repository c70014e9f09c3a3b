import { describe, expect, it } from 'vitest'
import { createLogger, type LogLevel } from './log'

function capture() {
  const lines: Array<{ level: LogLevel; line: Record<string, unknown> }> = []
  const log = createLogger({ requestId: 'req-1' }, (level, line) =>
    lines.push({ level, line: JSON.parse(line) as Record<string, unknown> }),
  )
  return { log, lines }
}

describe('logger', () => {
  it.each([
    ['an Error', new TypeError('bad input'), { name: 'TypeError', message: 'bad input' }],
    ['a thrown string', 'queue refused', 'queue refused'],
    ['a thrown number', 42, '42'],
    ['a thrown object', { code: 'E1', detail: 'gone' }, { code: 'E1', detail: 'gone' }],
  ])('writes %s caught as unknown without a cast, and never a stack', (_what, thrown: unknown, written) => {
    const { log, lines } = capture()
    try {
      throw thrown
    } catch (error) {
      log.warn('x_failed', { error })
    }
    expect(lines).toEqual([
      {
        level: 'warn',
        line: {
          level: 'warn',
          event: 'x_failed',
          time: expect.any(String),
          requestId: 'req-1',
          error: written,
        },
      },
    ])
    expect(JSON.stringify(lines)).not.toContain('at ')
  })

  it('drops fields that name raw personal data, also inside a thrown object', () => {
    const { log, lines } = capture()
    log.error('x_failed', { email: 'a@b.example', error: { phone: '+4915100000', reason: 'gone' } })
    expect(lines[0]!.line).not.toHaveProperty('email')
    expect(lines[0]!.line.error).toEqual({ reason: 'gone' })
  })
})
