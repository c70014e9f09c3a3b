/**
 * Counters of this isolate's decision-record sends, shown by `GET /v1/health`: records handed
 * to the queue, sends retried, and records lost (every retry failed; their ids are also in the
 * `decision_records_lost` log line). Per isolate and since it started: an operator sums them
 * over isolates from the health answers or, durably, from the logs. Pure: no Workers imports.
 */

export interface DecisionSendCounters {
  /** Records the queue accepted. */
  sent: number
  /** Failed send attempts that were retried. */
  retried: number
  /** Records given up after the last attempt. */
  lost: number
  /** When this isolate started counting (ISO 8601). */
  since: string
}

const counters: DecisionSendCounters = { sent: 0, retried: 0, lost: 0, since: new Date().toISOString() }

export function countDecisionSend(kind: 'sent' | 'retried' | 'lost', n = 1): void {
  counters[kind] += n
}

/** A copy of the counters (callers cannot change the live ones). */
export function decisionSendCounters(): DecisionSendCounters {
  return { ...counters }
}
