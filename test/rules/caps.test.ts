/**
 * rules/caps.yaml as a marketer writes it: a cap counts messages (triggered sends) or impressions
 * (placements shown), a channel list caps several channels together, triggers carry tags, and a
 * cap that can never count anything is reported instead of shipping silently.
 */
import { describe, expect, it } from 'vitest'
import { compileRules, formatRuleError } from '../../worker/rules/compile'

const TRIGGERS = `triggers:
  - { id: cart, campaign: cart_recovery, tags: [marketing], on: add_to_cart, channels: [email, sms] }
  - { id: receipt, campaign: receipts, tags: [transactional], on: purchase, channels: [email] }
delivery:
  webhooks:
    email: { env: EMAIL_WEBHOOK_URL }
    sms: { env: SMS_WEBHOOK_URL }
`

function compile(caps: string) {
  return compileRules({ 'caps.yaml': caps, 'triggers.yaml': TRIGGERS })
}

function messages(caps: string): string[] {
  const r = compile(caps)
  return [...(r.ok ? [] : r.errors), ...(r.warnings ?? [])].map((e) => formatRuleError(e))
}

describe('caps count messages or impressions', () => {
  it('compiles "at most 3 marketing messages a calendar day across email, SMS and push"', () => {
    const r = compile(`caps:
  - id: marketing_per_day
    channel: [email, sms, push]
    tag: marketing
    limit: 3
    window: { calendar: day }
`)
    expect(r.ok && r.warnings).toEqual([])
    expect(r.ok && r.ruleset.caps.caps[0]).toMatchObject({
      counts: 'messages',
      channel: ['email', 'sms', 'push'],
      tag: 'marketing',
    })
  })

  it('infers impressions from web/app channels and from a placement', () => {
    const r = compileRules({
      'caps.yaml': `caps:
  - { id: app_views, channel: app, limit: 9, window: { rollingHours: 1 } }
`,
    })
    expect(r.ok && r.ruleset.caps.caps[0]).toMatchObject({ counts: 'impressions', channel: ['app'] })
  })

  it.each([
    [
      'a cap that says neither counts nor channel',
      `caps:\n  - { id: per_campaign, campaign: "*", limit: 2, window: { rollingHours: 24 } }\n`,
      'rules/caps.yaml:2:5: say what this cap counts: counts: messages (triggered sends on email, push, sms) or counts: impressions (placements shown on web, app) at caps.0.counts',
    ],
    [
      'a channel list mixing messages and impressions',
      `caps:\n  - { id: all, channel: [email, web], limit: 2, window: { rollingHours: 24 } }\n`,
      'rules/caps.yaml:2:5: channels email, web mix messages (email, push, sms) and impressions (web, app): write one cap for each at caps.0.counts',
    ],
    [
      'counts that contradict the channels',
      `caps:\n  - { id: c, counts: impressions, channel: email, limit: 2, window: { rollingHours: 24 } }\n`,
      'rules/caps.yaml:2:22: counts: impressions never goes out on email; impressions use web, app at caps.0.counts',
    ],
    [
      'a message cap on a placement',
      `caps:\n  - { id: c, counts: messages, placement: home_hero, limit: 2, window: { rollingHours: 24 } }\n`,
      'rules/caps.yaml:2:22: a placement cap counts impressions, not messages: remove `placement` or write counts: impressions at caps.0.counts',
    ],
  ])('rejects %s', (_name, caps, message) => {
    expect(messages(caps)).toEqual([message])
  })

  it.each([
    [
      'a tag no trigger carries',
      `caps:\n  - { id: promo_mail, counts: messages, tag: marketting, limit: 2, window: { rollingHours: 24 } }\n`,
      'rules/caps.yaml:2:46: cap "promo_mail" counts messages tagged "marketting", but no trigger carries that tag, so it counts nothing; tags in use are marketing, transactional at caps.0.tag (did you mean "marketing"?)',
    ],
    [
      'a campaign no variant carries',
      `caps:\n  - { id: c, counts: impressions, campaign: cart_recovery, limit: 2, window: { rollingHours: 24 } }\n`,
      'rules/caps.yaml:2:45: cap "c" counts impressions of campaign "cart_recovery", but no capped variant (one with a campaign or tags) has that campaign, so it counts nothing at caps.0.campaign',
    ],
    [
      'a placement with no capped variant',
      `caps:\n  - { id: hero, placement: home_hero, limit: 20, window: { calendar: day } }\n`,
      'rules/caps.yaml:2:28: cap "hero" counts placement "home_hero", but it has no capped variant (one with a campaign or tags), so it counts nothing: give the variants to cap a campaign or tags at caps.0.placement',
    ],
  ])('warns about %s and still compiles', (_name, caps, message) => {
    expect(compile(caps).ok).toBe(true)
    expect(messages(caps)).toEqual([message])
  })

  it('rejects a trigger tag that is not a lower-case name', () => {
    const r = compileRules({
      'triggers.yaml': TRIGGERS.replace('tags: [marketing]', 'tags: [Marketing]'),
    })
    expect(r.ok ? [] : r.errors.map((e) => formatRuleError(e))).toEqual([
      'rules/triggers.yaml:2:49: expected a lower-case tag name such as marketing, got "Marketing" at triggers.0.tags.0',
    ])
  })
})
