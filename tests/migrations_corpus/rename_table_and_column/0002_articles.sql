ALTER TABLE posts RENAME TO articles;
ALTER TABLE articles RENAME COLUMN body TO content;
ALTER TABLE comments RENAME COLUMN post_id TO article_id;
-- A rename by case only is no rename to SQLite.
ALTER TABLE articles RENAME COLUMN author TO Author;
