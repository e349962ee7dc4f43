-- Foundation: users and API tokens, the device registry, the fixes hypertable.
CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE users (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email       text UNIQUE,
    role        text NOT NULL CHECK (role IN ('admin', 'dispatcher', 'billing', 'technician')),
    -- scrypt hash for interactive login (dashboard); NULL = token-only user
    password_hash text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);

-- Only the sha256 of a bearer token is stored: a leaked table grants nothing.
CREATE TABLE api_tokens (
    token_sha256 text PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- The device registry: one row per phone. The id is the MQTT username and the
-- topic level, so it is restricted to characters that cannot escape a level.
CREATE TABLE devices (
    id                 text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    user_id            uuid REFERENCES users (id) ON DELETE SET NULL,
    label              text NOT NULL DEFAULT '',
    mqtt_password_hash text NOT NULL,
    http_token_sha256  text UNIQUE,
    created_at         timestamptz NOT NULL DEFAULT now(),
    revoked_at         timestamptz
);
CREATE INDEX devices_user ON devices (user_id);

-- GPS fixes: the evidence billing relies on. Time first (the hypertable's
-- dimension), one-day chunks, and unique on device + fix time so a redelivered
-- message is harmless (ON CONFLICT DO NOTHING).
CREATE TABLE fixes (
    time         timestamptz      NOT NULL,
    device_id    text             NOT NULL,
    lat          double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon          double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    accuracy     real,
    altitude     real,
    speed        real,
    heading      real,
    battery      real,
    source       text,
    mock         boolean,
    received_at  timestamptz      NOT NULL DEFAULT now(),
    message_sha256 bytea,
    UNIQUE (device_id, time)
);
SELECT create_hypertable('fixes', 'time', chunk_time_interval => interval '1 day');

-- The broker's password file and ACL are generated from this registry; a
-- running `crewtrack up` listens here and reloads Mosquitto without a restart.
CREATE FUNCTION notify_devices_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('devices_changed', '');
    RETURN NULL;
END $$;
CREATE TRIGGER devices_changed AFTER INSERT OR UPDATE OR DELETE ON devices
    FOR EACH STATEMENT EXECUTE FUNCTION notify_devices_changed();
