/**
 * Validation of the decision API's bodies, in one place and before any store is called: a
 * `POST /v1/decide` body that fails validation is a 400 naming the field (unknown keys and
 * unknown placements included), answered by the body-consent stage before identity, rate limits
 * or touchpoints touch a Durable Object, a queue or D1, so its answer never depends on them.
 */
import type { z } from 'zod'
import { invalid, type FieldError } from '../lib/problem'
import { nearest } from '../rules/suggest'
import { unknownFieldMessage } from '../lib/unknown-keys'
import { decideRequestSchema } from './api'
import { readDecideBody } from './body'

export type ValidDecideBody = z.output<typeof decideRequestSchema>

const validated = new WeakMap<Request, Promise<ValidDecideBody>>()

/**
 * The validated `POST /v1/decide` body of `req` (read once by the bounded reader, validated once
 * per Request): throws the 400 naming every field at fault, or a placement the rule set lacks.
 */
export function validDecideBody(
  req: Request,
  placements: ReadonlyMap<string, unknown>,
): Promise<ValidDecideBody> {
  let body = validated.get(req)
  if (!body) {
    body = readDecideBody(req).then((raw) => {
      const parsed = parseBody(raw, decideRequestSchema)
      const unknown: FieldError[] = []
      parsed.placements.forEach((p, i) => {
        if (placements.has(p)) return
        const hint = nearest(p, placements.keys())
        unknown.push({
          path: `placements.${i}`,
          message: `unknown placement "${p}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
        })
      })
      if (unknown.length) throw invalid(unknown, 'Some placements are not in the rule set.')
      return parsed
    })
    validated.set(req, body)
  }
  return body
}

/**
 * Validates a body (already read by the bounded reader) against `schema`; any failure is a 400
 * naming the fields, unknown keys included (strict objects), each with a hint where one is near.
 */
export function parseBody<S extends z.ZodType>(raw: unknown, schema: S): z.output<S> {
  const parsed = schema.safeParse(raw)
  if (parsed.success) return parsed.data
  const errors: FieldError[] = []
  for (const issue of parsed.error.issues) {
    const at = issue.path.join('.')
    if (issue.code !== 'unrecognized_keys') {
      errors.push({ path: at, message: issue.message })
      continue
    }
    const known = objectKeys(schema, issue.path)
    for (const key of issue.keys) {
      errors.push({ path: at ? `${at}.${key}` : key, message: unknownFieldMessage(key, known) })
    }
  }
  throw invalid(errors)
}

// The keys the object schema at `path` knows (through optional/default/prefault wrappers and
// arrays), for "did you mean" hints; empty when the path leads elsewhere.
function objectKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  type Def = { innerType?: z.ZodType; element?: z.ZodType; shape?: Record<string, z.ZodType> }
  const def = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def
  const unwrap = (s: z.ZodType): z.ZodType => {
    let cur = s
    for (let d = def(cur); d.innerType; d = def(cur)) cur = d.innerType
    return cur
  }
  let cur: z.ZodType | undefined = unwrap(schema)
  for (const seg of path) {
    const d: Def = def(cur)
    cur = typeof seg === 'number' ? d.element : d.shape?.[String(seg)]
    if (!cur) return []
    cur = unwrap(cur)
  }
  return Object.keys(def(cur).shape ?? {})
}
