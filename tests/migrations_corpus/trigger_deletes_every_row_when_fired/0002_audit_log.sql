CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  event TEXT NOT NULL,
  at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- Meant: log out everyone when a password-policy change is logged.
-- Forgot the WHEN clause, so any event clears every session.
CREATE TRIGGER audit_logout AFTER INSERT ON audit_log
BEGIN
  DELETE FROM sessions;
END;

INSERT INTO audit_log (event) VALUES ('audit log enabled');
