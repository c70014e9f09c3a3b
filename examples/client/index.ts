/**
 * A typed TypeScript client for the Gatehouse decision API (`POST /v1/decide`,
 * `POST /v1/decide/conversions`). The request and response types come from the same zod
 * validators the gateway uses (worker/decide/api.ts), so the client cannot drift from the server.
 *
 * @example
 *   const gate = createDecisionClient({ baseUrl: 'https://shop.example', getToken: () => session.jwt })
 *   const { decisions } = await gate.decide({ placements: ['home_hero'], context: { locale: 'de-AT' } })
 *   const hero = decisions.find((d) => d.placement === 'home_hero')
 *   if (hero?.experiment && !hero.experiment.holdout) await gate.convert([{ experiment: hero.experiment.id, arm: hero.experiment.arm }])
 */
import type { DecideRequest, DecideResponse, Decision } from '../../worker/decide/api'

export type { DecideRequest, DecideResponse, Decision }

export interface DecisionClientOptions {
  /** The gateway's origin, e.g. `https://shop.example`. */
  baseUrl: string
  /** A JWT for a signed-in customer (sent as `Authorization: Bearer`). */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>
  /**
   * The anonymous id the gateway issued (response header `X-Gatehouse-Id`); the client keeps the
   * latest one it saw, and you may persist and restore it (only with the visitor's storage consent).
   */
  anonymousId?: string | null
  /** Time budget per call in ms; on timeout the promise rejects with `DecisionClientError('timeout')`. */
  timeoutMs?: number
  fetch?: typeof fetch
}

/** RFC 9457 problem details, as the gateway answers errors. */
export interface Problem {
  type: string
  title: string
  status: number
  detail?: string
  errors?: Array<{ path: string; message: string }>
}

export class DecisionClientError extends Error {
  constructor(
    readonly reason: 'timeout' | 'network' | 'http' | 'bad_response',
    message: string,
    readonly problem?: Problem,
  ) {
    super(message)
    this.name = 'DecisionClientError'
  }
}

export interface DecisionClient {
  /** Decisions for the placements, in request order. */
  decide(request: DecideRequest): Promise<DecideResponse>
  /** Counts conversions for experiment arms (bandit feedback). */
  convert(
    conversions: Array<{ experiment: string; arm: string; count?: number }>,
  ): Promise<{ accepted: number }>
  /** The anonymous id the gateway last issued or confirmed. */
  anonymousId(): string | null
}

export function createDecisionClient(opts: DecisionClientOptions): DecisionClient {
  const doFetch = opts.fetch ?? fetch
  const base = opts.baseUrl.replace(/\/+$/, '')
  let anonymousId = opts.anonymousId ?? null

  async function call<T>(path: string, body: unknown): Promise<T> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' }
    const token = await opts.getToken?.()
    if (token) headers.authorization = `Bearer ${token}`
    if (anonymousId) headers['x-gatehouse-id'] = anonymousId
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), opts.timeoutMs ?? 2000)
    let res: Response
    try {
      res = await doFetch(`${base}${path}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: controller.signal,
      })
    } catch (e) {
      throw controller.signal.aborted
        ? new DecisionClientError('timeout', `no answer within ${opts.timeoutMs ?? 2000} ms`)
        : new DecisionClientError('network', e instanceof Error ? e.message : String(e))
    } finally {
      clearTimeout(timer)
    }
    const issued = res.headers.get('x-gatehouse-id')
    if (issued) anonymousId = issued
    let payload: unknown
    try {
      payload = await res.json()
    } catch {
      throw new DecisionClientError('bad_response', `HTTP ${res.status} without a JSON body`)
    }
    if (!res.ok) {
      const problem = payload as Problem
      throw new DecisionClientError('http', `${problem.title ?? 'Error'} (HTTP ${res.status})`, problem)
    }
    return payload as T
  }

  return {
    decide: (request) => call<DecideResponse>('/v1/decide', request),
    convert: (conversions) => call<{ accepted: number }>('/v1/decide/conversions', { conversions }),
    anonymousId: () => anonymousId,
  }
}

/**
 * The content to show for a placement, or `fallbackContent` when the gateway could not be
 * reached: an app never blocks its screen on a decision.
 */
export async function contentFor(
  client: DecisionClient,
  placement: string,
  request: Omit<DecideRequest, 'placements'>,
  fallbackContent: Record<string, unknown>,
): Promise<{ content: Record<string, unknown>; decision: Decision | null }> {
  try {
    const { decisions } = await client.decide({ ...request, placements: [placement] })
    const decision = decisions.find((d) => d.placement === placement) ?? null
    return { content: decision?.content ?? fallbackContent, decision }
  } catch {
    return { content: fallbackContent, decision: null }
  }
}
