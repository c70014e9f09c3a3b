/**
 * Writes decision records to the R2 archive (./layout.ts), as the decision queue consumer calls it
 * once per batch. The person's fields are sealed under their subject key (./seal.ts), fetched from
 * their CustomerState once per subject per batch, each call within a time budget.
 *
 * Never writes a person's fields in clear: a record whose key cannot be had now is not archived
 * (the caller retries it); a record of an erased subject (the object answers no key) is dropped.
 */
import type { Env } from '../env'
import { withBudget } from '../lib/budget'
import type { Logger } from '../lib/log'
import type { DecisionRecord } from '../log/record'
import { archivedRow, byPartition, objectKey, sealedFieldsOf, sealingStateKey } from './layout'
import { deriveKeys, sealFields, subjectTag, type SealKeys } from './seal'

export interface ArchiveOutcome {
  /** Ids now in the archive. */
  archived: string[]
  /** Ids of erased subjects: never archived. */
  erased: string[]
  /** Ids that could not be archived now (key or R2 unavailable): retry. */
  failed: string[]
}

export interface ArchiveOptions {
  /** Time budget per CustomerState call, ms (default 2000). */
  keyBudgetMs?: number
  /** Key calls in flight at once (default 8). */
  concurrency?: number
  log?: Logger
}

/** Archives `records` (any partitions). Never throws: every id lands in exactly one outcome list. */
export async function archiveRecords(
  env: Pick<Env, 'ARCHIVE' | 'CUSTOMER'>,
  records: readonly DecisionRecord[],
  opts: ArchiveOptions = {},
): Promise<ArchiveOutcome> {
  const out: ArchiveOutcome = { archived: [], erased: [], failed: [] }
  const keys = await subjectKeys(env, records, opts)
  const rows: Array<{ time: string; line: string; id: string }> = []
  for (const r of records) {
    const stateKey = sealingStateKey(r)
    let sealed: { subject: string; sealed: string } | null = null
    if (stateKey) {
      const k = keys.get(stateKey)
      if (k === 'erased') {
        out.erased.push(r.id)
        continue
      }
      if (!k) {
        out.failed.push(r.id)
        continue
      }
      const [tag, seal] = await Promise.all([subjectTag(k, r.id), sealFields(k, r.id, sealedFieldsOf(r))])
      sealed = { subject: tag, sealed: seal }
    }
    rows.push({ time: r.time, id: r.id, line: JSON.stringify(archivedRow(r, sealed)) })
  }
  for (const [partition, group] of byPartition(rows, (row) => row.time)) {
    const ids = group.map((row) => row.id)
    try {
      const key = await objectKey(partition, ids)
      const body = await gzip(group.map((row) => row.line).join('\n') + '\n')
      await env.ARCHIVE.put(key, body, {
        httpMetadata: { contentType: 'application/x-ndjson' },
        customMetadata: { records: String(ids.length) },
      })
      out.archived.push(...ids)
    } catch (error) {
      opts.log?.warn('decision_archive_put_failed', { partition, records: ids.length, error })
      out.failed.push(...ids)
    }
  }
  return out
}

/**
 * The seal keys per sealing state key: derived keys, `'erased'`, or absent when the object did not
 * answer within its budget. One call per subject, `concurrency` at a time.
 */
async function subjectKeys(
  env: Pick<Env, 'CUSTOMER'>,
  records: readonly DecisionRecord[],
  opts: ArchiveOptions,
): Promise<Map<string, SealKeys | 'erased'>> {
  const stateKeys = [...new Set(records.map(sealingStateKey).filter((k): k is string => k !== null))]
  const found = new Map<string, SealKeys | 'erased'>()
  const budget = opts.keyBudgetMs ?? 2_000
  let next = 0
  const worker = async () => {
    while (next < stateKeys.length) {
      const stateKey = stateKeys[next++]!
      const stub = env.CUSTOMER.get(env.CUSTOMER.idFromName(stateKey))
      const r = await withBudget(() => stub.archiveKey(), budget, 'customer_state.archive_key')
      if (!r.ok) {
        opts.log?.warn('decision_archive_key_unavailable', { ...r.error })
        continue
      }
      found.set(stateKey, r.value ? await deriveKeys(r.value.secret) : 'erased')
    }
  }
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 8, stateKeys.length) }, worker))
  return found
}

/** gzip (RFC 1952) through the platform's CompressionStream. */
export async function gzip(text: string): Promise<ArrayBuffer> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'))
  return new Response(stream).arrayBuffer()
}

/** The lines of a gzip NDJSON archive object. */
export async function gunzipLines(body: ReadableStream | ArrayBuffer): Promise<string[]> {
  const source = body instanceof ArrayBuffer ? new Blob([body]).stream() : body
  const text = await new Response(source.pipeThrough(new DecompressionStream('gzip'))).text()
  return text.split('\n').filter((line) => line.length > 0)
}
