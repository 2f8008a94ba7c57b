ALTER TABLE categories ADD COLUMN slug TEXT;
UPDATE categories SET slug = lower(replace(name, ' ', '-'));
CREATE UNIQUE INDEX categories_slug ON categories (slug);
UPDATE order_items SET quantity = quantity WHERE quantity > 0;
