/** The identity contract: who the visitor is, as resolved by the `identity` stage. Types only. */

export type IdentityBasis = 'jwt' | 'cookie' | 'header' | 'ephemeral'

export interface Identity {
  basis: IdentityBasis
  /** The gateway's anonymous id (signed cookie or X-Gatehouse-Id), or a fresh ephemeral id. */
  anonymousId: string
  /** The verified customer id (JWT `sub`, or the stitched id carried in the signed cookie), else null. */
  customerId: string | null
  /** The bucketing unit: customer id when known, anonymous id otherwise. */
  unitId: string
  /**
   * Name of this person's CustomerState Durable Object (`idFromName`): `c:<customerId>` when known,
   * `a:<anonymousId>` for a consented anonymous visitor, null for an ephemeral visitor (no state kept).
   */
  stateKey: string | null
  /** Verified JWT claims when basis is `jwt` (never logged). */
  claims?: Record<string, unknown>
}
