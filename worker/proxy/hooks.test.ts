/**
 * Hooks on the same selector run as one HTMLRewriter handler, in the order the stages registered
 * them, each after the previous one's promise when it returns one.
 */
import { describe, expect, it } from 'vitest'
import { mergeBySelector, type HtmlHook } from './hooks'

async function rewrite(html: string, hooks: HtmlHook[]): Promise<string> {
  let rewriter = new HTMLRewriter()
  for (const h of mergeBySelector(hooks)) rewriter = rewriter.on(h.selector, h.handler)
  return rewriter.transform(new Response(html, { headers: { 'content-type': 'text/html' } })).text()
}

describe('mergeBySelector', () => {
  it('registers each selector once and keeps the registration order, async handlers included', async () => {
    const hooks: HtmlHook[] = [
      { selector: 'head', handler: { element: (el) => void el.prepend('<i>1</i>', { html: true }) } },
      { selector: 'p', handler: { element: (el) => void el.setAttribute('data-a', '1') } },
      {
        selector: 'head',
        handler: {
          element: async (el) => {
            await new Promise((resolve) => setTimeout(resolve, 5))
            el.append('<i>2</i>', { html: true })
          },
        },
      },
      { selector: 'head', handler: { element: (el) => void el.append('<i>3</i>', { html: true }) } },
    ]
    expect(mergeBySelector(hooks).map((h) => h.selector)).toEqual(['head', 'p'])
    expect(await rewrite('<html><head><title>t</title></head><p>x</p></html>', hooks)).toBe(
      '<html><head><i>1</i><title>t</title><i>2</i><i>3</i></head><p data-a="1">x</p></html>',
    )
  })

  it('leaves hooks with text or comment handlers as they are', () => {
    const text: HtmlHook = { selector: 'p', handler: { element: () => undefined, text: () => undefined } }
    const plain: HtmlHook = { selector: 'p', handler: { element: () => undefined } }
    const merged = mergeBySelector([text, plain, plain])
    expect(merged).toHaveLength(2)
    expect(merged[0]).toBe(text)
  })
})
