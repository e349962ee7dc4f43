-- Issue 13, accounts: API tokens expire, are seen (last use) and revoked by a
-- short prefix; no device may take a broker name the project reserves for its
-- own accounts (the ingest's `crewtrack-ingest` reads every device's topics).

-- The first characters of the clear token (e.g. `ct_Ab3dE5gH9`), shown by
-- `crewtrack admin list-tokens` and accepted by `revoke-token`: enough to tell
-- tokens apart, far too few to guess the rest (the token has 256 random bits).
-- NULL for tokens issued before this migration (revoke those by user).
ALTER TABLE api_tokens ADD COLUMN prefix text;
CREATE INDEX api_tokens_prefix ON api_tokens (prefix);
-- NULL = never expires; every token issued from now on has an expiry.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
-- Updated at most once a minute per token, by the API's authentication.
ALTER TABLE api_tokens ADD COLUMN last_used_at timestamptz;
-- Tokens issued before expiry existed get the default lifetime from today, so an
-- upgrade does not cut off a running integration at once.
UPDATE api_tokens SET expires_at = now() + interval '90 days'
 WHERE expires_at IS NULL AND revoked_at IS NULL;

-- Broker names starting with "crewtrack" belong to the project's own accounts.
-- A device registered under one before this check existed is revoked first (the
-- broker then drops it on the next reload), then the check refuses new ones.
UPDATE devices SET revoked_at = now()
 WHERE lower(id) LIKE 'crewtrack%' AND revoked_at IS NULL;
ALTER TABLE devices ADD CONSTRAINT devices_id_not_reserved
    CHECK (lower(id) NOT LIKE 'crewtrack%') NOT VALID;
