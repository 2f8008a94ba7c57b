UPDATE profiles SET avatar_key = 'legacy/' || legacy_avatar_url WHERE avatar_key IS NULL AND legacy_avatar_url IS NOT NULL;
ALTER TABLE profiles DROP COLUMN legacy_avatar_url;
