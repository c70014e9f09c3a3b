/**
 * Reading a person's records back from the decision archive (DSAR export): the archive is scanned
 * newest day and hour first, each row's subject tag is compared with the tag under each of the
 * person's keys, and the rows that match are opened. Bounded: at most `maxObjects` objects are
 * read per export, and the answer says whether the scan reached the oldest day.
 *
 * The scan is the price of files that name nobody in clear: no index can say where a person's
 * rows are without becoming the link that crypto-shredding removes. D1 still holds the recent
 * window of the same records, indexed (docs/privacy.md "Decision archive").
 */
import { ARCHIVE_PREFIX, type ArchivedDecision } from './layout'
import { openFields, subjectTag, type SealedFields, type SealKeys } from './seal'
import { gunzipLines } from './write'

/** An archived record opened with the person's key: the clear fields and the sealed ones. */
export type OpenedDecision = Omit<ArchivedDecision, 'subject' | 'sealed' | 'caps' | 'trace'> &
  SealedFields & { partition: string }

export interface SubjectArchive {
  records: OpenedDecision[]
  /** Archive objects read. */
  objectsRead: number
  /** False when the object limit stopped the scan before the oldest day. */
  complete: boolean
}

/** The person's archived records that `keys` open, newest partitions first, within `maxObjects`. */
export async function readSubjectArchive(
  bucket: R2Bucket,
  keys: readonly SealKeys[],
  maxObjects: number,
): Promise<SubjectArchive> {
  const out: SubjectArchive = { records: [], objectsRead: 0, complete: true }
  if (keys.length === 0) return out
  for (const day of (await prefixes(bucket, `${ARCHIVE_PREFIX}dt=`)).sort().reverse()) {
    for (const hour of (await prefixes(bucket, day)).sort().reverse()) {
      for (const key of await objectKeys(bucket, hour)) {
        if (out.objectsRead >= maxObjects) {
          out.complete = false
          return out
        }
        const body = await bucket.get(key)
        out.objectsRead++
        if (!body) continue
        for (const line of await gunzipLines(await body.arrayBuffer())) {
          const opened = await openRow(JSON.parse(line) as ArchivedDecision, keys)
          if (opened) out.records.push({ ...opened, partition: hour })
        }
      }
    }
  }
  return out
}

async function openRow(
  row: ArchivedDecision,
  keys: readonly SealKeys[],
): Promise<Omit<OpenedDecision, 'partition'> | null> {
  if (row.subject === null) return null
  for (const k of keys) {
    if ((await subjectTag(k, row.id)) !== row.subject) continue
    const fields = await openFields(k, row.id, row.sealed)
    if (!fields) return null
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    const { subject, sealed, caps, trace, ...clear } = row
    return { ...clear, ...fields }
  }
  return null
}

async function prefixes(bucket: R2Bucket, prefix: string): Promise<string[]> {
  const out: string[] = []
  let cursor: string | undefined
  do {
    const page = await bucket.list({ prefix, delimiter: '/', cursor })
    out.push(...page.delimitedPrefixes)
    cursor = page.truncated ? page.cursor : undefined
  } while (cursor)
  return out
}

async function objectKeys(bucket: R2Bucket, prefix: string): Promise<string[]> {
  const out: string[] = []
  let cursor: string | undefined
  do {
    const page = await bucket.list({ prefix, cursor })
    out.push(...page.objects.map((o) => o.key))
    cursor = page.truncated ? page.cursor : undefined
  } while (cursor)
  return out
}
