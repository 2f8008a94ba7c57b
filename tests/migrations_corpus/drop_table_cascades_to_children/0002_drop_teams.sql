-- Teams are replaced by organizations (created elsewhere); the old table goes.
DROP TABLE teams;
