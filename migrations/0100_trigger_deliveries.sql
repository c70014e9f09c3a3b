-- Trigger deliveries (webhook delivery): one row per fire delivered to its webhook, for the
-- trigger-to-delivery delay (SLA), and the dead letters that exhausted their retries.
CREATE TABLE IF NOT EXISTS trigger_deliveries (
  fire_id TEXT PRIMARY KEY,
  trigger TEXT NOT NULL,
  campaign TEXT NOT NULL,
  channel TEXT NOT NULL,
  priority TEXT NOT NULL,
  fired_at INTEGER NOT NULL,
  delivered_at INTEGER NOT NULL,
  delay_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS trigger_deliveries_delivered ON trigger_deliveries (delivered_at);

CREATE TABLE IF NOT EXISTS trigger_dead_letters (
  fire_id TEXT PRIMARY KEY,
  trigger TEXT,
  channel TEXT,
  state_key TEXT,
  reason TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  dead_at INTEGER NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS trigger_dead_letters_dead ON trigger_dead_letters (dead_at);
