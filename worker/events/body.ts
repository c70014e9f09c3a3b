/**
 * Reads a JSON request body without ever holding more than the limit in memory: a declared
 * Content-Length over the limit is refused at once, and the stream is counted while it is read
 * (a client can lie about, or omit, Content-Length).
 */
import { ProblemError } from '../lib/problem'

export function tooLarge(limit: number): ProblemError {
  return new ProblemError(413, 'Payload too large', `The request body exceeds ${limit} bytes.`, [
    { path: '', message: `at most ${limit} bytes` },
  ])
}

/** The parsed JSON body; 413 beyond `limit`, 400 for anything that is not JSON. */
export async function readJsonBody(req: Request, limit: number): Promise<unknown> {
  const declared = req.headers.get('content-length')
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit)
  const type = req.headers.get('content-type') ?? ''
  // sendBeacon posts text/plain (a "simple" request, no preflight); JSON is what we parse either way.
  if (type && !/^(application\/(json|[\w.+-]+\+json)|text\/plain)\b/i.test(type)) {
    throw new ProblemError(415, 'Unsupported media type', 'Send the events as application/json.', [
      { path: '', message: 'expected application/json' },
    ])
  }
  const chunks: Uint8Array[] = []
  let size = 0
  if (req.body) {
    const reader = req.body.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > limit) {
        await reader.cancel().catch(() => undefined)
        throw tooLarge(limit)
      }
      chunks.push(value)
    }
  }
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const c of chunks) {
    bytes.set(c, offset)
    offset += c.byteLength
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes))
  } catch {
    throw new ProblemError(400, 'Invalid request', 'The body is not valid UTF-8 JSON.', [
      { path: '', message: 'expected a JSON object' },
    ])
  }
}
