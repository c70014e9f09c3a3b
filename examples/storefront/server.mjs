/**
 * The demo storefront: a small shop that Gatehouse sits in front of (`npm start`, the tests, the
 * browser test and the proxy benchmark all use it). Plain Node `http`, no dependencies.
 *
 * Pages carry personalisation slots (`data-gatehouse-slot`) with default content and third-party
 * tags (advertising pixel, analytics, video iframe) whose URLs are never fetched here. The origin
 * sets cookies of each category (session: essential, _ga: measurement, _fbp: advertising,
 * prefs: personalization). Extra routes exist for the gateway's tests and benchmark: a JSON API,
 * slow, failing, big and held (chunked) responses, a request echo, a WebSocket echo and
 * `/__control/*` to inject faults per path.
 *
 * Every page runs a real consent banner, vanilla-cookieconsent (a devDependency, served from
 * node_modules under /static/cmp/, never from a public URL), configured as a shop would: necessary,
 * analytics and ads categories, a preferences link in the footer, and the CMP's autoClear removing
 * analytics and ad cookies when the visitor withdraws. The gateway reads its `cc_cookie`. A second
 * real CMP, Klaro, runs on its own page (`/klaro`); the gateway reads its `klaro` cookie.
 *
 * Run alone: `node examples/storefront/server.mjs` (PORT, default 8788).
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { URLSearchParams } from 'node:url'

const PRODUCTS = [
  { slug: 'lamp', name: 'Desk lamp', price: 39 },
  { slug: 'mug', name: 'Stoneware mug', price: 12 },
  { slug: 'chair', name: 'Oak chair', price: 149 },
]

// Third-party tags as a real shop embeds them; the gateway's consent stage blocks or keeps them.
const TAGS = `
    <script async src="https://www.googletagmanager.example/gtag/js?id=G-DEMO" data-category="measurement"></script>
    <script src="https://tags.adnetwork.example/pixel.js" data-category="advertising"></script>`
const VIDEO = `<iframe src="https://video.example/embed/spring" title="Spring collection video" data-category="advertising" width="320" height="180"></iframe>`

// The site's CMP configuration (vanilla-cookieconsent v3 `CookieConsent.run`), as a shop writes it.
// `hideFromBots: false`: the library hides its banner from automated browsers (navigator.webdriver),
// and the storefront's browser tests are one.
const CMP_CONFIG = `CookieConsent.run({
  hideFromBots: false,
  categories: {
    necessary: { enabled: true, readOnly: true },
    analytics: { autoClear: { cookies: [{ name: /^_ga/ }, { name: '_gid' }] } },
    ads: { autoClear: { cookies: [{ name: /^_fbp/ }, { name: /^_gcl/ }] } },
  },
  language: {
    default: 'en',
    translations: {
      en: {
        consentModal: {
          title: 'We use cookies',
          description: 'Analytics helps us improve the shop; ads cookies measure and personalise advertising.',
          acceptAllBtn: 'Accept all',
          acceptNecessaryBtn: 'Reject all',
          showPreferencesBtn: 'Manage preferences',
        },
        preferencesModal: {
          title: 'Cookie preferences',
          acceptAllBtn: 'Accept all',
          acceptNecessaryBtn: 'Reject all',
          savePreferencesBtn: 'Save preferences',
          closeIconLabel: 'Close',
          sections: [
            { title: 'Strictly necessary', description: 'Session and cart.', linkedCategory: 'necessary' },
            { title: 'Analytics', description: 'Google Analytics.', linkedCategory: 'analytics' },
            { title: 'Ads', description: 'Advertising pixels.', linkedCategory: 'ads' },
          ],
        },
      },
    },
  },
})
`
// A second real CMP, Klaro (a devDependency), on its own page `/klaro`: two services named as
// Klaro's examples name them, which the gateway's standard Klaro mapping knows
// (google-analytics -> measurement, google-ads -> advertising). Klaro stores its `klaro` cookie.
const KLARO_CONFIG = `var klaroConfig = {
  version: 1,
  elementID: 'klaro',
  storageMethod: 'cookie',
  cookieName: 'klaro',
  cookieExpiresAfterDays: 365,
  default: false,
  mustConsent: false,
  acceptAll: true,
  hideDeclineAll: false,
  lang: 'en',
  translations: { en: { privacyPolicyUrl: '/privacy' } },
  services: [
    { name: 'google-analytics', title: 'Google Analytics', purposes: ['analytics'], cookies: [/^_ga/, '_gid'] },
    { name: 'google-ads', title: 'Google Ads', purposes: ['marketing'], cookies: ['_fbp'] },
  ],
}
`
const KLARO_FILES = {
  '/static/klaro/klaro.js': ['klaro.js', 'text/javascript'],
}

function klaroPage() {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Klaro · Demo store</title>
    <link rel="stylesheet" href="/static/store.css">${TAGS}
  </head>
  <body>
    <header><a href="/klaro">Demo store (Klaro)</a> · <a href="/product/lamp">Lamp</a></header>
    <main>
      <h1>Demo store, with Klaro</h1>
${slot('home_hero', '<h2>Welcome to the demo store</h2>')}
    </main>
    <script src="/static/klaro/config.js"></script>
    <script defer src="/static/klaro/klaro.js"></script>
  </body>
</html>
`
}

const CMP_FILES = {
  '/static/cmp/cookieconsent.umd.js': ['cookieconsent.umd.js', 'text/javascript'],
  '/static/cmp/cookieconsent.css': ['cookieconsent.css', 'text/css'],
}

function page(title, body) {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>${title} · Demo store</title>
    <link rel="stylesheet" href="/static/store.css">
    <link rel="stylesheet" href="/static/cmp/cookieconsent.css">${TAGS}
  </head>
  <body>
    <header><a href="/">Demo store</a> · <a href="/product/lamp">Lamp</a> · <a href="/cart" id="cart-link">Cart</a></header>
    <main>
${body}
    </main>
    <footer><a href="#" data-cc="show-preferencesModal" id="cookie-preferences">Cookie preferences</a></footer>
    <script src="/static/cmp/cookieconsent.umd.js"></script>
    <script src="/static/cmp/config.js"></script>
  </body>
</html>
`
}

const slot = (name, content) => `      <section data-gatehouse-slot="${name}">${content}</section>`

const CSS =
  'body{font-family:system-ui;margin:2rem}header a{margin-right:.5rem}[data-gatehouse-slot]{padding:1rem;background:#f4f1ea}\n'

// Pages under a strict Content-Security-Policy, as sites that allow scripts by nonce or hash send
// them: the gateway's injected scripts must run without the policy being weakened.
const SITE_SCRIPT = 'window.siteScriptRan = true'
const SITE_SCRIPT_HASH = `'sha256-${createHash('sha256').update(SITE_SCRIPT).digest('base64')}'`

function cspPage(kind, nonce, metaPolicy) {
  const n = nonce ? ` nonce="${nonce}"` : ''
  const meta = metaPolicy ? `\n    <meta http-equiv="Content-Security-Policy" content="${metaPolicy}">` : ''
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">${meta}
    <title>CSP ${kind} · Demo store</title>
    <link rel="stylesheet" href="/static/store.css">
    <script${n}>${SITE_SCRIPT}</script>
    <script${n} src="https://tags.adnetwork.example/pixel.js" data-category="advertising"></script>
  </head>
  <body>
    <h1>Content-Security-Policy: ${kind}</h1>
  </body>
</html>
`
}

/**
 * `/csp/<kind>` (nonce, hash, hash-strict-dynamic, report-only; meta-nonce, meta-self, meta-hash
 * with the policy in a `<meta http-equiv>` element instead of a header): a fresh nonce per
 * response, as a real site sends.
 */
