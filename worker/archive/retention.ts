/**
 * Archive retention: drops whole day partitions (`decisions/dt=YYYY-MM-DD/`) once the day is older
 * than `retention.decisionArchive` days (rules/privacy.yaml). Run by the Worker's scheduled handler
 * (the daily cron in wrangler.toml) after the D1 retention; objects are never rewritten, only
 * deleted with their day. Idempotent: a second run finds nothing more to drop.
 */
import type { Logger } from '../lib/log'
import { ARCHIVE_PREFIX, expiredDayPartitions } from './layout'

// R2 lists at most 1,000 keys per call and deletes at most 1,000 keys per call.
const PAGE = 1_000

export interface ArchiveRetentionResult {
  /** Day partitions dropped. */
  days: string[]
  /** Objects deleted. */
  objects: number
}

/** Deletes every object under each day partition past the window as of `now`. */
export async function dropExpiredArchive(
  bucket: R2Bucket,
  days: number,
  now: number,
  log?: Logger,
): Promise<ArchiveRetentionResult> {
  const prefixes: string[] = []
  let cursor: string | undefined
  do {
    const page = await bucket.list({ prefix: `${ARCHIVE_PREFIX}dt=`, delimiter: '/', cursor, limit: PAGE })
    prefixes.push(...page.delimitedPrefixes)
    cursor = page.truncated ? page.cursor : undefined
  } while (cursor)

  const expired = expiredDayPartitions(prefixes, days, now)
  let objects = 0
  for (const day of expired) {
    let dayCursor: string | undefined
    do {
      const page = await bucket.list({ prefix: day, cursor: dayCursor, limit: PAGE })
      if (page.objects.length > 0) await bucket.delete(page.objects.map((o) => o.key))
      objects += page.objects.length
      dayCursor = page.truncated ? page.cursor : undefined
    } while (dayCursor)
  }
  const result = { days: expired.map((p) => p.slice(ARCHIVE_PREFIX.length, -1)), objects }
  log?.info('archive_retention_run', { days: result.days.length, objects })
  return result
}
