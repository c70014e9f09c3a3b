/** Device class from the User-Agent, coarse on purpose (mobile / tablet / desktop / bot). Pure. */

const BOT = /bot|crawler|spider|crawling|slurp|headless|lighthouse|preview/i
const TABLET = /ipad|tablet|playbook|silk|(android(?!.*mobile))/i
const MOBILE = /mobi|iphone|ipod|android.*mobile|windows phone|blackberry|opera mini/i

export function deviceType(
  ua: string | null | undefined,
): 'mobile' | 'tablet' | 'desktop' | 'bot' | 'unknown' {
  if (!ua) return 'unknown'
  const s = ua.length > 512 ? ua.slice(0, 512) : ua
  if (BOT.test(s)) return 'bot'
  if (TABLET.test(s)) return 'tablet'
  if (MOBILE.test(s)) return 'mobile'
  return 'desktop'
}
