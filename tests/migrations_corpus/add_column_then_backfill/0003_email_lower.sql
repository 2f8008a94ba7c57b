ALTER TABLE users ADD COLUMN email_normalized TEXT;
UPDATE users SET email_normalized = lower(email);
CREATE INDEX users_email_normalized ON users (email_normalized);
-- The backfill of 0002's column again, in a later file: still a column the pending set adds.
UPDATE users SET display_name = upper(display_name) WHERE display_name = '';
