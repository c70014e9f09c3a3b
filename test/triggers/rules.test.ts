/**
 * The caps and triggers rule files compile with precise errors: unknown caps in overrides, a
 * channel without a webhook, duplicate ids, an unknown time zone.
 */
import { describe, expect, it } from 'vitest'
import { compileRules } from '../../worker/rules/compile'

const triggers = `
triggers:
  - { id: cart_abandoned, campaign: cart_recovery, on: add_to_cart, delayMinutes: 30, channels: [push, sms] }
  - { id: cart_abandoned, campaign: other, on: purchase }
delivery:
  webhooks: { push: { env: PUSH_WEBHOOK_URL }, email: { url: "https://hooks.example.com/email" } }
`
const caps = `
defaultTimeZone: Europe/Vienn
caps:
  - { id: email_week, channel: email, limit: 3, window: { calendar: week } }
campaignOverrides:
  cart_recovery: { email_wek: 4 }
`

describe('caps and triggers rules', () => {
  it('reports each cross-file mistake with file, line and path', () => {
    const r = compileRules({ 'triggers.yaml': triggers, 'caps.yaml': caps })
    expect(r.ok).toBe(false)
    if (r.ok) return
    const found = r.errors.map((e) => `${e.file}:${e.line} ${e.path}: ${e.message}`)
    expect(found).toEqual(
      expect.arrayContaining([
        'caps.yaml:6 campaignOverrides.cart_recovery.email_wek: unknown cap "email_wek"; caps are email_week',
        'caps.yaml:2 defaultTimeZone: unknown IANA time zone "Europe/Vienn": use a name such as "Europe/Berlin", "America/New_York" or "UTC"',
        'triggers.yaml:4 triggers.1.id: duplicate trigger id "cart_abandoned" (first used at line 3): fire ids start with the trigger id, so each trigger needs its own',
        'triggers.yaml:3 triggers.0.channels.1: channel "sms" has no webhook in delivery.webhooks: its fires could not be delivered',
      ]),
    )
  })

  it.each([
    [
      'a window that is neither rolling nor calendar',
      'caps:\n  - { id: x, limit: 1, window: { hours: 3 } }\n',
    ],
    ['an unknown channel', 'caps:\n  - { id: x, channel: fax, limit: 1, window: { rollingHours: 1 } }\n'],
    ['quiet hours that are not HH:MM', 'quietHours: { start: "9pm", end: "08:00" }\n'],
  ])('refuses %s', (_name, yaml) => {
    expect(compileRules({ 'caps.yaml': yaml }).ok).toBe(false)
  })

  it('compiles with both files left out (all defaults)', () => {
    const r = compileRules({})
    expect(r.ok).toBe(true)
  })
})