function cspRoute(res, kind) {
  const nonce = createHash('sha256').update(String(Math.random())).digest('base64').slice(0, 22)
  const metaPolicies = {
    'meta-nonce': `script-src 'nonce-${nonce}' 'strict-dynamic'; object-src 'none'`,
    'meta-self': `script-src 'self' https://tags.adnetwork.example ${SITE_SCRIPT_HASH}`,
    // Only the site's inline script by hash: no external script may load after this element.
    'meta-hash': `script-src ${SITE_SCRIPT_HASH}`,
  }
  if (metaPolicies[kind]) {
    return html(res, 200, cspPage(kind, kind === 'meta-nonce' ? nonce : null, metaPolicies[kind]), {
      'cache-control': 'no-store',
    })
  }
  const policies = {
    nonce: [
      'content-security-policy',
      `script-src 'nonce-${nonce}' 'strict-dynamic'; object-src 'none'; base-uri 'none'`,
    ],
    hash: [
      'content-security-policy',
      `script-src 'self' https://tags.adnetwork.example ${SITE_SCRIPT_HASH}; object-src 'none'`,
    ],
    // Hashes with 'strict-dynamic' and no nonce: no parser-inserted external script may load.
    'hash-strict-dynamic': ['content-security-policy', `script-src ${SITE_SCRIPT_HASH} 'strict-dynamic'`],
    'report-only': [
      'content-security-policy-report-only',
      `script-src 'nonce-${nonce}'; report-uri /csp-reports`,
    ],
  }
  const policy = policies[kind]
  if (!policy) return html(res, 404, page('Not found', '      <h1>Page not found</h1>'))
  html(res, 200, cspPage(kind, kind.startsWith('hash') ? null : nonce), {
    'cache-control': 'no-store',
    [policy[0]]: policy[1],
  })
}

