/**
 * Cost per request of the identity and touchpoint stages' pure work, in Node, each against its
 * named reference in the same run:
 *
 * - anonymous id: `verifyAnonymousToken` / `signAnonymousToken` vs one bare Web Crypto HMAC-SHA-256
 *   (`crypto.subtle.sign`, the cryptographic floor of any signed cookie);
 * - JWT: `verifyJwt` with a cached local key set (RS256, ES256) vs jose `compactVerify` with the key
 *   already in hand (signature only: no JWKS lookup, no claim checks);
 * - trust policy: `planVisitor` + `selfServiceScope` (what the request proves) vs copying the facts
 *   into a new object (the least any per-request decision does);
 * - touchpoint: `normaliseTouchpoint` + `touchpointHeader` vs `new URL()` plus iterating its query;
 * - per request: an anonymous page view (cookie verify + touchpoint) and a signed-in API call
 *   (JWT verify + cookie verify + touchpoint).
 *
 *   npx tsx bench/identity.ts
 */
import { compactVerify, createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'
import { cookieKeyRing, signAnonymousToken, verifyAnonymousToken } from '../worker/identity/cookie'
import { verifyJwt } from '../worker/identity/jwt'
import { planVisitor, selfServiceScope, type VisitorFacts } from '../worker/identity/plan'
import { bundledRules } from '../worker/rules'
import { normaliseTouchpoint, touchpointHeader } from '../worker/touchpoint/normalise'

// The machine is shared: each measurement is the best of three rounds, reference and ours
// interleaved, so a burst of load elsewhere does not land on one side only.
async function once(n: number, fn: (i: number) => unknown): Promise<number> {
  const t0 = performance.now()
  for (let i = 0; i < n; i++) await fn(i)
  return ((performance.now() - t0) * 1000) / n
}

async function compare(
  n: number,
  ref: [string, (i: number) => unknown],
  ours: Array<[string, (i: number) => unknown]>,
): Promise<{ ref: number; ours: number[] }> {
  const all = [ref, ...ours]
  for (const [, fn] of all) for (let i = 0; i < Math.min(n, 500); i++) await fn(i) // warm-up
  const best = all.map(() => Infinity)
  for (let round = 0; round < 3; round++) {
    for (const [j, [, fn]] of all.entries()) best[j] = Math.min(best[j]!, await once(n, fn))
  }
  for (const [j, [label]] of all.entries()) {
    const ratio = j === 0 ? '' : `  (${(best[j]! / best[0]!).toFixed(2)}x the reference)`
    console.log(`${label.padEnd(62)} ${best[j]!.toFixed(2).padStart(8)} µs/op${ratio}`)
  }
  console.log('')
  return { ref: best[0]!, ours: best.slice(1) }
}

const enc = new TextEncoder()
const nowS = Math.floor(Date.now() / 1000)

// --- anonymous id ---
const ring = await cookieKeyRing(
  JSON.stringify([
    { kid: 'k2', secret: 'bench-cookie-key-2-0123456789abcdef0123456789abcdef' },
    { kid: 'k1', secret: 'bench-cookie-key-1-0123456789abcdef0123456789abcdef' },
  ]),
)
const token = {
  anonymousId: crypto.randomUUID(),
  customerId: 'cust-12345',
  issuedAt: nowS,
  expiresAt: nowS + 86_400,
}
const cookie = await signAnonymousToken(ring, token)
const hmacInput = enc.encode(cookie.slice(0, cookie.lastIndexOf('.')))
// verifyAnonymousToken remembers values it has verified (a returning visitor's cookie is checked
// once per isolate). First sight is measured over more distinct values than it remembers, cycled
// in order, so every call checks a signature; the remembered case is measured on its own.
const distinct = await Promise.all(
  Array.from({ length: 6_000 }, () =>
    signAnonymousToken(ring, { ...token, anonymousId: crypto.randomUUID() }),
  ),
)

console.log('Anonymous id (signed cookie)')
const cookieBench = await compare(
  20_000,
  [
    'reference: crypto.subtle.sign HMAC-SHA-256',
    () => crypto.subtle.sign('HMAC', ring.signing.key, hmacInput),
  ],
  [
    [
      'verifyAnonymousToken, first sight (parse, verify MAC, claims)',
      (i) => verifyAnonymousToken(ring, distinct[i % distinct.length]!, nowS),
    ],
    ['signAnonymousToken (encode claims, MAC)', () => signAnonymousToken(ring, token)],
    [
      'verifyAnonymousToken, value verified before (times only)',
      () => verifyAnonymousToken(ring, cookie, nowS),
    ],
  ],
)
const verifyCookie = cookieBench.ours[0]!

// --- JWT ---
console.log('JWT with cached keys')
const issuer = 'https://auth.example/'
const audience = 'gatehouse'
const jwtResults: Record<string, { ours: number; ref: number }> = {}
for (const alg of ['RS256', 'ES256'] as const) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true })
  const jwk = { ...((await exportJWK(publicKey)) as JWK), kid: `${alg}-1`, alg }
  const jwks = createLocalJWKSet({ keys: [jwk] })
  const jwt = await new SignJWT({ scope: 'shop' })
    .setProtectedHeader({ alg, kid: `${alg}-1` })
    .setSubject('cust-12345')
    .setIssuer(issuer)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(privateKey)
  const bench = await compare(
    alg === 'RS256' ? 5_000 : 3_000,
    [`reference: jose compactVerify ${alg}, key in hand`, () => compactVerify(jwt, publicKey)],
    [
      [
        `verifyJwt ${alg} (allow-list, JWKS lookup, iss/aud/exp/nbf)`,
        async () => {
          const r = await verifyJwt(jwt, { jwks, issuer, audience })
          if (!r.ok) throw new Error(r.error.reason)
        },
      ],
    ],
  )
  const ref = bench.ref
  const ours = bench.ours[0]!
  jwtResults[alg] = { ours, ref }
}

