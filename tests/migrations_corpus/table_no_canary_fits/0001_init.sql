CREATE TABLE vouchers (
  code TEXT NOT NULL PRIMARY KEY CHECK (code GLOB '[A-Z][A-Z][0-9][0-9][0-9][0-9]'),
  redeemed_at TEXT
);
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
