/**
 * The benchmark's middle reference: Gatehouse's proxy core alone (context, log, admission,
 * response and origin stages, no consent/identity/touchpoint/decide), to separate the cost of the reverse
 * proxy itself from the cost of the features that run on it.
 */
import { Hono } from 'hono'
import { context } from '../../worker/context'
import type { AppEnv } from '../../worker/env'
import { accessLog } from '../../worker/log'
import { admission } from '../../worker/proxy/admission-stage'
import { origin } from '../../worker/proxy/origin'
import { response } from '../../worker/proxy/response'
import { bundledRules as rules } from '../../worker/rules'

const app = new Hono<AppEnv>()
app.use('*', context())
app.use('*', accessLog({ rules }))
app.use('*', admission({ rules }))
app.use('*', response({ rules }))
app.all('*', origin({ rules }))

export default { fetch: app.fetch }
