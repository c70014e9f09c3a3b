/**
 * Test helpers for the GPP decoder tests: map `@iabgpp/cmpapi` field values onto the decoder's
 * output shapes. Bit strings (layouts the IAB encoder will not produce) are written with
 * test/support/consent/bit-strings.ts.
 */
import { IdRanges } from '../../worker/consent/ranges'
import type { GppRangeEntry } from '../../worker/consent/types'

/** The ids whose flag is set in a library boolean array (index 0 is id 1). */
export function flagsToIds(flags: boolean[]): number[] {
  const ids: number[] = []
  flags.forEach((f, i) => {
    if (f) ids.push(i + 1)
  })
  return ids
}

export function idsToFlags(ids: number[], length: number): boolean[] {
  return Array.from({ length }, (_, i) => ids.includes(i + 1))
}

/** Library vendor id arrays become the decoder's merged ranges. */
export function libraryIdsToRanges(ids: number[]): IdRanges {
  return IdRanges.fromIds(ids)
}

/** Library `RangeEntry` objects become `GppRangeEntry`. */
export function libraryRangeEntries(
  entries: Array<{ getKey(): number; getType(): number; getIds(): number[] }>,
): GppRangeEntry[] {
  return entries.map((e) => ({ key: e.getKey(), type: e.getType(), ids: IdRanges.fromIds(e.getIds()) }))
}