// Tags from hosts no rule in rules/tags.yaml names (for `unlisted` in rules/tags.yaml): a widget
// and a map from unknown third parties, an image from the shop's own static CDN, a local script.
const EMBEDS = [
  '      <h1>Embeds</h1>',
  '      <script src="https://widgets.unknown.example/reviews.js"></script>',
  '      <script src="/static/app.js"></script>',
  '      <img src="https://img.shop-static.example/lamp.jpg" alt="Desk lamp">',
  '      <img src="https://pixel.unknown.example/p.gif" alt="">',
  '      <iframe src="https://maps.unknown.example/embed?q=store" title="Map"></iframe>',
].join('\n')

/** Per-path faults injected through `/__control/fault` (tests and demos of the fallback). */
const faults = new Map()
/** Held responses waiting for `/__control/release?id=`. */
const held = new Map()

function send(res, status, headers, body) {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  res.writeHead(status, { 'content-length': String(bytes.length), ...headers })
  res.end(bytes)
}

const html = (res, status, body, headers = {}) =>
  send(res, status, { 'content-type': 'text/html; charset=utf-8', ...headers }, body)
const json = (res, status, value, headers = {}) =>
  send(res, status, { 'content-type': 'application/json', ...headers }, JSON.stringify(value))

function parseCookies(header = '') {
  return Object.fromEntries(
    header
      .split(';')
      .map((p) => p.trim().split('='))
      .filter(([k]) => k),
  )
}

async function readBody(req) {
  const chunks = []
  for await (const chunk of req) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/** Deterministic bytes 0..255 repeating, so a round trip can be checked byte for byte. */
function patternBytes(n) {
  const out = Buffer.alloc(n)
  for (let i = 0; i < n; i++) out[i] = (i * 31 + 7) & 0xff
  return out
}

function home(req, res) {
  const host = (req.headers.host ?? '').split(':')[0]
  const jar = parseCookies(req.headers.cookie)
  const session = jar.session ?? createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 16)
  const body = [
    '      <h1>Demo store</h1>',
    slot('home_hero', '<h2>Welcome to the demo store</h2><p>Everyday things, made well.</p>'),
    `      <ul id="products">${PRODUCTS.map((p) => `<li><a href="/product/${p.slug}">${p.name}</a> €${p.price}</li>`).join('')}</ul>`,
    `      ${VIDEO}`,
  ].join('\n')
  html(res, 200, page('Home', body), {
    'cache-control': 'private, max-age=0',
    'set-cookie': [
      `session=${session}; Path=/; HttpOnly; SameSite=Lax`,
      `_ga=GA1.1.${Date.now()}; Path=/; Max-Age=63072000; Domain=${host}; SameSite=Lax`,
      `_fbp=fb.1.${Date.now()}; Path=/; Max-Age=7776000; Domain=${host}; SameSite=Lax`,
      `prefs=theme%3Dlight; Path=/; Max-Age=31536000; SameSite=Lax`,
    ],
  })
}

