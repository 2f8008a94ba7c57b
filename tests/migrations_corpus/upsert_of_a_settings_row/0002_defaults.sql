INSERT INTO settings (key, value, updated_at) VALUES ('theme', 'dark', '2026-11-01')
  ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at;
INSERT INTO settings (key, value) VALUES ('max_upload_mb', '25') ON CONFLICT DO NOTHING;
INSERT OR IGNORE INTO settings (key, value) VALUES ('locale', 'fr');
