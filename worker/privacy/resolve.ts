/**
 * Finds a DSAR subject from one identifier: the keys that identifier reaches directly, plus
 * everything identity stitching links to it (worker/identity `resolveSubject`).
 */
import type { Env } from '../env'
import { invalid } from '../lib/problem'
import type { Logger } from '../lib/log'
import { resolveSubject } from '../identity/stitch'
import { StoreUnavailableError } from './stores'
import { tombstoneReceipt } from './tombstone'
import { directKeys, toSubject, type ResolvedKeys, type DsarSubject, type SubjectIdentifier } from './subject'

// Identity stitching's resolver follows IdentityIndex -> CustomerState `identity_links`.
async function linkedKeys(env: Env, id: SubjectIdentifier): Promise<ResolvedKeys | null> {
  return resolveSubject(env, id)
}

/** Resolves the subject; 400 (naming `identifier.value`) when the value is not a valid identifier. */
export async function resolveDsarSubject(
  env: Env,
  id: SubjectIdentifier,
  log?: Logger,
): Promise<DsarSubject> {
  const direct = await directKeys(env, id)
  if (!direct) {
    throw invalid([{ path: 'identifier.value', message: `not a valid ${id.type.replace('_', ' ')}` }])
  }
  let linked: ResolvedKeys | null
  try {
    linked = await linkedKeys(env, id)
  } catch (error) {
    log?.warn('dsar_resolve_failed', { error: error as Error })
    throw new StoreUnavailableError('identityIndex', error instanceof Error ? error.message : String(error))
  }
  const subject = await toSubject(env, id, linked ? [direct, linked] : [direct])
  if (subject.customerIds.length > 0) return subject
  // An identifier of a person already erased no longer leads to them (its links are gone); its
  // tombstone still names the erase receipt, so the subject keeps the name its receipts carry.
  const receiptId = await tombstoneReceipt(env, direct.identifierKeys[0]!)
  if (!receiptId) return subject
  const receipt = await env.DB.prepare('SELECT subject FROM dsar_receipts WHERE receipt_id = ?')
    .bind(receiptId)
    .first<{ subject: string }>()
  return receipt ? { ...subject, digest: receipt.subject } : subject
}
