CREATE TABLE products (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'retired')),
  price_cents INTEGER NOT NULL CHECK (price_cents >= 0 AND price_cents < 100000000),
  discount_cents INTEGER NOT NULL DEFAULT 0,
  sale_starts TEXT,
  sale_ends TEXT,
  CONSTRAINT discount_below_price CHECK (discount_cents <= price_cents),
  CONSTRAINT sale_window CHECK (sale_ends IS NULL OR sale_ends > sale_starts)
);
