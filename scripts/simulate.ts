/**
 * The `rules:explain` simulation: a visitor's timeline (events and placement views with times)
 * played against the rule set, with the real pure logic of the gateway and of CustomerState:
 * `timerActions` (which events start or cancel trigger timers), `planFire` (what a due timer does:
 * skip, defer past quiet hours, try channels), the caps' `applicableCaps`/`limitFor`/`windowStart`
 * and `quietHoursEnd`, and the decision engine for views. Only storage is simulated: reservations,
 * suppressions, timers and past events live in memory here instead of SQLite. Pure: no I/O.
 */
import type { Channel } from '../durable-objects/customer/contract'
import { applicableCaps, limitFor, quietHoursEnd, windowStart } from '../durable-objects/customer/caps'
import { planFire, timerActions, type TimerPayload } from '../durable-objects/customer/triggers'
import { compileEngine, decidePlacement } from '../worker/decide/engine'
import { visitorContext, visitorSchema } from '../worker/decide/explain'
import type { RuleSet } from '../worker/rules/types'
import type { CapCounts } from '../worker/rules/concerns/caps'
import { wallClock } from '../worker/lib/timezone'
import type { VisitorFile } from './visitor-file'

export interface SimulationStep {
  at: number
  /** What happened, in plain words: `add_to_cart: starts timer cart_abandoned (due 10:30)`. */
  text: string
}

interface Reservation {
  placement: string
  campaign: string | null
  channel: Channel
  tags: string[]
  /** Trigger sends are messages, placements shown are impressions (caps count one kind). */
  kind: CapCounts
  at: number
}

/** The most timer runs a simulation makes (deferrals included) before it stops. */
const MAX_STEPS = 1000

