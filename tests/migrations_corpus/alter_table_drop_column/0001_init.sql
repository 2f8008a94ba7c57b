CREATE TABLE profiles (
  user_id INTEGER PRIMARY KEY,
  bio TEXT,
  legacy_avatar_url TEXT,
  avatar_key TEXT
);
