ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
-- Everyone who signed up before verification existed counts as verified.
UPDATE users SET email_verified = 1;
