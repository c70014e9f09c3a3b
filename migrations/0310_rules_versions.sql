-- Which rules version went live when: the first request a gateway isolate served with each
-- version (worker/admin/rules-versions.ts). One row per version; the earliest time wins.
CREATE TABLE IF NOT EXISTS rules_versions (
  version TEXT PRIMARY KEY,          -- sha256:<32 hex>, the compiled rule set's content hash
  first_served_at INTEGER NOT NULL,  -- ms since epoch
  first_request_id TEXT NOT NULL     -- the request that served it first (for the access log)
);
CREATE INDEX IF NOT EXISTS rules_versions_at ON rules_versions (first_served_at);
