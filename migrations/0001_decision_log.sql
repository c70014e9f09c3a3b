-- Decision log: one row per decision (worker/log/record.ts), written by the queue consumer
-- (worker/log/consumer.ts) with INSERT OR IGNORE, so a redelivered record is stored once.
-- Ids are pseudonymous (customer id, anonymous id); never raw email or phone.
CREATE TABLE IF NOT EXISTS decision_log (
  id TEXT PRIMARY KEY,
  at INTEGER NOT NULL,            -- decision time, ms since epoch (range queries, retention)
  time TEXT NOT NULL,             -- the same time as ISO 8601, as recorded
  request_id TEXT NOT NULL,
  channel TEXT NOT NULL,          -- page | api
  placement TEXT NOT NULL,
  variant TEXT,
  reason TEXT NOT NULL,
  fallback TEXT,
  rules_version TEXT NOT NULL,
  consent_snapshot_id TEXT NOT NULL,
  consent TEXT NOT NULL,          -- JSON: jurisdiction, purposes, saleShareOptOut
  identity_basis TEXT NOT NULL,
  customer_id TEXT,
  anonymous_id TEXT,
  experiment TEXT,                -- JSON or NULL
  caps TEXT,                      -- JSON or NULL
  trace TEXT NOT NULL,            -- JSON array of strings
  stored_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS decision_log_at ON decision_log (at, id);
CREATE INDEX IF NOT EXISTS decision_log_customer ON decision_log (customer_id, at, id);
CREATE INDEX IF NOT EXISTS decision_log_anonymous ON decision_log (anonymous_id, at, id);
CREATE INDEX IF NOT EXISTS decision_log_placement ON decision_log (placement, at, id);
CREATE INDEX IF NOT EXISTS decision_log_rules ON decision_log (rules_version, at, id);
