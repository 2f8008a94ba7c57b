-- SQLite cannot add a CHECK to an existing table: rebuild it.
ALTER TABLE accounts RENAME TO accounts_old;
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY,
  owner TEXT NOT NULL CHECK (owner <> ''),
  balance_cents INTEGER NOT NULL DEFAULT 0 CHECK (balance_cents >= 0),
  currency TEXT NOT NULL DEFAULT 'EUR'
);
INSERT INTO accounts (id, owner, balance_cents) SELECT id, owner, balance_cents FROM accounts_old;
DROP TABLE accounts_old;
