/**
 * The pipeline with only its first N feature stages (N = STAGES, fixed at build time by esbuild's
 * `define`): 0 is the proxy core, then + consent, + identity, + touchpoint, + decide,
 * + page views. bench/proxy-stages.ts builds one bundle per N to show what each stage costs.
 *
 * Every bundle has the real Worker's queue consumers, so the decision records a page sends are
 * consumed (validated, written to D1) as in production; without them that work went uncounted
 * and `+ decide` looked about 100 µs cheaper than it is.
 */
import { Hono } from 'hono'
import { context } from '../../worker/context'
import type { AppEnv } from '../../worker/env'
import { accessLog } from '../../worker/log'
import { admission } from '../../worker/proxy/admission-stage'
import { origin } from '../../worker/proxy/origin'
import { response } from '../../worker/proxy/response'
import { consent } from '../../worker/consent'
import { identity } from '../../worker/identity'
import { touchpoint } from '../../worker/touchpoint'
import { decide } from '../../worker/decide'
import { pageViews } from '../../worker/events/pageviews'
import { bundledRules as rules } from '../../worker/rules'
import worker from '../../worker/index'
export { CustomerState } from '../../durable-objects/customer'
export { ExperimentState } from '../../durable-objects/experiment'
export { IdentityIndex } from '../../durable-objects/identity'
// Replaced by a number literal when bundled.
declare const STAGES: number
const app = new Hono<AppEnv>()
app.use('*', context())
app.use('*', accessLog({ rules }))
app.use('*', admission({ rules }))
if (STAGES >= 1) app.use('*', consent({ rules }))
if (STAGES >= 2) app.use('*', identity({ rules }))
if (STAGES >= 3) app.use('*', touchpoint({ rules }))
if (STAGES >= 4) app.use('*', decide({ rules }))
if (STAGES >= 5) app.use('*', pageViews())
app.use('*', response({ rules }))
app.all('*', origin({ rules }))
export default { fetch: app.fetch, queue: worker.queue }
