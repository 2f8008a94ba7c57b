-- Normalise emails in place: the original spelling is gone.
UPDATE users SET email = lower(trim(email)) WHERE email <> lower(trim(email));
