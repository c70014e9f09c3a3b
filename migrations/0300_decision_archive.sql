-- Decision archive (worker/archive, docs/storage.md "Decision archive (R2)"): when the consumer
-- wrote the record to R2 (ms since epoch), or NULL while it has not. A redelivered record that is
-- already archived is not written to the archive again.
ALTER TABLE decision_log ADD COLUMN archived_at INTEGER;