// --- trust policy ---
console.log('Trust policy (what the request proves)')
const facts: VisitorFacts = {
  nowS,
  persistent: true,
  cookieWithoutConsent: false,
  jwtSubject: null,
  presented: { anonymousId: token.anonymousId, customerId: null, issuedAt: nowS, kid: 'k2', via: 'cookie' },
  signingKid: 'k2',
  refreshAfterS: 86_400,
  signOut: false,
  newAnonymousId: token.anonymousId,
}
const signedInFacts: VisitorFacts = {
  ...facts,
  jwtSubject: 'cust-12345',
  presented: { ...facts.presented!, customerId: 'cust-12345' },
}
const planBench = await compare(
  200_000,
  ['reference: copy the facts into a new object', () => ({ ...facts })],
  [
    [
      'planVisitor + selfServiceScope, returning anonymous visitor',
      () => {
        const step = planVisitor(facts)
        return step.kind === 'done' && selfServiceScope(step.visit.identity)
      },
    ],
    [
      'planVisitor + selfServiceScope, signed-in device',
      () => {
        const step = planVisitor(signedInFacts)
        return step.kind === 'done' && selfServiceScope(step.visit.identity)
      },
    ],
  ],
)
const plan = planBench.ours[0]!

// --- touchpoint ---
console.log('Touchpoint')
const utm = bundledRules.utm
const landing =
  'https://shop.example/products/lamp?utm_source=FB&utm_medium=Paid%20Social&utm_campaign=Spring%20Sale%202026&utm_content=hero&fbclid=IwAR0abc&color=red'
const plain = 'https://shop.example/products/lamp?color=red'
const tpBench = await compare(
  100_000,
  [
    'reference: new URL() + iterate searchParams',
    () => {
      let n = 0
      for (const [k] of new URL(landing).searchParams) n += k.length
      return n
    },
  ],
  [
    [
      'normaliseTouchpoint + touchpointHeader (campaign visit)',
      () => {
        const out = normaliseTouchpoint(
          { url: new URL(landing), referrer: 'https://l.facebook.com/', advertising: false, now: Date.now() },
          utm,
        )
        return out.touchpoint && touchpointHeader(out.touchpoint)
      },
    ],
    [
      'normaliseTouchpoint (direct visit, no campaign data)',
      () =>
        normaliseTouchpoint(
          { url: new URL(plain), referrer: null, advertising: false, now: Date.now() },
          utm,
        ),
    ],
  ],
)
const norm = tpBench.ours[0]!
const normPlain = tpBench.ours[1]!

// --- per request ---
console.log('\nPer request (pure work of both stages)')
const anonymousVisit = verifyCookie + plan + normPlain
const campaignVisit = verifyCookie + plan + norm
const signedIn = jwtResults.ES256!.ours + verifyCookie + plan + normPlain
console.log(
  `anonymous page view (cookie verify + plan + touchpoint):     ${anonymousVisit.toFixed(2).padStart(9)} µs`,
)
console.log(
  `campaign landing (cookie + plan + UTM normalise + header):   ${campaignVisit.toFixed(2).padStart(9)} µs`,
)
console.log(
  `signed-in API call, ES256 (JWT + cookie + plan + touchpoint): ${signedIn.toFixed(2).padStart(9)} µs`,
)
console.log(
  `signed-in API call, RS256 (JWT + cookie + plan + touchpoint): ${(jwtResults.RS256!.ours + verifyCookie + plan + normPlain).toFixed(2).padStart(9)} µs`,
)
