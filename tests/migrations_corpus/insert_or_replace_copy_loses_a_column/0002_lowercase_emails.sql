-- REPLACE deletes the conflicting row and inserts a new one: columns not listed become NULL.
INSERT OR REPLACE INTO users (id, email, name) SELECT id, lower(email), name FROM users;
