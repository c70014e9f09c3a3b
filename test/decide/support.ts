/** Helpers for the decision tests: rule sets compiled from YAML, and signed anonymous ids. */
import { env } from 'cloudflare:workers'
import { cookieKeyRing, signAnonymousToken } from '../../worker/identity/cookie'
import { compileRules } from '../../worker/rules/compile'
import { bundledRules, type RuleSet } from '../../worker/rules'

/** Compiles YAML for the decision concerns on top of the bundled rule set's other concerns. */
export function rulesFrom(files: { audiences?: string; placements?: string; experiments?: string }): RuleSet {
  const yaml: Record<string, string> = {}
  for (const [k, v] of Object.entries(files)) if (v !== undefined) yaml[`${k}.yaml`] = v
  const r = compileRules(yaml)
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.file}:${e.line}:${e.column} ${e.message}`).join('\n'))
  return {
    ...bundledRules,
    version: r.ruleset.version,
    audiences: r.ruleset.audiences,
    placements: r.ruleset.placements,
    experiments: r.ruleset.experiments,
  }
}

/** An `X-Gatehouse-Id` value the identity stage accepts, for a stable anonymous unit. */
export async function anonymousHeader(anonymousId: string): Promise<string> {
  const ring = await cookieKeyRing(env.COOKIE_KEYS)
  const now = Math.floor(Date.now() / 1000)
  return signAnonymousToken(ring, { anonymousId, customerId: null, issuedAt: now, expiresAt: now + 86_400 })
}
