/**
 * The browser script the gateway serves at `GET /v1/beacon.js` and injects into proxied pages when
 * measurement consent allows. No dependencies, under 2 KB: it reports dwell time, scroll depth,
 * form abandonment and custom events (`window.gatehouse.track('add_to_cart', { sku })`) to
 * `/v1/events` on the same origin with `navigator.sendBeacon` (first-party only: relative URL,
 * no third-party host, no cookies of its own). Custom events are sent at once (a cart abandonment
 * timer starts from them); dwell, scroll and form abandonment when the page is hidden or left. Only the path is sent, never the query string
 * (it may carry identifiers). Pure: the source is a string; its version is a content hash.
 */

const SOURCE = `(function(w,d){
if(w.gatehouse&&w.gatehouse.v)return;
var E='/v1/events',q=[],shown=Date.now(),visible=d.visibilityState!=='hidden',dwell=0,depth=0,tz=null,touched=[];
try{tz=Intl.DateTimeFormat().resolvedOptions().timeZone}catch(e){}
function uid(){if(w.crypto&&crypto.randomUUID)return crypto.randomUUID();return 'b'+Date.now().toString(36)+Math.random().toString(36).slice(2,12)}
function path(){return location.pathname.slice(0,512)}
function push(t,p){q.push({id:uid(),type:t,ts:new Date().toISOString(),props:p||{}});if(q.length>=20)flush()}
function flush(){while(q.length){var b=JSON.stringify({events:q.splice(0,50)});
if(!(navigator.sendBeacon&&navigator.sendBeacon(E,new Blob([b],{type:'text/plain'}))))
try{fetch(E,{method:'POST',body:b,keepalive:true,credentials:'same-origin',headers:{'content-type':'application/json'}})['catch'](function(){})}catch(e){}}}
function scroll(){var h=d.documentElement,s=Math.max(h.scrollHeight,1),v=(w.scrollY+w.innerHeight)/s*100;if(v>depth)depth=Math.min(100,Math.round(v))}
function leave(){if(visible){dwell+=Date.now()-shown;visible=false}
if(dwell>0){var p={dwellMs:dwell,path:path()};if(tz)p.timeZone=tz;push('dwell',p);dwell=0}
if(depth>0){push('scroll',{depth:depth,path:path()});depth=0}
for(var i=0;i<touched.length;i++)push('form_abandon',{form:touched[i],path:path()});touched=[];flush()}
function formName(f){return (f&&(f.id||f.getAttribute('name')||f.getAttribute('action')))||'form'}
d.addEventListener('input',function(e){var f=e.target&&e.target.form;if(f){var n=formName(f).slice(0,64);if(touched.indexOf(n)<0)touched.push(n)}},true);
d.addEventListener('submit',function(e){var n=formName(e.target).slice(0,64),i=touched.indexOf(n);if(i>=0)touched.splice(i,1)},true);
w.addEventListener('scroll',scroll,{passive:true});
d.addEventListener('visibilitychange',function(){if(d.visibilityState==='hidden')leave();else{visible=true;shown=Date.now()}});
w.addEventListener('pagehide',leave);
w.gatehouse={v:'__VERSION__',track:function(t,p){if(typeof t==='string'){push(t,p&&typeof p==='object'?p:{});flush()}},flush:flush};
scroll()})(window,document);
`

/** FNV-1a 32-bit, hex: a stable content version for cache busting (not a security hash). */
function fnv1a(text: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h.toString(16).padStart(8, '0')
}

export const BEACON_VERSION = fnv1a(SOURCE)
export const BEACON_SOURCE = SOURCE.replace('__VERSION__', BEACON_VERSION)
export const BEACON_PATH = `/v1/beacon.js?v=${BEACON_VERSION}`
