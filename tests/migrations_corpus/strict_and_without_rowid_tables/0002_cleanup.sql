UPDATE events SET score = round(score);
DELETE FROM kv WHERE k LIKE '%';
