/**
 * Bodies stream through the gateway in both directions: nothing waits for a whole body, so a
 * 100 MB download starts at once and an upload reaches the origin while it is still being sent.
 */
import { describe, expect, it } from 'vitest'
import { gate, originFetch } from './support'

/** Resolves with `promise`, or rejects with `message` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

describe('streaming', () => {
  it('delivers the first chunk of a response while the origin still holds back the rest', async () => {
    const id = crypto.randomUUID()
    const res = await within(gate(`/hold?id=${id}`), 5_000, 'the gateway waited for the whole body')
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    const first = await within(
      reader.read(),
      5_000,
      'first chunk not delivered while the origin held the rest',
    )
    expect(decoder.decode(first.value)).toBe('first chunk\n')

    // Only now may the origin finish; the rest must follow.
    const release = await originFetch(`/__control/release?id=${id}`)
    expect(await release.json()).toEqual({ released: true })
    let rest = ''
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      rest += decoder.decode(value, { stream: true })
    }
    expect(rest).toBe('rest of the body\n')
  })

  it('streams a 100 MB response to the end with every byte intact', async () => {
    const res = await gate('/big?mb=100')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBe(String(100 * 1024 * 1024))
    const reader = res.body!.getReader()
    let total = 0
    let largestChunk = 0
    let mismatches = 0
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      // The origin repeats a 64 KiB pattern: byte i is (i * 31 + 7) & 0xff within each block.
      for (let i = 0; i < value.length; i += 4099) {
        const offset = (total + i) % (64 * 1024)
        if (value[i] !== ((offset * 31 + 7) & 0xff)) mismatches++
      }
      total += value.length
      largestChunk = Math.max(largestChunk, value.length)
    }
    expect(total).toBe(100 * 1024 * 1024)
    expect(mismatches).toBe(0)
    // Arrived in pieces, not as one buffered blob.
    expect(largestChunk).toBeLessThan(8 * 1024 * 1024)
  })

  it('forwards an upload to the origin before the client has finished sending it', async () => {
    const encoder = new TextEncoder()
    let sendRest: () => void = () => {}
    const restAllowed = new Promise<void>((resolve) => (sendRest = resolve))
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode('part one;'))
        // The second part only follows after the origin has answered: a buffering proxy deadlocks here.
        await restAllowed
        controller.enqueue(encoder.encode('part two'))
        controller.close()
      },
    })
    const pending = gate('/first-chunk', { method: 'POST', body, headers: { 'content-type': 'text/plain' } })
    const res = await within(pending, 5_000, 'the origin only saw the upload after it was complete')
    sendRest()
    expect(await res.json()).toEqual({ firstChunk: 'part one;' })
  })
})
