/**
 * `rules/profile.yaml`: which source wins when sources disagree on a profile attribute, and how
 * the session intent score is computed. See rules/README.md "## profile".
 */
import { z } from 'zod'

export const profileSchema = z
  .strictObject({
    precedence: z
      .array(z.string().regex(/^[a-z][a-z0-9_]{0,31}$/))
      .default(['crm', 'pos', 'call_centre', 'app', 'event'])
      .describe(
        'Sources from most to least trusted. A value from a more trusted source is never replaced by a less trusted one; the same source replaces its own older value. Unlisted sources rank last.',
      ),
    intent: z
      .strictObject({
        sessionMinutes: z
          .number()
          .int()
          .min(5)
          .max(24 * 60)
          .default(30)
          .describe('A session is the events since the last gap of this many minutes.'),
        dwellSecondsForFull: z
          .number()
          .positive()
          .default(300)
          .describe('Session dwell time that earns the full dwell share of the score.'),
        scrollDepthForFull: z
          .number()
          .min(1)
          .max(100)
          .default(75)
          .describe('Average scroll depth (percent) that earns the full scroll share of the score.'),
        weights: z
          .strictObject({
            dwell: z.number().min(0).max(1).default(0.3),
            scroll: z.number().min(0).max(1).default(0.2),
            events: z.number().min(0).max(1).default(0.5),
          })
          .prefault({})
          .describe('Shares of dwell, scroll and high-intent events in the score (summed, capped at 1).'),
        eventPoints: z
          .record(z.string(), z.number().min(0).max(1))
          .default({ add_to_cart: 0.6, checkout_start: 1, product_view: 0.15, search: 0.1 })
          .describe('Points per event type toward the events share (summed, capped at 1).'),
        highIntentAt: z
          .number()
          .min(0)
          .max(1)
          .default(0.6)
          .describe('Score from which a session counts as high intent (audiences, triggers).'),
      })
      .prefault({})
      .describe('Session intent score (0..1) from dwell, scroll depth and events.'),
  })
  .prefault({})

export type ProfileRules = z.output<typeof profileSchema>
