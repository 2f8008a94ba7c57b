CREATE TABLE subscriptions (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL,
  plan TEXT NOT NULL CHECK (plan IN ('free', 'pro', 'team')),
  cancelled_at TEXT
);
CREATE INDEX subscriptions_user ON subscriptions (user_id);
