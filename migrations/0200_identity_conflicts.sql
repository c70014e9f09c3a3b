-- Identity conflicts for review (stitching): an identifier (customer id, crm id, HMAC'd email or phone,
-- anonymous id; never raw email/phone) that one customer claimed while another already held it.
-- The link was refused, not moved. Rows are findable by identifier key and by either state key,
-- so a DSAR export/erase reaches them (docs/storage.md "D1 identity_conflicts").
CREATE TABLE IF NOT EXISTS identity_conflicts (
  id TEXT PRIMARY KEY,
  identifier_key TEXT NOT NULL,   -- e.g. email:5f2c... (IdentityIndex object name)
  identifier_type TEXT NOT NULL,  -- customer_id | crm_id | email | phone | anonymous_id
  held_by TEXT NOT NULL,          -- state key holding the identifier: c:<customerId>
  claimed_by TEXT NOT NULL,       -- state key that was refused: c:<customerId> or a:<anonymousId>
  asserted_by TEXT NOT NULL,      -- jwt | event | admin
  at INTEGER NOT NULL,            -- ms since epoch
  resolved_at INTEGER,            -- set by a reviewer
  resolution TEXT                 -- free text from the reviewer
);
CREATE INDEX IF NOT EXISTS identity_conflicts_key ON identity_conflicts (identifier_key);
CREATE INDEX IF NOT EXISTS identity_conflicts_held ON identity_conflicts (held_by);
CREATE INDEX IF NOT EXISTS identity_conflicts_claimed ON identity_conflicts (claimed_by);
CREATE INDEX IF NOT EXISTS identity_conflicts_open ON identity_conflicts (resolved_at, at);
