/**
 * The contract every CMP adapter meets: which first-party cookie(s) a consent platform writes, how
 * to read them into a `CmpReading`, and the platform's standard category -> purpose mapping.
 * Types only, plus the `CmpReading` states. Pure: no Workers imports.
 */
import type { DecodeResult, Purpose } from '../types'

/**
 * What the visitor's choice is, as the CMP recorded it.
 * - `explicit`: the visitor chose (accept, reject, or saved preferences).
 * - `implied`: the CMP set categories without a choice (notice-only or "implied consent" mode).
 * - `not-required`: the CMP decided the visitor's region needs no consent (Cookiebot `-1`).
 * - `undecided`: the banner is (or was) showing and nothing was chosen yet.
 */
export type CmpState = 'explicit' | 'implied' | 'not-required' | 'undecided'

export interface CmpReading {
  state: CmpState
  /** Category (or purpose, service, vendor) id -> accepted. Absent: the cookie says nothing. */
  categories: Record<string, boolean>
  /**
   * true when the cookie lists accepted categories only, so a mapped category it does not list
   * was refused (vanilla-cookieconsent, Borlabs, TrustArc) rather than not stated.
   */
  listsAcceptedOnly: boolean
  /** The CMP's own Global Privacy Control flag (OneTrust `isGpcEnabled=1`). */
  gpc: boolean
  /** The CMP recorded an opt-out of sale/sharing (Shopify `sale_of_data` = "0"). */
  saleOptOut: boolean
  /** A TCF TC string the CMP keeps inside its own cookie (Cookiebot `iab2`). */
  tcString?: string
  /** Version, timestamps, region and ids, as the CMP wrote them: reported, never used to grant. */
  fields: Record<string, string | number | boolean>
}

/** The cookie jar of a request (name -> value, already split, not decoded). */
export type CookieJar = ReadonlyMap<string, string>

/** What a CMP left on a request: where it was read and the raw text its parser takes. */
export interface CmpFound {
  /** `cookie:OptanonConsent`, `cookie:cmplz_*`, ... */
  from: string
  /** The text `parse` reads; also the decoding cache's key. */
  raw: string
}

export interface CmpAdapter {
  /** The name used in rules/consent.yaml and `signals.cmp.<name>`. */
  name: string
  /** The product's name, for reasons. */
  label: string
  /** The cookie names (or `prefix*`) read, for the docs and rules:check. */
  cookies: readonly string[]
  /** Finds this CMP's cookie(s) on a request; null when there are none. Never throws. */
  find(cookies: CookieJar): CmpFound | null
  /** Reads the raw text `find` returned. Bounded; never throws; a malformed value is an error. */
  parse(raw: string): DecodeResult<CmpReading>
  /** The CMP's standard categories and the Gatehouse purposes each stands for (documented). */
  standard: Readonly<Record<string, readonly Purpose[]>>
  /**
   * true when the category ids are the CMP's own and fixed, so rules:check refuses any other;
   * false when the site names them (OneTrust groups, Klaro services, Didomi purposes, ...).
   */
  fixedCategories: boolean
}
