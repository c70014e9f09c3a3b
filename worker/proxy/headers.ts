/**
 * Header hygiene for the reverse proxy: hop-by-hop fields removed in both directions
 * (RFC 9110 section 7.6.1), the X-Forwarded-* fields set for the origin, and the gateway's own
 * development override headers never passed on. Pure: works on `Headers`, no Workers imports.
 */

// RFC 9110 7.6.1 names Connection and the fields it lists; these are the fields that are
// hop-by-hop by definition (Keep-Alive, Proxy-Connection and Proxy-* credentials: RFC 9110 11.7;
// TE and Trailer: 10.1.4, 6.6.2; Transfer-Encoding: RFC 9112 6.1; Upgrade: RFC 9110 7.8).
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]

// Headers only the gateway acts on (docs/api.md "Development overrides"): the origin never sees them.
const GATEWAY_ONLY = ['x-gatehouse-country', 'x-gatehouse-region']

// Forwarding headers a client could forge; the gateway sets its own values (X-Forwarded-For below).
const FORWARDING = ['x-forwarded-host', 'x-forwarded-proto', 'forwarded', 'x-real-ip']

// An IPv4 or IPv6 address in text form (RFC 4291 section 2.2), nothing a header could smuggle.
const IP_TEXT = /^[0-9A-Fa-f:.]{2,45}$/

/** true when the request asks to switch to WebSocket (RFC 6455 section 4.1). */
export function isWebSocketUpgrade(headers: Headers): boolean {
  return (
    headers.get('upgrade')?.trim().toLowerCase() === 'websocket' &&
    (headers.get('connection') ?? '')
      .toLowerCase()
      .split(',')
      .some((t) => t.trim() === 'upgrade')
  )
}

/**
 * Removes the hop-by-hop fields: Connection, every field Connection names, and the fixed list.
 * With `keepUpgrade`, `Connection: upgrade` and `Upgrade` survive (a WebSocket handshake).
 */
export function stripHopByHop(headers: Headers, keepUpgrade = false): void {
  const named = (headers.get('connection') ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean)
  for (const name of named) {
    if (keepUpgrade && name === 'upgrade') continue
    headers.delete(name)
  }
  for (const name of HOP_BY_HOP) {
    if (keepUpgrade && (name === 'upgrade' || name === 'connection')) continue
    headers.delete(name)
  }
  if (keepUpgrade) headers.set('connection', 'upgrade')
}

export interface ForwardingInfo {
  /** The public URL the client used. */
  publicUrl: URL
  /** The client's IP (CF-Connecting-IP), when known. */
  clientIp: string | null
}

/**
 * The request headers sent to the origin: the client's headers minus hop-by-hop, gateway-only
 * and forgeable forwarding fields, plus X-Forwarded-For (the connecting IP alone), -Proto and -Host
 * (the public URL, whose host the admission stage has checked against the configured hosts).
 */
export function originRequestHeaders(incoming: Headers, info: ForwardingInfo): Headers {
  const headers = new Headers(incoming)
  const websocket = isWebSocketUpgrade(incoming)
  stripHopByHop(headers, websocket)
  for (const name of GATEWAY_ONLY) headers.delete(name)
  for (const name of FORWARDING) headers.delete(name)
  // The origin's own host goes in Host (set by fetch from the target URL); the public one is below.
  headers.delete('host')
  // The client's own X-Forwarded-For is not kept: anyone can write any chain, and an origin that
  // reads its first entry (as most do) would take a forged address for the visitor's. The gateway
  // vouches for one address only, the connecting IP Cloudflare's edge saw (CF-Connecting-IP).
  headers.delete('x-forwarded-for')
  if (info.clientIp && IP_TEXT.test(info.clientIp)) headers.set('x-forwarded-for', info.clientIp)
  headers.set('x-forwarded-proto', info.publicUrl.protocol.replace(/:$/, ''))
  headers.set('x-forwarded-host', info.publicUrl.host)
  return headers
}

/** The origin's response headers minus hop-by-hop fields (a 101 keeps its Upgrade). */
export function clientResponseHeaders(incoming: Headers, switchingProtocols = false): Headers {
  const headers = new Headers(incoming)
  stripHopByHop(headers, switchingProtocols)
  return headers
}
