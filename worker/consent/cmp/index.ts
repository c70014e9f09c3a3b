/**
 * The supported CMPs (consent management platforms that keep the visitor's choice in a readable
 * first-party cookie), as one table in the order they are looked for, and the names
 * rules/consent.yaml may use. docs/consent.md "CMP cookies" lists each format and its source.
 * Pure: no Workers imports.
 */
import { axeptio } from './axeptio'
import { borlabs } from './borlabs'
import { complianz } from './complianz'
import { cookiebot } from './cookiebot'
import { cookiefirst } from './cookiefirst'
import { cookieinformation } from './cookieinformation'
import { cookieyes } from './cookieyes'
import { didomi } from './didomi'
import { iubenda } from './iubenda'
import { klaro } from './klaro'
import { onetrust } from './onetrust'
import { shopify } from './shopify'
import { trustarc } from './trustarc'
import type { CmpAdapter } from './types'
import { vanillaCookieconsent } from './vanilla-cookieconsent'

export type { CmpAdapter, CmpFound, CmpReading, CmpState, CookieJar } from './types'

export const CMP_ADAPTERS: readonly CmpAdapter[] = [
  onetrust,
  cookiebot,
  vanillaCookieconsent,
  klaro,
  cookieyes,
  complianz,
  shopify,
  iubenda,
  didomi,
  cookieinformation,
  borlabs,
  cookiefirst,
  axeptio,
  trustarc,
]

export const CMP_NAMES = CMP_ADAPTERS.map((a) => a.name) as [string, ...string[]]

export const CMP_BY_NAME: ReadonlyMap<string, CmpAdapter> = new Map(CMP_ADAPTERS.map((a) => [a.name, a]))
