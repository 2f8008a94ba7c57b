CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, post_count INTEGER NOT NULL DEFAULT 0);
CREATE TABLE posts (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES authors(id), title TEXT NOT NULL);
-- Denormalised counter kept by triggers.
CREATE TRIGGER posts_count_ai AFTER INSERT ON posts BEGIN
  UPDATE authors SET post_count = post_count + 1 WHERE id = new.author_id;
END;
CREATE TRIGGER posts_count_ad AFTER DELETE ON posts BEGIN
  UPDATE authors SET post_count = post_count - 1 WHERE id = old.author_id;
END;
