/**
 * Fixed GPP vectors (`gpp-vectors.json`): the GPP specification's own examples, strings written
 * by the IAB reference encoder for usnat v1/v2 (with GPC sub-sections), state sections and
 * tcfcav1, and malformed or hostile strings with the error each must produce. Rows marked
 * `library` are also decoded with `@iabgpp/cmpapi` to confirm the expected values. A bug report
 * becomes a new row.
 */
import { GppModel } from '@iabgpp/cmpapi'
import { describe, expect, it } from 'vitest'
import { checkGppSid, decodeGppString } from '../../worker/consent/gpp'
import type { GppSectionFields } from '../../worker/consent/types'
import { decodeUspString } from '../../worker/consent/usp'
import vectors from './gpp-vectors.json'

interface Row {
  name: string
  input: string
  ok: boolean
  sectionIds?: number[]
  sections?: Record<string, Record<string, unknown>>
  unknownSectionIds?: number[]
  library?: boolean
  reason?: string
  field?: string
}

const rows = vectors as Row[]
const valid = rows.filter((r) => r.ok)
const invalid = rows.filter((r) => !r.ok)

describe('GPP fixed vectors', () => {
  it.each(valid)('decodes: $name', (row) => {
    const result = decodeGppString(row.input)
    expect(result.ok, JSON.stringify(result)).toBe(true)
    if (!result.ok) return
    expect(result.value.version).toBe(1)
    expect(result.value.sectionIds).toEqual(row.sectionIds)
    expect(result.value.sections).toMatchObject(row.sections ?? {})
    expect(result.value.unknownSectionIds).toEqual(row.unknownSectionIds)
  })

  it.each(invalid)('rejects, naming the field: $name', (row) => {
    const result = decodeGppString(row.input)
    expect(result).toMatchObject({ ok: false, error: { reason: row.reason, field: row.field } })
    if (!result.ok) expect(result.error.message.length).toBeGreaterThan(0)
  })

  it.each(valid.filter((r) => r.library))('agrees with @iabgpp/cmpapi on: $name', (row) => {
    const lib = new GppModel(row.input)
    expect(lib.getSectionIds()).toEqual(row.sectionIds)
    for (const [section, fields] of Object.entries(row.sections ?? {})) {
      if (section === 'tcfeuv2') continue // the TCF decoder has its own differential tests
      for (const [field, expected] of Object.entries(fields)) {
        const got = lib.getFieldValue(section, field)
        if (section === 'tcfcav1') {
          // The library returns Dates, boolean flag arrays and expanded id arrays; compare scalars.
          if (got instanceof Date) expect(got.toISOString(), field).toBe(expected)
          else if (!Array.isArray(expected)) expect(got, field).toBe(expected)
        } else if (!(expected === null && field === 'Gpc')) {
          expect(got, `${section}.${field}`).toEqual(expected)
        }
      }
    }
  })

  it('accepts a string up to the configured length and rejects one past it before decoding', () => {
    const gpp = 'DBABLA~BVQqAAAAAgA.QA'
    expect(decodeGppString(gpp, { maxLength: gpp.length }).ok).toBe(true)
    expect(decodeGppString(gpp, { maxLength: gpp.length - 1 })).toMatchObject({
      ok: false,
      error: { reason: 'too_long', field: 'gpp' },
    })
    expect(decodeGppString(`DBABLA~${'A'.repeat(16_400)}`)).toMatchObject({
      ok: false,
      error: { reason: 'too_long' },
    })
  })

  it('rejects more sections than the cap before reading the header', () => {
    expect(decodeGppString(`DBABTA${'~1YNN'.repeat(65)}`)).toMatchObject({
      ok: false,
      error: { reason: 'too_many_sections', field: 'gpp' },
    })
  })

  it('reports the sections of the GPP spec examples as the same whichever header padding is used', () => {
    const six = decodeGppString('DBACNY~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN')
    const eight = decodeGppString('DBACNYA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN')
    expect(six).toEqual(eight)
  })
})

describe('gpp_sid checked against the GPP header', () => {
  const decoded = decodeGppString('DBABrw~CAAQAAAAAABA.YA~BAQAAABA.QA')
  const gpp = decoded.ok ? decoded.value : { version: 1, sectionIds: [], sections: {} }

  it('accepts a gpp_sid that lists exactly the header sections, in any order', () => {
    expect(checkGppSid(gpp, [8, 7])).toEqual([])
  })

  it('reports a gpp_sid section the header does not contain', () => {
    expect(checkGppSid(gpp, [7, 8, 2])).toEqual([
      'gpp_sid lists section 2, which the GPP header does not contain',
    ])
  })

  it('reports a header section missing from gpp_sid', () => {
    expect(checkGppSid(gpp, [7])).toEqual(['the GPP header contains section 8, which gpp_sid does not list'])
  })
})

describe('US Privacy string in a GPP uspv1 section and on its own agree', () => {
  it('gives the same flags both ways', () => {
    const gpp = decodeGppString('DBABTA~1NYY')
    const usp = decodeUspString('1NYY')
    expect(usp.ok && gpp.ok).toBe(true)
    if (!usp.ok || !gpp.ok) return
    const section = gpp.value.sections.uspv1 as GppSectionFields
    expect([section.Notice, section.OptOutSale, section.LspaCovered]).toEqual([
      usp.value.notice,
      usp.value.optOutSale,
      usp.value.lspaCovered,
    ])
  })
})
