-- Derived visits per job session, versioned: every figure shown to a customer
-- names the parameters, the fence geometry and a digest of the input fixes it
-- came from, and a change after late data is a new version, not an overwrite.
CREATE TABLE visit_derivations (
    id              bigserial PRIMARY KEY,
    session_id      uuid NOT NULL REFERENCES job_sessions (id),
    version         integer NOT NULL CHECK (version >= 1),
    derived_at      timestamptz NOT NULL DEFAULT now(),
    params_digest   text NOT NULL,
    params          jsonb NOT NULL,
    fence_digest    text NOT NULL,
    fence           jsonb NOT NULL,
    input_digest    text NOT NULL,
    fix_count       integer NOT NULL,
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    session_state   text NOT NULL,
    visits          jsonb NOT NULL,
    reconciliation  jsonb NOT NULL,
    UNIQUE (session_id, version)
);

-- Device time ranges whose fixes changed, written by the ingest in the same
-- transaction as the fixes; derive workers claim rows with SKIP LOCKED.
CREATE TABLE derive_queue (
    id          bigserial PRIMARY KEY,
    device_id   text NOT NULL,
    from_time   timestamptz NOT NULL,
    to_time     timestamptz NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX job_sessions_device_time ON job_sessions (device_id, clocked_in_at);
