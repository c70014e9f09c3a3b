-- Admin audit: every request to /admin/ (allowed or denied), who (JWT `sub`), what, when, outcome.
-- No personal data: subjects appear only as their pseudonymous digest, never as raw identifiers.
CREATE TABLE IF NOT EXISTS admin_audit (
  id TEXT PRIMARY KEY,
  at INTEGER NOT NULL,            -- ms since epoch
  actor TEXT,                     -- JWT `sub`; NULL when no valid token was presented
  roles TEXT NOT NULL,            -- JSON array of the actor's roles
  action TEXT NOT NULL,           -- e.g. "POST /admin/v1/subjects/erase"
  outcome TEXT NOT NULL,          -- allowed | denied_unauthenticated | denied_forbidden | failed
  status INTEGER NOT NULL,        -- HTTP status returned
  request_id TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '{}' -- JSON: receipt id, subject digest, filter names (never values)
);
CREATE INDEX IF NOT EXISTS admin_audit_at ON admin_audit (at, id);
CREATE INDEX IF NOT EXISTS admin_audit_actor ON admin_audit (actor, at);
