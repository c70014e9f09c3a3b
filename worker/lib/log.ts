/**
 * Structured JSON logging. One line per event, always with the request id, never with personal
 * data: fields whose names suggest raw identifiers are dropped before anything is written.
 *
 * Error fields take whatever was thrown (`catch (error) { log.warn('x_failed', { error }) }`, no
 * cast): an `Error` is written as its name and message, an object field by field, anything else
 * as its text.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogFields = Record<string, unknown>

// Field names that carry a thrown value, whatever its type.
const ERROR_FIELD = /^(error|err|cause)$/

// Raw identifiers must never reach a log line (brief: "keep raw PII out of logs").
const PII_FIELD =
  /^(email|phone|e-?mail|msisdn|ip|address|name|first_?name|last_?name|token|authorization|cookie)$/i

export interface Logger {
  debug(event: string, fields?: LogFields): void
  info(event: string, fields?: LogFields): void
  warn(event: string, fields?: LogFields): void
  error(event: string, fields?: LogFields): void
}

/** Removes fields whose names denote raw personal data or credentials, recursively. */
function redact(fields: LogFields): LogFields {
  const out: LogFields = {}
  for (const [key, value] of Object.entries(fields)) {
    if (PII_FIELD.test(key)) continue
    out[key] =
      value instanceof Error
        ? describeError(value)
        : isPlainObject(value)
          ? redact(value)
          : ERROR_FIELD.test(key) && value !== null && value !== undefined
            ? String(value)
            : value
  }
  return out
}

/** An `Error` as a log field: its name and message (never its stack). */
function describeError(error: Error): { name: string; message: string } {
  return { name: error.name, message: error.message }
}

function isPlainObject(value: unknown): value is LogFields {
  return !!value && typeof value === 'object' && !Array.isArray(value)
}

/** A logger bound to one request id; `sink` exists so tests can capture lines. */
export function createLogger(
  base: LogFields,
  sink: (level: LogLevel, line: string) => void = defaultSink,
): Logger {
  const write = (level: LogLevel, event: string, fields: LogFields = {}) =>
    sink(level, JSON.stringify({ level, event, time: new Date().toISOString(), ...base, ...redact(fields) }))
  return {
    debug: (e, f) => write('debug', e, f),
    info: (e, f) => write('info', e, f),
    warn: (e, f) => write('warn', e, f),
    error: (e, f) => write('error', e, f),
  }
}

function defaultSink(level: LogLevel, line: string): void {
  if (level === 'error') console.error(line)
  else if (level === 'warn') console.warn(line)
  else console.log(line)
}
