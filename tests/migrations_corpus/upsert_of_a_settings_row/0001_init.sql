CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT);
INSERT INTO settings (key, value) VALUES ('theme', 'light'), ('locale', 'en');
