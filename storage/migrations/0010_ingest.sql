-- Ingest: message provenance, rejected messages, device events, ping flag.

-- OwnTracks pings (`t: p`) carry the send time, not a fresh fix: flag them so
-- derivation can weigh them, but keep them as evidence.
ALTER TABLE fixes ADD COLUMN ping boolean NOT NULL DEFAULT false;

-- Provenance of every accepted message: what arrived, when, on which topic, and
-- the sha256 of the exact bytes (fixes.message_sha256 points here). A redelivered
-- or re-retained message has the same bytes and so the same row.
CREATE TABLE ingest_messages (
    device_id      text        NOT NULL,
    payload_sha256 bytea       NOT NULL,
    received_at    timestamptz NOT NULL,
    topic          text        NOT NULL,
    protocol       text        NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('fix', 'event', 'status')),
    fix_count      integer     NOT NULL CHECK (fix_count >= 0),
    rejected_count integer     NOT NULL DEFAULT 0 CHECK (rejected_count >= 0),
    payload_size   integer     NOT NULL,
    PRIMARY KEY (device_id, payload_sha256)
);
CREATE INDEX ingest_messages_received ON ingest_messages (received_at);

-- Everything that is not a valid fix or event: reason code, a bounded copy of
-- the payload, and for a bad fix inside a batch its index (-1 = whole message).
-- Unique on (topic, sha256, item) so a redelivered bad message is recorded once.
CREATE TABLE rejected_messages (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at    timestamptz NOT NULL,
    topic          text        NOT NULL,
    device_id      text,
    protocol       text        NOT NULL,
    reason         text        NOT NULL,
    detail         text        NOT NULL DEFAULT '',
    item           integer     NOT NULL DEFAULT -1,
    payload_sha256 bytea       NOT NULL,
    payload_size   integer     NOT NULL,
    payload        bytea       NOT NULL,
    UNIQUE (topic, payload_sha256, item)
);
CREATE INDEX rejected_messages_received ON rejected_messages (received_at);
CREATE INDEX rejected_messages_reason ON rejected_messages (reason, received_at);

-- Clock events from devices, idempotent on the client-generated id. Applying
-- them to jobs is the jobs module's work: handlers registered with
-- ingest.events run after the commit and set applied_at in their transaction,
-- so an event is applied exactly once even if a worker dies in between.
CREATE TABLE device_events (
    device_id      text        NOT NULL,
    event_id       text        NOT NULL CHECK (length(event_id) BETWEEN 1 AND 128),
    type           text        NOT NULL,
    time           timestamptz NOT NULL,
    job_id         text        NOT NULL DEFAULT '',
    lat            double precision CHECK (lat BETWEEN -90 AND 90),
    lon            double precision CHECK (lon BETWEEN -180 AND 180),
    accuracy       real,
    received_at    timestamptz NOT NULL,
    message_sha256 bytea       NOT NULL,
    applied_at     timestamptz,
    apply_error    text,
    PRIMARY KEY (device_id, event_id)
);
CREATE INDEX device_events_clock ON device_events (device_id, time DESC)
    WHERE type IN ('clock_in', 'clock_out');
CREATE INDEX device_events_unapplied ON device_events (received_at)
    WHERE applied_at IS NULL;
