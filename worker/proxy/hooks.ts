/**
 * Response hooks: how earlier stages (consent, identity, touchpoint, decide) shape the origin
 * request and the proxied response without knowing about the proxy. Stages push onto these
 * lists; the `origin` and `response` stages apply them in order.
 */
import type { SetCookie } from '../lib/cookies'

export interface HtmlHook {
  selector: string
  handler: HTMLRewriterElementContentHandlers
}

export interface ResponseHooks {
  /** Changes to the request headers sent to the origin (e.g. consent header, cookie filtering). */
  originHeaders: Array<(headers: Headers) => void>
  /** Changes to the URL sent to the origin (e.g. click ids removed). */
  originUrl: Array<(url: URL) => void>
  /** HTMLRewriter element handlers for proxied HTML (slots, tag blocking, injected scripts). */
  html: HtmlHook[]
  /** HTMLRewriter document handlers for proxied HTML. */
  htmlDocument: HTMLRewriterDocumentContentHandlers[]
  /** Filters over the origin's `Set-Cookie` lines: a filter returning false drops the cookie. */
  setCookie: Array<(cookie: SetCookie) => boolean>
  /** `Set-Cookie` lines the gateway itself adds (already signed where they carry data). */
  cookies: string[]
  /** Headers added to the response the client receives. */
  responseHeaders: Array<[string, string]>
  /** true when the response depends on who the visitor is: `Cache-Control: private`, never cached shared. */
  personalised: boolean
  /**
   * The text of each inline `<script>` the html hooks inject, and the `src` of each external one
   * (same origin), so the response stage can fit them to the origin's Content-Security-Policy
   * (worker/proxy/csp.ts).
   */
  inlineScripts: string[]
  externalScripts: string[]
  /**
   * Set by the response stage after reading the origin's headers, before HTMLRewriter runs: the
   * nonce injected `<script>` elements carry (null: none), and the external scripts the origin's
   * enforced CSP blocks, which their hooks then leave out.
   */
  scriptNonce: string | null
  blockedScripts: string[]
  /**
   * The Content-Security-Policy values of the page's `<meta http-equiv>` elements, collected by
   * the response stage as HTMLRewriter passes them (only while external scripts are injected).
   * They govern only what follows them: a hook appending a script at the end of `<head>` checks
   * them there (`fitAfterMeta` in worker/proxy/csp.ts).
   */
  metaPolicies: string[]
}

export function emptyHooks(): ResponseHooks {
  return {
    originHeaders: [],
    originUrl: [],
    html: [],
    htmlDocument: [],
    setCookie: [],
    cookies: [],
    responseHeaders: [],
    personalised: false,
    inlineScripts: [],
    externalScripts: [],
    scriptNonce: null,
    blockedScripts: [],
    metaPolicies: [],
  }
}

/**
 * The hooks with one entry per selector: element handlers registered for the same selector run
 * as one, in registration order (an async handler finishes before the next starts). HTMLRewriter
 * parses each `.on()` selector anew on every response, and several stages watch `head` and
 * `script`. Hooks with text or comment handlers are left as they are.
 */
export function mergeBySelector(hooks: readonly HtmlHook[]): HtmlHook[] {
  const out: HtmlHook[] = []
  const chains = new Map<string, Array<NonNullable<HTMLRewriterElementContentHandlers['element']>>>()
  for (const h of hooks) {
    const { element, ...rest } = h.handler
    if (!element || Object.keys(rest).length > 0) {
      out.push(h)
      continue
    }
    const chain = chains.get(h.selector)
    if (chain) {
      chain.push(element)
      continue
    }
    const own = [element]
    chains.set(h.selector, own)
    out.push({ selector: h.selector, handler: { element: (el) => runInOrder(own, el, 0) } })
  }
  return out
}

function runInOrder(
  handlers: ReadonlyArray<NonNullable<HTMLRewriterElementContentHandlers['element']>>,
  el: Element,
  from: number,
): void | Promise<void> {
  for (let i = from; i < handlers.length; i++) {
    const pending = handlers[i]!(el)
    if (pending) return pending.then(() => runInOrder(handlers, el, i + 1))
  }
}
