-- DSAR receipts: one row per export or erase. An erase in progress records which stores are done
-- (`stores`) and the pseudonymous keys still to erase (`pending`), so a retry completes the rest;
-- `pending` is cleared when the erase completes.
CREATE TABLE IF NOT EXISTS dsar_receipts (
  receipt_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,             -- export | erase
  subject TEXT NOT NULL,          -- pseudonymous digest of the subject (HMAC with the pepper)
  status TEXT NOT NULL,           -- in_progress | completed
  stores TEXT NOT NULL DEFAULT '{}', -- JSON: store -> rows affected, for the stores done
  pending TEXT,                   -- JSON: { stateKeys, identifierKeys, customerIds, anonymousIds } while in progress
  requested_by TEXT NOT NULL,     -- admin `sub`, or "self" for DELETE /v1/me
  requested_at INTEGER NOT NULL,
  completed_at INTEGER
);
CREATE INDEX IF NOT EXISTS dsar_receipts_subject ON dsar_receipts (subject, status);
CREATE INDEX IF NOT EXISTS dsar_receipts_completed ON dsar_receipts (completed_at);

-- Tombstones: digests of erased keys (state keys and identifier keys). A late event or decision
-- carrying an old id is refused until `expires_at` (rules/privacy.yaml retention.tombstones).
CREATE TABLE IF NOT EXISTS tombstones (
  digest TEXT PRIMARY KEY,        -- HMAC-SHA-256(pepper, "tombstone:" + key), hex
  receipt_id TEXT NOT NULL,
  erased_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tombstones_expires ON tombstones (expires_at);
