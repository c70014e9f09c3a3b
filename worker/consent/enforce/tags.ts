/**
 * Third-party tag enforcement: which purpose a script, iframe or img needs (rules/tags.yaml: the
 * tag's own `data-category`, else src patterns, else `unlisted` for a host that is not the site's
 * own), and the HTMLRewriter handlers that neutralise tags the visitor has not consented to, in a
 * form a CMP can restore:
 *
 *   <script src=x>  -> <script src=x type="text/plain" data-gatehouse-blocked="advertising">
 *                      (an original `type` is kept in `data-gatehouse-type`)
 *   <iframe src=x>  -> <iframe data-gatehouse-src=x data-gatehouse-blocked="advertising">
 *   <img src=x>     -> <img data-gatehouse-src=x data-gatehouse-blocked="measurement"> (+ srcset)
 *
 * The classification is pure; the handlers use only the HTMLRewriter element API.
 */
import type { TagPurpose, TagsRules } from '../../rules/concerns/tags'
import type { HtmlHook } from '../../proxy/hooks'
import type { Consent } from '../types'
import { escape, perRules } from './glob'

export type TagElement = 'script' | 'iframe' | 'img'
export type TagNeed = TagPurpose | 'essential'

interface CompiledRule {
  id: string
  purpose: TagPurpose
  elements: ReadonlySet<TagElement>
  hostOnly: RegExp | null
  withPath: RegExp | null
}

// A leading `*.` also matches the bare domain; any other `*` matches any characters. Hosts compare
// case-insensitively (URL parsing already lower-cases them), paths case-sensitively.
function srcRegExp(patterns: string[]): RegExp | null {
  if (patterns.length === 0) return null
  const alts = patterns.map((p) => {
    const wildSub = p.startsWith('*.')
    const rest = wildSub ? p.slice(2) : p
    const body = rest.split('*').map(escape).join('.*')
    return (wildSub ? '(?:[^/]*\\.)?' : '') + body
  })
  return new RegExp(`^(?:${alts.join('|')})$`)
}

interface Compiled {
  rules: CompiledRule[]
  /** What an unlisted third-party tag needs; null when such tags run (`allow`). */
  unlisted: TagNeed | null
  unlistedElements: ReadonlySet<TagElement>
  firstParty: RegExp | null
}

const compile = perRules((rules: TagsRules): Compiled => ({
  rules: rules.rules.map((r) => ({
    id: r.id,
    purpose: r.purpose,
    elements: new Set(r.elements),
    hostOnly: srcRegExp(r.src.filter((s) => !s.includes('/')).map((s) => s.toLowerCase())),
    withPath: srcRegExp(r.src.filter((s) => s.includes('/'))),
  })),
  unlisted: rules.unlisted.thirdParty === 'allow' ? null : rules.unlisted.thirdParty,
  unlistedElements: new Set(rules.unlisted.elements),
  firstParty: srcRegExp(rules.unlisted.firstParty.map((h) => h.toLowerCase())),
}))

/**
 * The purpose a tag needs, or null when it runs regardless. `data-category` wins over src rules;
 * an unlisted category value is treated as advertising. A tag neither covers, loaded over HTTP(S)
 * from a host that is not the page's (ports aside) nor listed in `unlisted.firstParty`, needs
 * `unlisted.thirdParty` (null for `allow`, the default). Tags without a src are the page's own.
 *
 * @example tagNeed('script', 'https://connect.facebook.net/en_US/fbevents.js', null, page, rules.tags) // 'advertising'
 */
export function tagNeed(
  element: TagElement,
  src: string | null,
  dataCategory: string | null,
  page: URL,
  rules: TagsRules,
): TagNeed | null {
  if (dataCategory !== null && dataCategory.trim() !== '') {
    return rules.dataCategories[dataCategory.trim().toLowerCase()] ?? 'advertising'
  }
  if (!src) return null
  let url: URL
  try {
    url = new URL(src.trim(), page)
  } catch {
    return null
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null
  const c = compile(rules)
  const hostPath = url.host + url.pathname
  for (const r of c.rules) {
    if (!r.elements.has(element)) continue
    if (r.hostOnly?.test(url.hostname) || r.hostOnly?.test(url.host) || r.withPath?.test(hostPath))
      return r.purpose
  }
  if (c.unlisted === null || !c.unlistedElements.has(element)) return null
  if (url.hostname === page.hostname || c.firstParty?.test(url.hostname)) return null
  return c.unlisted
}

// Script types a browser executes (HTML "script" element, "the type attribute"): absent or empty,
// a JavaScript MIME type, or "module". Anything else (application/ld+json, text/plain) never runs.
const JS_TYPES = new Set([
  '',
  'module',
  'text/javascript',
  'application/javascript',
  'application/ecmascript',
  'application/x-javascript',
  'application/x-ecmascript',
  'text/ecmascript',
  'text/jscript',
  'text/livescript',
  'text/x-javascript',
  'text/x-ecmascript',
  'text/javascript1.0',
  'text/javascript1.1',
  'text/javascript1.2',
  'text/javascript1.3',
  'text/javascript1.4',
  'text/javascript1.5',
])

export function isExecutableScriptType(type: string | null): boolean {
  return type === null || JS_TYPES.has(type.trim().toLowerCase())
}

/**
 * HTMLRewriter handlers blocking the tags this consent does not allow; none when every tag
 * purpose is allowed.
 */
export function tagHooks(consent: Pick<Consent, 'purposes'>, rules: TagsRules, page: URL): HtmlHook[] {
  const blocked = (need: TagNeed | null): need is TagPurpose =>
    need !== null && need !== 'essential' && !consent.purposes[need]
  if (!(['measurement', 'personalization', 'advertising'] as const).some((p) => !consent.purposes[p]))
    return []
  return [
    {
      selector: 'script',
      handler: {
        element(el) {
          const type = el.getAttribute('type')
          if (!isExecutableScriptType(type)) return
          const need = tagNeed(
            'script',
            el.getAttribute('src'),
            el.getAttribute('data-category'),
            page,
            rules,
          )
          if (!blocked(need)) return
          if (type !== null) el.setAttribute('data-gatehouse-type', type)
          el.setAttribute('type', 'text/plain')
          el.setAttribute('data-gatehouse-blocked', need)
        },
      },
    },
    ...(['iframe', 'img'] as const).map((tag): HtmlHook => ({
      selector: tag,
      handler: {
        element(el) {
          const src = el.getAttribute('src')
          const need = tagNeed(tag, src, el.getAttribute('data-category'), page, rules)
          if (!blocked(need)) return
          if (src !== null) {
            el.setAttribute('data-gatehouse-src', src)
            el.removeAttribute('src')
          }
          const srcset = el.getAttribute('srcset')
          if (srcset !== null) {
            el.setAttribute('data-gatehouse-srcset', srcset)
            el.removeAttribute('srcset')
          }
          el.setAttribute('data-gatehouse-blocked', need)
        },
      },
    })),
  ]
}
