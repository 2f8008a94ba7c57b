-- Any change to a user logs them out everywhere.
CREATE TRIGGER users_logout AFTER UPDATE ON users
BEGIN
  DELETE FROM sessions WHERE user_id = old.id;
END;
