/**
 * The consent bridge script the gateway serves at `GET /v1/consent-bridge.js`, for CMPs that keep
 * the visitor's choice only in the browser (docs/consent.md "Consent bridge"). It listens to the
 * CMP's standard JavaScript API and copies the CMP's own consent string into one first-party
 * cookie, `gh_cmp`, which the gateway reads on the next request (./cookie.ts):
 *
 * - IAB TCF: `__tcfapi('addEventListener', 2, cb)`; on `eventStatus` `tcloaded` or
 *   `useractioncomplete` with `gdprApplies` not false, the `tcString` (IAB TCF v2.2 "Consent
 *   Management Platform API", `addEventListener` and the `TCData` object).
 * - IAB GPP (when there is no `__tcfapi`): `__gpp('addEventListener', cb)`; when
 *   `pingData.signalStatus` is `ready`, `pingData.gppString` and `pingData.applicableSections`
 *   (IAB GPP "CMP API Specification" v1.1, `addEventListener`, the `EventData` and `PingData`
 *   objects).
 *
 * The cookie carries the CMP's string unchanged, so it can say no more than the CMP does: the
 * gateway decodes it with the same decoders and validity policy as any TC or GPP string. No
 * dependencies, no inline code or eval (a `script-src 'self'` policy allows it), no requests.
 * Pure: the source is a string; its version is a content hash.
 */
import { fnv1a64 } from '../snapshot'

const SOURCE = `(function(w,d){
if(w.__ghConsentBridge)return;w.__ghConsentBridge='__VERSION__';
var N='gh_cmp',MAX=3800,OK=/^[A-Za-z0-9_.~-]+$/;
function put(v){if(v.length>MAX)return;
d.cookie=N+'='+v+';path=/;max-age=34128000;samesite=lax'+(location.protocol==='https:'?';secure':'')}
function tcf(){if(typeof w.__tcfapi!=='function')return false;
w.__tcfapi('addEventListener',2,function(t,ok){
if(!ok||!t||t.gdprApplies===false)return;
if(t.eventStatus!=='tcloaded'&&t.eventStatus!=='useractioncomplete')return;
if(typeof t.tcString==='string'&&OK.test(t.tcString))put('1~t~'+t.tcString)});return true}
function gpp(){if(typeof w.__gpp!=='function')return false;
w.__gpp('addEventListener',function(e,ok){
var p=ok&&e&&e.pingData;if(!p||p.signalStatus!=='ready'||typeof p.gppString!=='string'||!OK.test(p.gppString))return;
var s=[],a=p.applicableSections||[];for(var i=0;i<a.length&&i<64;i++)if(a[i]===(a[i]|0)&&a[i]>=0&&a[i]<4096)s.push(a[i]);
put('1~g~'+(s.length?s.join('_'):'-')+'~'+p.gppString)});return true}
function hook(){return tcf()||gpp()}
if(!hook()){var n=0,t=setInterval(function(){if(hook()||++n>40)clearInterval(t)},250)}
})(window,document);
`

/** A stable content version for cache busting (not a security hash). */
export const BRIDGE_VERSION = fnv1a64(SOURCE).slice(0, 8)
export const BRIDGE_SOURCE = SOURCE.replace('__VERSION__', BRIDGE_VERSION)
export const BRIDGE_PATH = `/v1/consent-bridge.js?v=${BRIDGE_VERSION}`
