PRAGMA foreign_keys = ON;
PRAGMA foreign_key_check;
PRAGMA table_info(orders);
PRAGMA optimize;
CREATE VIEW daily_revenue AS
  SELECT substr(placed_at, 1, 10) AS day, sum(total_cents) AS cents FROM orders GROUP BY day;
CREATE INDEX orders_placed_at ON orders (placed_at);
ANALYZE;
SELECT count(*) FROM orders;
