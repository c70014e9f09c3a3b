/**
 * The `admission` stage: refuses, before any other stage acts on it, a page request the reverse
 * proxy must not take (./admission.ts): a host that is not configured gets 421 Misdirected
 * Request (RFC 9110 section 15.5.20), a path the origin keeps to itself gets 404. The gateway's
 * own routes answer on any host: they never echo it.
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env'
import { ProblemError } from '../lib/problem'
import type { RuleSet } from '../rules'
import { admitProxy, parsePublicHosts, type PublicHost } from './admission'

export interface AdmissionOptions {
  rules: RuleSet
}

export const admission = ({ rules }: AdmissionOptions): MiddlewareHandler<AppEnv> =>
  async function admission(c, next) {
    const request = c.get('request')
    if (request.gatewayRoute) return next()
    const hosts = configuredHosts(c.env.PUBLIC_HOSTS, rules.site.publicHosts, (rejected) =>
      c.get('log').error('public_hosts_invalid', { rejected }),
    )
    const admitted = admitProxy(request.url, hosts.hosts, rules.site.neverProxied)
    if (admitted.ok) return next()
    const { reason, detail } = admitted.error
    switch (reason) {
      case 'unknown_host':
        // The host is the client's; it is logged as the evidence of a misrouted or spoofed request.
        c.get('log').warn('proxy_refused', { reason, host: request.url.host.slice(0, 255) })
        throw new ProblemError(421, 'Misdirected request', 'This gateway does not serve that host.', [
          { path: 'host', message: detail },
        ])
      case 'never_proxied':
        c.get('log').warn('proxy_refused', { reason })
        throw new ProblemError(404, 'Not found', 'No such page.')
    }
  }

// The configuration only changes with a new deployment: parse it once per value.
let last: { key: string; parsed: ReturnType<typeof parsePublicHosts> } | null = null
function configuredHosts(
  variable: string | undefined,
  fromRules: readonly string[],
  onRejected: (rejected: string[]) => void,
): { hosts: PublicHost[]; rejected: string[] } {
  const entries = variable !== undefined && variable.trim() !== '' ? variable.split(',') : fromRules
  const key = entries.join(',')
  if (last?.key !== key) {
    last = { key, parsed: parsePublicHosts(entries) }
    // Said once per configuration: a listed entry that is not a host matches no request.
    if (last.parsed.rejected.length) onRejected(last.parsed.rejected)
  }
  return last.parsed
}
