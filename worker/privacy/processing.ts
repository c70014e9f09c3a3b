/**
 * The record of processing activities (GDPR Art. 30(1)), generated from the compiled rules:
 * controller, purposes and legal bases, data subjects and categories, recipients (including the
 * trigger webhooks of rules/triggers.yaml), processors, transfers, retention per store and
 * security measures. Pure: no Workers imports. Rendered as JSON or Markdown.
 */
import type { RuleSet } from '../rules'

export interface Party {
  name: string
  purpose: string
  dataCategories: string[]
  country: string
}

export interface RecordOfProcessing {
  /** Art. 30(1)(a) */
  controller: RuleSet['privacy']['controller']
  rulesVersion: string
  generatedAt: string
  /** Art. 30(1)(b): one activity per purpose, with what it processes. */
  purposes: RuleSet['privacy']['purposes']
  /** Art. 30(1)(c) */
  dataSubjects: string[]
  dataCategories: Array<{ id: string; description: string }>
  /** Art. 30(1)(d) */
  recipients: Party[]
  processors: Party[]
  /** Art. 30(1)(e) */
  transfers: RuleSet['privacy']['transfers']
  /** Art. 30(1)(f): time limits for erasure, per store. */
  retention: Array<{ store: string; days: number; what: string }>
  /** Art. 30(1)(g) */
  securityMeasures: string[]
}

// rules/triggers.yaml is owned by the triggers feature; only its webhook map is read here, defensively.
function webhookRecipients(rules: RuleSet): Party[] {
  const delivery = (rules.triggers as { delivery?: { webhooks?: Record<string, unknown> } } | undefined)
    ?.delivery
  const hooks = delivery?.webhooks ?? {}
  return Object.entries(hooks).map(([channel, hook]) => {
    const h = (hook ?? {}) as { url?: string; env?: string }
    const where = h.url ? new URL(h.url).host : h.env ? `URL from Worker variable ${h.env}` : 'unspecified'
    return {
      name: `${channel} webhook (${where})`,
      purpose: `Delivery of behavioural trigger messages on the ${channel} channel`,
      dataCategories: ['pseudonymous_ids', 'events', 'profile_attributes'],
      country: '',
    }
  })
}

/** Builds the record from a compiled rule set. */
export function recordOfProcessing(rules: RuleSet, now = new Date()): RecordOfProcessing {
  const p = rules.privacy
  const r = p.retention
  return {
    controller: p.controller,
    rulesVersion: rules.version,
    generatedAt: now.toISOString(),
    purposes: p.purposes,
    dataSubjects: p.dataSubjects,
    dataCategories: Object.entries(p.dataCategories).map(([id, description]) => ({ id, description })),
    recipients: [...p.recipients, ...webhookRecipients(rules)],
    processors: p.processors,
    transfers: p.transfers,
    retention: [
      { store: 'decision log (D1 decision_log)', days: r.decisionLog, what: 'decision records' },
      {
        store: 'decision archive (R2)',
        days: r.decisionArchive,
        what: "decision records, the person's fields sealed under a key erased with them",
      },
      { store: 'admin audit (D1 admin_audit)', days: r.adminAudit, what: 'admin actions' },
      { store: 'DSAR receipts (D1 dsar_receipts)', days: r.dsarReceipts, what: 'completed receipts' },
      {
        store: 'identity conflicts (D1 identity_conflicts)',
        days: r.identityConflicts,
        what: 'refused identity links kept for review',
      },
      { store: 'tombstones (D1 tombstones)', days: r.tombstones, what: 'digests of erased subjects' },
      {
        store: 'customer state (Durable Objects)',
        days: r.customerState.default,
        what: 'all tables by default',
      },
      ...Object.entries(r.customerState.tables).map(([table, days]) => ({
        store: `customer state table ${table}`,
        days,
        what: `rows of ${table}`,
      })),
    ],
    securityMeasures: p.securityMeasures,
  }
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')

/** Markdown rendering for people (auditors, the DPO). */
export function recordToMarkdown(rec: RecordOfProcessing): string {
  const lines: string[] = []
  const table = (head: string[], rows: string[][]) => {
    lines.push(`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`)
    for (const row of rows) lines.push(`| ${row.map(cell).join(' | ')} |`)
    if (rows.length === 0) lines.push(`| ${head.map(() => '(none)').join(' | ')} |`)
    lines.push('')
  }
  const parties = (list: Party[]) =>
    table(
      ['name', 'purpose', 'data categories', 'country'],
      list.map((x) => [x.name, x.purpose, x.dataCategories.join(', '), x.country || '-']),
    )
  lines.push('# Record of processing activities (GDPR Art. 30)', '')
  lines.push(`Generated ${rec.generatedAt} from rules version \`${rec.rulesVersion}\`.`, '')
  lines.push('## Controller', '')
  table(
    ['field', 'value'],
    [
      ['name', rec.controller.name],
      ['contact', rec.controller.contact],
      ['data protection officer', rec.controller.dpo || '-'],
      ['representative', rec.controller.representative || '-'],
    ],
  )
  lines.push('## Purposes', '')
  table(
    ['purpose', 'description', 'legal basis', 'data categories'],
    rec.purposes.map((x) => [x.id, x.description, x.legalBasis, x.dataCategories.join(', ')]),
  )
  lines.push('## Data subjects', '', ...rec.dataSubjects.map((s) => `- ${s}`), '')
  lines.push('## Data categories', '')
  table(
    ['category', 'description'],
    rec.dataCategories.map((c) => [c.id, c.description]),
  )
  lines.push('## Recipients', '')
  parties(rec.recipients)
  lines.push('## Processors', '')
  parties(rec.processors)
  lines.push('## Transfers to third countries', '')
  table(
    ['country', 'safeguard'],
    rec.transfers.map((t) => [t.country, t.safeguard]),
  )
  lines.push('## Retention', '')
  table(
    ['store', 'days', 'what'],
    rec.retention.map((x) => [x.store, String(x.days), x.what]),
  )
  lines.push('## Security measures', '', ...rec.securityMeasures.map((s) => `- ${s}`), '')
  return lines.join('\n')
}
