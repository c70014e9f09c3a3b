/** WebSocket upgrades pass through the gateway to the origin and messages flow both ways. */
import { describe, expect, it } from 'vitest'
import { gate } from './support'

describe('WebSocket passthrough', () => {
  it('upgrades through the gateway and echoes messages from the origin', async () => {
    const res = await gate('/ws', { headers: { upgrade: 'websocket', connection: 'Upgrade' } })
    expect(res.status).toBe(101)
    const socket = res.webSocket!
    expect(socket).toBeTruthy()
    socket.accept()
    const replies: string[] = []
    const done = new Promise<void>((resolve) => {
      socket.addEventListener('message', (event) => {
        replies.push(String(event.data))
        if (replies.length === 2) resolve()
      })
    })
    socket.send('hello')
    socket.send('second message')
    await done
    expect(replies).toEqual(['echo: hello', 'echo: second message'])
    socket.close(1000, 'done')
  })
})
