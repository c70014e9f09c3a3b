/**
 * The trigger timers still waiting for a subject, read from their CustomerState (the `due_items`
 * rows of kind `trigger_fire`, durable-objects/customer/triggers.ts, which the table export leaves
 * out as scheduled work), in words a person
 * and an operator can read: which trigger, when it is due, and which event started it. Shown in
 * `GET /v1/me` and in the DSAR export (docs/api.md). Pure; rows that do not parse are left out.
 */
/** One waiting timer as the object hands it out (`CustomerState.pendingTimers`). */
export interface PendingTimerRow {
  due_at: number
  payload: string
}

export interface PendingTrigger {
  trigger: string
  /** When the timer is due (ISO 8601); quiet hours or caps may still defer or refuse the send. */
  dueAt: string
  /** The event that started it and when. */
  startedBy: { eventType: string; at: string }
}

/** The pending trigger timers of one or more objects' rows, soonest first. */
export function pendingTriggers(rows: readonly PendingTimerRow[]): PendingTrigger[] {
  const out: PendingTrigger[] = []
  for (const row of rows) {
    if (typeof row.due_at !== 'number' || !Number.isFinite(row.due_at)) continue
    const payload = parsePayload(row.payload)
    if (!payload) continue
    out.push({
      trigger: payload.trigger,
      dueAt: new Date(row.due_at).toISOString(),
      startedBy: { eventType: payload.eventType, at: new Date(payload.startedAt).toISOString() },
    })
  }
  return out.sort((a, b) => (a.dueAt < b.dueAt ? -1 : a.dueAt > b.dueAt ? 1 : 0))
}

function parsePayload(raw: unknown): { trigger: string; eventType: string; startedAt: number } | null {
  let value: unknown = raw
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw)
    } catch {
      return null
    }
  }
  if (!value || typeof value !== 'object') return null
  const p = value as Record<string, unknown>
  if (typeof p.trigger !== 'string' || typeof p.eventType !== 'string') return null
  if (typeof p.startedAt !== 'number' || !Number.isFinite(p.startedAt)) return null
  return { trigger: p.trigger, eventType: p.eventType, startedAt: p.startedAt }
}
