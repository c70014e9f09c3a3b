// The demo storefront origin (minimal first version; issue 2 completes it).
import { createServer } from 'node:http'

export function startStorefront({ port = 8788, host = '127.0.0.1' } = {}) {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(
      '<!doctype html><html><head><title>Demo store</title></head><body><h1>Demo store</h1></body></html>',
    )
  })
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await startStorefront({ port: Number(process.env.PORT ?? 8788) })
  console.log(`storefront on http://127.0.0.1:${server.address().port}`)
}