function product(req, res, slug) {
  const p = PRODUCTS.find((x) => x.slug === slug) ?? { slug, name: `Product ${slug}`, price: 10 }
  const body = [
    `      <h1>${p.name}</h1>`,
    `      <p class="price">€${p.price}</p>`,
    slot('product_banner', '<p>Free delivery on orders over €50.</p>'),
    `      <form method="post" action="/cart/add"><input type="hidden" name="slug" value="${p.slug}"><button>Add to cart</button></form>`,
  ].join('\n')
  html(res, 200, page(p.name, body), { 'cache-control': 'public, max-age=60' })
}

function cart(req, res) {
  const items = (parseCookies(req.headers.cookie).cart ?? '').split('.').filter(Boolean)
  const body = [
    '      <h1>Your cart</h1>',
    `      <p id="cart-count">${items.length} item${items.length === 1 ? '' : 's'}</p>`,
    `      <ul>${items.map((s) => `<li>${s}</li>`).join('')}</ul>`,
    slot('cart_upsell', '<p>Customers also bought: Stoneware mug.</p>'),
  ].join('\n')
  html(res, 200, page('Cart', body), { 'cache-control': 'private, no-store' })
}

async function addToCart(req, res) {
  const form = new URLSearchParams((await readBody(req)).toString())
  const slug = (form.get('slug') ?? '').replace(/[^a-z0-9-]/g, '')
  const items = (parseCookies(req.headers.cookie).cart ?? '').split('.').filter(Boolean)
  if (slug) items.push(slug)
  const host = req.headers.host ?? '127.0.0.1'
  // An absolute Location and a Domain cookie naming the origin's own host: the gateway rewrites both.
  res.writeHead(303, {
    location: `http://${host}/cart`,
    'set-cookie': `cart=${items.join('.')}; Path=/; Domain=${host.split(':')[0]}; SameSite=Lax`,
    'content-length': '0',
  })
  res.end()
}

/** RFC 6455 section 4.2.2: accept the handshake, then echo text frames (section 5.2 framing). */
function websocketEcho(req, socket) {
  const accept = createHash('sha1')
    .update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
    .digest('base64')
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
  )
  let buffer = Buffer.alloc(0)
  socket.on('data', (data) => {
    buffer = Buffer.concat([buffer, data])
    while (buffer.length >= 2) {
      const opcode = buffer[0] & 0x0f
      const masked = (buffer[1] & 0x80) !== 0
      let length = buffer[1] & 0x7f
      let offset = 2
      if (length === 126) [length, offset] = [buffer.readUInt16BE(2), 4]
      else if (length === 127) [length, offset] = [Number(buffer.readBigUInt64BE(2)), 10]
      const maskAt = offset
      if (masked) offset += 4
      if (buffer.length < offset + length) return
      const payload = Buffer.from(buffer.subarray(offset, offset + length))
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= buffer[maskAt + (i % 4)]
      buffer = buffer.subarray(offset + length)
      if (opcode === 0x8) return socket.end(Buffer.from([0x88, 0x00]))
      if (opcode !== 0x1) continue
      const reply = Buffer.from(`echo: ${payload.toString()}`)
      const header =
        reply.length < 126
          ? Buffer.from([0x81, reply.length])
          : Buffer.from([0x81, 126, reply.length >> 8, reply.length & 0xff])
      socket.write(Buffer.concat([header, reply]))
    }
  })
  socket.on('error', () => socket.destroy())
}

