-- Dashboard logins live on the server: the cookie carries only a random
-- session token (its sha256 is stored), so logging out ends the session for
-- good, and each request re-checks the user (disabled, role changed) in one
-- primary-key lookup.
CREATE TABLE dashboard_sessions (
    token_sha256 text PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id),
    role         text NOT NULL,  -- the role at login: a change ends the session
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz
);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);
