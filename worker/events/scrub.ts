/**
 * What of an event is stored: its props without raw-identifier fields (by name, ./validate.ts
 * `scrubProps`) and without raw emails or phone numbers anywhere in a value (by value,
 * worker/privacy/pii-values.ts, per `piiValues` in rules/privacy.yaml). Without a pepper there
 * is nothing to hash with, so found values are dropped: never stored raw.
 */
import type { StateEvent } from '../../durable-objects/customer/events'
import { scrubPropValues, type PiiHasher, type PiiValueRule } from '../privacy/pii-values'
import { scrubProps } from './validate'

/**
 * The events as they may be stored, and the `props` paths that held an email or phone number
 * (for a log line that names no value).
 */
export async function scrubEvents(
  events: ReadonlyArray<StateEvent & { index: number }>,
  rule: PiiValueRule,
  hash: PiiHasher | null,
): Promise<{ events: StateEvent[]; found: string[] }> {
  const found: string[] = []
  const out: StateEvent[] = []
  for (const { index, ...e } of events) {
    const byValue = await scrubPropValues(scrubProps(e.props).props, rule, hash)
    for (const path of byValue.found) found.push(`events.${index}.props.${path}`)
    out.push({ ...e, props: byValue.props })
  }
  return { events: out, found }
}