async function control(req, res, url) {
  if (url.pathname === '/__control/fault' && req.method === 'POST') {
    const { path, mode, ms } = JSON.parse((await readBody(req)).toString() || '{}')
    if (typeof path !== 'string') return json(res, 400, { error: 'path required' })
    if (mode === 'ok') faults.delete(path)
    else faults.set(path, { mode, ms: Number(ms) || 0 })
    return json(res, 200, { path, mode })
  }
  if (url.pathname === '/__control/release') {
    const release = held.get(url.searchParams.get('id'))
    held.delete(url.searchParams.get('id'))
    release?.()
    return json(res, 200, { released: Boolean(release) })
  }
  return json(res, 404, { error: 'unknown control' })
}

async function route(req, res) {
  const url = new URL(req.url ?? '/', 'http://storefront.invalid')
  const path = url.pathname

  const fault = faults.get(path)
  if (fault?.mode === 'down') return req.socket.destroy()
  if (fault?.mode === 'fail') return html(res, 503, '<h1>Service unavailable</h1>')
  if (fault?.mode === 'slow') await new Promise((r) => setTimeout(r, fault.ms))

  if (path.startsWith('/__control/')) return control(req, res, url)
  if (path === '/') return home(req, res)
  if (path.startsWith('/product/'))
    return product(req, res, decodeURIComponent(path.slice('/product/'.length)))
  if (path === '/cart' && req.method === 'GET') return cart(req, res)
  if (path === '/cart/add' && req.method === 'POST') return addToCart(req, res)
  if (path.startsWith('/csp/')) return cspRoute(res, path.slice('/csp/'.length))
  if (path === '/embeds') return html(res, 200, page('Embeds', EMBEDS), { 'cache-control': 'no-store' })
  if (path === '/klaro') return html(res, 200, klaroPage(), { 'cache-control': 'no-store' })
  if (path === '/static/klaro/config.js')
    return send(
      res,
      200,
      { 'content-type': 'text/javascript', 'cache-control': 'public, max-age=3600' },
      KLARO_CONFIG,
    )
  if (KLARO_FILES[path]) {
    const [file, type] = KLARO_FILES[path]
    const body = await readFile(new URL(`../../node_modules/klaro/dist/${file}`, import.meta.url)).catch(
      () => null,
    )
    if (!body) return html(res, 404, page('Not found', '      <h1>klaro is not installed</h1>'))
    return send(res, 200, { 'content-type': type, 'cache-control': 'public, max-age=3600' }, body)
  }
  if (path === '/static/cmp/config.js')
    return send(
      res,
      200,
      { 'content-type': 'text/javascript', 'cache-control': 'public, max-age=3600' },
      CMP_CONFIG,
    )
  if (CMP_FILES[path]) {
    const [file, type] = CMP_FILES[path]
    const body = await readFile(
      new URL(`../../node_modules/vanilla-cookieconsent/dist/${file}`, import.meta.url),
    ).catch(() => null)
    if (!body)
      return html(res, 404, page('Not found', '      <h1>vanilla-cookieconsent is not installed</h1>'))
    return send(res, 200, { 'content-type': type, 'cache-control': 'public, max-age=3600' }, body)
  }
  if (path === '/static/store.css')
    return send(res, 200, { 'content-type': 'text/css', 'cache-control': 'public, max-age=3600' }, CSS)
  if (path === '/api/products')
    return json(res, 200, { products: PRODUCTS }, { 'cache-control': 'public, max-age=30' })
  if (path === '/catalog') {
    const n = Math.min(Number(url.searchParams.get('n')) || 1000, 20_000)
    const rows = Array.from(
      { length: n },
      (_, i) =>
        `<li><a href="/product/item-${i}">Item ${i}</a> <span class="price">€${(i % 90) + 10}</span></li>`,
    )
    return html(
      res,
      200,
      page(
        'Catalog',
        `      <h1>Catalog</h1>\n${slot('catalog_banner', '<p>All items</p>')}\n      <ul>${rows.join('\n')}</ul>`,
      ),
      { 'cache-control': 'public, max-age=60' },
    )
  }
  if (path === '/slow') {
    await new Promise((r) => setTimeout(r, Math.min(Number(url.searchParams.get('ms')) || 1000, 60_000)))
    return html(res, 200, page('Slow', '      <h1>Slow page</h1>'))
  }
  if (path === '/fail') {
    // What a broken origin leaks: the gateway must never show this to visitors.
    return html(
      res,
      500,
      '<pre>Error: database connection refused\n    at query (/srv/app/db.js:42:11)</pre>',
    )
  }
  if (path === '/redirect') {
    const to = url.searchParams.get('to') ?? '/'
    res.writeHead(302, {
      location: `http://${req.headers.host}${to.startsWith('/') ? to : '/'}`,
      'content-length': '0',
    })
    return res.end()
  }
  if (path === '/echo' || path.startsWith('/echo/')) {
    const body = await readBody(req)
    return json(res, 200, {
      method: req.method,
      url: req.url,
      headers: req.headers,
      bodyLength: body.length,
      bodySha256: createHash('sha256').update(body).digest('hex'),
    })
  }
  if (path === '/echo-bytes') {
    const body = await readBody(req)
    return send(res, 200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' }, body)
  }
  if (path === '/bytes') {
    const n = Math.min(Number(url.searchParams.get('n')) || 1024, 64 * 1024 * 1024)
    return send(
      res,
      200,
      { 'content-type': url.searchParams.get('type') ?? 'application/octet-stream' },
      patternBytes(n),
    )
  }
  if (path === '/big') {
    // Generated chunk by chunk with backpressure: nothing here holds the whole body.
    const total = Math.min(Number(url.searchParams.get('mb')) || 1, 1024) * 1024 * 1024
    const chunk = patternBytes(64 * 1024)
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) })
    let sent = 0
    const pump = () => {
      while (sent < total) {
        const part = total - sent >= chunk.length ? chunk : chunk.subarray(0, total - sent)
        sent += part.length
        if (!res.write(part)) return void res.once('drain', pump)
      }
      res.end()
    }
    return pump()
  }
  if (path === '/hold') {
    // First chunk now, the rest only after /__control/release?id=: proves the gateway streams.
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
    res.write('first chunk\n')
    const id = url.searchParams.get('id') ?? ''
    held.set(id, () => res.end('rest of the body\n'))
    return
  }
  if (path === '/first-chunk' && req.method === 'POST') {
    // Answers as soon as the first request chunk arrives, before the client has sent the rest.
    req.once('data', (chunk) => {
      json(res, 200, { firstChunk: chunk.toString() })
      req.resume()
    })
    return
  }
  html(res, 404, page('Not found', '      <h1>Page not found</h1>'))
}

/**
 * Starts the storefront. Resolves with the listening `http.Server` (port 0 picks a free port).
 * @example const server = await startStorefront({ port: 0 }); server.address().port
 */
export function startStorefront({ port = 8788, host = '127.0.0.1' } = {}) {
  const server = createServer((req, res) => {
    route(req, res).catch((err) => {
      if (!res.headersSent) json(res, 500, { error: String(err?.message ?? err) })
      else res.destroy()
    })
  })
  server.on('upgrade', (req, socket) => {
    if (req.url?.startsWith('/ws') && req.headers.upgrade?.toLowerCase() === 'websocket')
      websocketEcho(req, socket)
    else socket.destroy()
  })
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await startStorefront({
    port: Number(process.env.PORT ?? 8788),
    host: process.env.HOST ?? '127.0.0.1',
  })
  console.log(`storefront on http://127.0.0.1:${server.address().port}`)
  const stop = () => server.close(() => process.exit(0))
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}