/** Plays `visitor.timeline` against `rules`; returns one step per thing that happened, in time order. */
export function simulateTimeline(rules: RuleSet, visitor: VisitorFile): SimulationStep[] {
  const engine = compileEngine(rules)
  const tz = visitor.timeZone
  const purposes = {
    storage: visitor.consent.storage,
    measurement: visitor.consent.measurement,
    personalization: visitor.consent.personalization,
    advertising: visitor.consent.advertising,
  }
  const now0 = visitor.time ? Date.parse(visitor.time) : 0
  const attributes = Object.fromEntries(
    Object.entries(visitor.attributes).map(([k, a]) =>
      a !== null && typeof a === 'object'
        ? [k, { value: a.value, source: a.source, updatedAt: now0 }]
        : [k, { value: a, source: 'crm', updatedAt: now0 }],
    ),
  )
  const seen: Array<{ type: string; at: number }> = []
  const timers = new Map<string, { dueAt: number; payload: TimerPayload }>()
  const suppressions = new Map<string, number>()
  const lastFire = new Map<string, number>()
  const reservations: Reservation[] = []
  const steps: SimulationStep[] = []
  const clock = (ms: number) => time(ms, tz)
  const suppressedAt = (now: number) =>
    new Set([...suppressions].filter(([, until]) => until > now).map(([c]) => c))

  /** The gateway's check-and-reserve, over the in-memory reservations. */
  const reserve = (
    req: Omit<Reservation, 'at'>,
    now: number,
    quiet: boolean,
  ): { allowed: true } | { allowed: false; reason: string } => {
    if (req.campaign !== null && suppressedAt(now).has(req.campaign))
      return { allowed: false, reason: `suppressed:${req.campaign}` }
    const q = rules.caps.quietHours
    if (quiet && q?.channels.includes(req.channel) && quietHoursEnd(q, now, tz) !== null)
      return { allowed: false, reason: 'quiet_hours' }
    for (const { cap, tag } of applicableCaps(
      rules.caps,
      { ...req, decisionId: 'simulation', now },
      req.kind,
    )) {
      const limit = limitFor(rules.caps, cap, req.campaign)
      if (limit === null) continue
      const since = windowStart(cap, now, tz, rules.caps.weekStartsOn)
      const used = reservations.filter(
        (r) =>
          r.kind === cap.counts &&
          r.at >= since &&
          r.at <= now &&
          (cap.placement === undefined || r.placement === req.placement) &&
          (cap.campaign === undefined || r.campaign === req.campaign) &&
          (cap.channel === '*'
            ? r.channel === req.channel
            : cap.channel === undefined || cap.channel.includes(r.channel)) &&
          (tag === null || r.tags.includes(tag)),
      ).length
      if (used >= limit)
        return { allowed: false, reason: `cap:${cap.tag === '*' ? `${cap.id}:${tag}` : cap.id}` }
    }
    reservations.push({ ...req, at: now })
    return { allowed: true }
  }

  const runTimer = (id: string, timer: { dueAt: number; payload: TimerPayload }): void => {
    const now = timer.dueAt
    timers.delete(id)
    const name = timer.payload.trigger
    const plan = planFire(rules, timer.payload, {
      now,
      existing: undefined,
      attributes,
      suppressed: suppressedAt(now),
      timeZone: tz,
      seenSince: (type, since) => seen.some((e) => e.type === type && e.at >= since && e.at <= now),
      lastFireAt: lastFire.get(name) ?? null,
      quietHoursEnd: (at, zone) =>
        rules.caps.quietHours ? quietHoursEnd(rules.caps.quietHours, at, zone) : null,
    })
    switch (plan.kind) {
      case 'none':
      case 'resend':
        return
      case 'skip':
        steps.push({ at: now, text: `${name}: due, not sent (${plan.reason})` })
        return
      case 'defer':
        steps.push({ at: now, text: `${name}: due in quiet hours, deferred to ${clock(plan.until)}` })
        timers.set(id, { dueAt: plan.until, payload: timer.payload })
        return
      case 'reserve': {
        const reasons: string[] = []
        for (const channel of plan.channels) {
          const r = reserve(
            {
              placement: `trigger:${name}`,
              campaign: plan.trigger.campaign,
              channel,
              tags: plan.trigger.tags,
              kind: 'messages',
            },
            now,
            plan.trigger.respectQuietHours,
          )
          if (r.allowed) {
            lastFire.set(name, now)
            steps.push({ at: now, text: `${name}: fires on ${channel} (campaign ${plan.trigger.campaign})` })
            return
          }
          reasons.push(`${channel}: ${r.reason}`)
        }
        steps.push({ at: now, text: `${name}: due, blocked (${reasons.join(', ')})` })
        return
      }
    }
  }

  /** Runs every timer due at or before `until`, earliest first (a deferred timer may run again). */
  const runDue = (until: number): void => {
    for (let i = 0; i < MAX_STEPS; i++) {
      let next: [string, { dueAt: number; payload: TimerPayload }] | undefined
      for (const entry of timers) if (!next || entry[1].dueAt < next[1].dueAt) next = entry
      if (!next || next[1].dueAt > until) return
      runTimer(...next)
    }
  }

  const entries = [...visitor.timeline]
    .map((e, index) => ({ e, index, at: Date.parse(e.at) }))
    .sort((a, b) => a.at - b.at || a.index - b.index)
  for (const { e, index, at } of entries) {
    runDue(at)
    if ('event' in e) {
      seen.push({ type: e.event, at })
      const parts: string[] = []
      for (const s of rules.caps.suppressions) {
        if (s.on !== e.event) continue
        const until = at + s.forHours * 3_600_000
        for (const c of s.ends) suppressions.set(c, Math.max(suppressions.get(c) ?? 0, until))
        parts.push(`suppresses ${s.ends.join(', ')} until ${clock(until)}`)
      }
      const actions = timerActions(
        rules.triggers,
        { id: `timeline-${index}`, type: e.event, ts: at },
        {
          purposes,
          session: { dwellMs: e.session.dwellMs, score: e.session.intent },
          consentFromVisitor: true,
        },
      )
      for (const a of actions) {
        if (a.kind === 'cancel') {
          if (timers.delete(a.id)) parts.push(`cancels timer ${a.trigger}`)
        } else {
          const restarted = timers.has(a.id)
          timers.set(a.id, { dueAt: a.dueAt, payload: a.payload })
          parts.push(
            `${restarted ? 'restarts' : 'starts'} timer ${a.payload.trigger} (due ${clock(a.dueAt)})`,
          )
        }
      }
      steps.push({ at, text: `event ${e.event}${parts.length ? `: ${parts.join('; ')}` : ''}` })
    } else {
      steps.push({ at, text: view(e.view, e.channel, at) })
    }
  }
  runDue(Infinity)
  return steps

  function view(placement: string, channel: 'web' | 'app', at: number): string {
    const events: Record<string, { count: number; lastSeen: string }> = {}
    for (const [type, e] of Object.entries(visitor.events))
      events[type] = { count: e.count, lastSeen: e.lastSeen }
    for (const s of seen) {
      const prior = events[s.type]?.count ?? 0
      events[s.type] = { count: prior + 1, lastSeen: `${Math.max(0, Math.floor((at - s.at) / 1000))}s` }
    }
    const parsed = visitorSchema.parse({
      ...withoutSimulation(visitor),
      time: new Date(at).toISOString(),
      events,
    })
    const ctx = visitorContext(parsed)
    if (ctx.state && typeof ctx.state === 'object') ctx.state.timeZone = tz
    const d = decidePlacement(engine, placement, ctx)
    if (!d) return `view ${placement}: no such placement`
    if (!d.reserve) return `view ${placement}: ${d.variant} [${d.reason}]`
    const r = reserve(
      { placement, campaign: d.reserve.campaign, channel, tags: d.reserve.tags, kind: 'impressions' },
      at,
      true,
    )
    if (r.allowed) return `view ${placement}: ${d.variant} [${d.reason}] (counted against caps)`
    // The gateway shows the placement's fallback when a reservation is refused (toFallback).
    const fallback = engine.placements.get(placement)?.fallback.id ?? d.variant
    return `view ${placement}: ${d.variant} blocked (${r.reason}), shows ${fallback} [cap]`
  }
}

/** The visitor without the simulation's own fields, as `rules:explain` reads it. */
export function withoutSimulation(v: VisitorFile): Record<string, unknown> {
  const { timeline: _timeline, timeZone: _timeZone, ...rest } = v
  void _timeline
  void _timeZone
  return rest
}

/** `2026-03-10 10:30 Europe/Berlin` style, in the visitor's zone. */
function time(ms: number, tz: string): string {
  const t = wallClock(ms, tz)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${t.year}-${p(t.month)}-${p(t.day)} ${p(t.hour)}:${p(t.minute)}`
}

/** One line per step: `2026-03-10 10:30  event add_to_cart: starts timer ...`. */
export function formatSimulation(steps: SimulationStep[], tz: string): string {
  const lines = [`timeline (${tz}):`]
  for (const s of steps) lines.push(`  ${time(s.at, tz)}  ${s.text}`)
  return lines.join('\n')
}
