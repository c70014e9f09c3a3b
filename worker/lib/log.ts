/**
 * Structured JSON logging. One line per event, always with the request id, never with personal
 * data: fields whose names suggest raw identifiers are dropped before anything is written.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogFields = Record<string, unknown>

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
      value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Error)
        ? redact(value as LogFields)
        : value instanceof Error
          ? { name: value.name, message: value.message }
          : value
  }
  return out
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
