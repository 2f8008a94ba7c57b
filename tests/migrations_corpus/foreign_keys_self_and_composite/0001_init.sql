CREATE TABLE categories (
  id INTEGER PRIMARY KEY,
  parent_id INTEGER REFERENCES categories(id),
  name TEXT NOT NULL
);
CREATE TABLE orders (shop TEXT NOT NULL, number INTEGER NOT NULL, PRIMARY KEY (shop, number));
CREATE TABLE order_items (
  shop TEXT NOT NULL,
  order_number INTEGER NOT NULL,
  line INTEGER NOT NULL CHECK (line > 0),
  category_id INTEGER NOT NULL REFERENCES categories(id),
  quantity INTEGER NOT NULL CHECK (quantity > 0),
  PRIMARY KEY (shop, order_number, line),
  FOREIGN KEY (shop, order_number) REFERENCES orders(shop, number) ON DELETE CASCADE
);
