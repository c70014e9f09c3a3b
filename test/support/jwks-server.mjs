// A local JWKS server for the identity tests (visitor JWTs): the Worker fetches keys from it exactly as it
// would from an identity provider, over HTTP on a loopback port (never a public URL).
//
// Each key set ("tenant") starts with a freshly generated RSA (RS256, kid rsa-1) and EC P-256
// (ES256, kid ec-1) key pair. The default tenant is served at the root; `/t/<name>/...` serves an
// independent set, so a test that rotates keys never disturbs the tokens of other test files.
//   GET  [/t/<name>]/jwks.json   the public JWK Set (what JWT_JWKS_URL points at); counts fetches
//   GET  [/t/<name>]/keys        the private JWKs, so tests can sign tokens (loopback test server only)
//   POST [/t/<name>]/rotate      adds a new RSA key (kid rsa-<n>) first; ?drop=1 removes the older RSA keys
//   GET  [/t/<name>]/stats       { fetches } since the set was created
import { generateKeyPairSync } from 'node:crypto'
import { createServer } from 'node:http'

function keyPair(kind, kid) {
  const { publicKey, privateKey } =
    kind === 'RSA'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const alg = kind === 'RSA' ? 'RS256' : 'ES256'
  return {
    kid,
    alg,
    public: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
    private: { ...privateKey.export({ format: 'jwk' }), kid, alg },
  }
}

function newTenant() {
  return { keys: [keyPair('RSA', 'rsa-1'), keyPair('EC', 'ec-1')], rotations: 1, fetches: 0 }
}

export function startJwksServer({ port = 0, host = '127.0.0.1' } = {}) {
  const tenants = new Map([['default', newTenant()]])
  const json = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    res.end(JSON.stringify(body))
  }
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const m = /^\/t\/([a-z0-9-]{1,40})(\/.*)$/.exec(url.pathname)
    const name = m ? m[1] : 'default'
    const route = m ? m[2] : url.pathname
    let t = tenants.get(name)
    if (!t) tenants.set(name, (t = newTenant()))
    if (req.method === 'GET' && route === '/jwks.json') {
      t.fetches++
      return json(res, 200, { keys: t.keys.map((k) => k.public) })
    }
    if (req.method === 'GET' && route === '/keys')
      return json(res, 200, { keys: t.keys.map((k) => k.private) })
    if (req.method === 'POST' && route === '/rotate') {
      t.rotations++
      const fresh = keyPair('RSA', `rsa-${t.rotations}`)
      t.keys =
        url.searchParams.get('drop') === '1'
          ? [fresh, ...t.keys.filter((k) => k.alg !== 'RS256')]
          : [fresh, ...t.keys]
      return json(res, 200, { kid: fresh.kid, private: fresh.private })
    }
    if (req.method === 'GET' && route === '/stats') return json(res, 200, { fetches: t.fetches })
    json(res, 404, { error: 'not found' })
  })
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)))
}
