/**
 * Helpers for the consent tests that go through the Worker: real TC strings built with the TCF
 * fixtures (stamped relative to the real clock, so they never expire under the tests), GPP strings
 * checked against the decoder, and requests located with the development override headers.
 */
import { coreBits, tcString, vendorBitfield, vendorsSegment } from '../support/consent/tcf-fixtures'

/** A valid, service-specific TC string created `ageDays` ago, consenting to `purposes`. */
export function tcCookie(purposes: number[], ageDays = 1): string {
  const t = Math.floor((Date.now() - ageDays * 86_400_000) / 100) * 100
  return tcString(
    coreBits({ created: t, lastUpdated: t, purposeConsents: purposes, publisherCountryCode: 'DE' }),
    vendorsSegment(1, vendorBitfield(8, [1, 2, 3])),
  )
}

export const ALL_PURPOSES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]

/** GPP strings (header + section), decoded values checked in routes.test.ts. */
export const GPP = {
  /** usca: SaleOptOut 1 (opted out), SharingOptOut 2, GPC sub-section 0. */
  uscaSaleOptOut: 'DBABBg~BUYAAABg.QA',
  /** usca: SaleOptOut 2, SharingOptOut 2 (not opted out). */
  uscaNoOptOut: 'DBABBg~BUoAAABg.QA',
  /** usnat v1: SaleOptOut, SharingOptOut, TargetedAdvertisingOptOut all 1. */
  usnatOptOut: 'DBABLA~BVQVAAAAAgA.QA',
}

/** Headers placing the request in a country (and region) in development mode (docs/api.md). */
export function located(
  country: string,
  region?: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    'x-gatehouse-country': country,
    ...(region ? { 'x-gatehouse-region': region } : {}),
    ...extra,
  }
}

export const PAGE_ACCEPT = 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8'
