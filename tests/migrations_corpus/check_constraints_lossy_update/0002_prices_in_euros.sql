ALTER TABLE products ADD COLUMN sku TEXT CHECK (sku IS NULL OR length(sku) = 8);
-- Switch from cents to whole euros: integer division drops the cents for good.
UPDATE products SET price_cents = price_cents / 100, discount_cents = discount_cents / 100;
