ALTER TABLE posts ADD COLUMN slug TEXT;
UPDATE posts SET slug = lower(replace(title, ' ', '-'));
CREATE UNIQUE INDEX posts_slug ON posts (slug);
