DROP INDEX subscriptions_user;
DROP INDEX IF EXISTS subscriptions_never_created;
-- At most one active subscription per user.
CREATE UNIQUE INDEX subscriptions_one_active ON subscriptions (user_id) WHERE cancelled_at IS NULL;
CREATE INDEX subscriptions_cancelled ON subscriptions (cancelled_at) WHERE cancelled_at IS NOT NULL;
