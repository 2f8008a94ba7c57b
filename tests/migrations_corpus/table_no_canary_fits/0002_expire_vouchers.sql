CREATE INDEX vouchers_redeemed ON vouchers (redeemed_at);
DELETE FROM vouchers WHERE redeemed_at < '2026-01-01';
UPDATE customers SET name = name;
