// A local JWKS server for the identity tests (issue 4): the Worker fetches keys from it exactly as it
// would from an identity provider, over HTTP on a loopback port (never a public URL).
//
// At start it generates an RSA (RS256) and an EC P-256 (ES256) key pair. Routes:
//   GET  /jwks.json        the public JWK Set (what JWT_JWKS_URL points at); counts fetches
//   GET  /keys             the private JWKs, so tests can sign tokens (loopback test server only)
//   POST /rotate           adds a new RSA key (kid rsa-<n>) to the set; ?drop=1 removes the older RSA keys
//   POST /reset            back to the two keys generated at start
//   GET  /stats            { fetches } since start
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

export function startJwksServer({ port = 0, host = '127.0.0.1' } = {}) {
  const initial = [keyPair('RSA', 'rsa-1'), keyPair('EC', 'ec-1')]
  let keys = [...initial]
  let rotations = 1
  let fetches = 0
  const json = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    res.end(JSON.stringify(body))
  }
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (req.method === 'GET' && url.pathname === '/jwks.json') {
      fetches++
      return json(res, 200, { keys: keys.map((k) => k.public) })
    }
    if (req.method === 'GET' && url.pathname === '/keys') {
      return json(res, 200, { keys: keys.map((k) => k.private) })
    }
    if (req.method === 'POST' && url.pathname === '/rotate') {
      rotations++
      const fresh = keyPair('RSA', `rsa-${rotations}`)
      keys =
        url.searchParams.get('drop') === '1'
          ? [fresh, ...keys.filter((k) => k.alg !== 'RS256')]
          : [fresh, ...keys]
      return json(res, 200, { kid: fresh.kid, private: fresh.private })
    }
    if (req.method === 'POST' && url.pathname === '/reset') {
      keys = [...initial]
      return json(res, 200, { kids: keys.map((k) => k.kid) })
    }
    if (req.method === 'GET' && url.pathname === '/stats') return json(res, 200, { fetches })
    json(res, 404, { error: 'not found' })
  })
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)))
}
