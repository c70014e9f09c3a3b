/** Filling page slots with decided content (HTMLRewriter element API). */
import type { Engine } from './engine'
import { pickLocale } from './locale'

/**
 * Replaces the slot's inner content: `html` is inserted as markup (authored in rules/ and
 * reviewed like code), `text` as escaped text; content with neither leaves the origin's own
 * markup in place. The variant and reason are exposed as attributes for debugging and analytics.
 */
export function fillSlot(
  el: Element,
  content: Record<string, unknown>,
  variant: string | null,
  reason: string,
): void {
  if (typeof content.html === 'string') el.setInnerContent(content.html, { html: true })
  else if (typeof content.text === 'string') el.setInnerContent(content.text, { html: false })
  if (variant) el.setAttribute('data-gatehouse-variant', variant)
  el.setAttribute('data-gatehouse-reason', reason)
}

/** The fallback variant's content for a placement, for slots on pages that are not mapped. */
export function fallbackContent(
  engine: Engine,
  placement: string,
  locale: string | null,
): { variant: string; content: Record<string, unknown> } | null {
  const p = engine.placements.get(placement)
  if (!p) return null
  const picked = pickLocale(locale ?? engine.defaultLocale, p.fallback.content, engine.localeFallbacks)
  return { variant: p.fallback.id, content: picked ? p.fallback.content[picked]! : {} }
}
