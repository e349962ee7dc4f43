-- Jobs module (issue 5): clients, properties, technicians, price book, estimates,
-- bookings, jobs with their history and sessions, device events, idempotency keys.

CREATE TABLE clients (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email       text,
    phone       text,
    notes       text NOT NULL DEFAULT '',
    version     integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A property is a job site: address, location and geofence (radius or polygon).
CREATE TABLE properties (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id   uuid NOT NULL REFERENCES clients (id),
    address     jsonb NOT NULL,
    lat         double precision CHECK (lat BETWEEN -90 AND 90),
    lon         double precision CHECK (lon BETWEEN -180 AND 180),
    geofence    jsonb,
    version     integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX properties_client ON properties (client_id);

-- A technician is a user with the technician role; devices link through user_id.
CREATE TABLE technicians (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL UNIQUE REFERENCES users (id),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    phone        text,
    hourly_cost  numeric(12, 2) NOT NULL DEFAULT 0 CHECK (hourly_cost >= 0),
    version      integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE price_book_families (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE price_book_items (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    family_id   uuid NOT NULL REFERENCES price_book_families (id),
    kind        text NOT NULL CHECK (kind IN ('part', 'service')),
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    unit_price  numeric(14, 4) NOT NULL CHECK (unit_price >= 0),
    tax_rate    numeric(6, 3) NOT NULL CHECK (tax_rate BETWEEN 0 AND 100),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX price_book_items_family ON price_book_items (family_id);

CREATE SEQUENCE job_numbers;
CREATE SEQUENCE estimate_numbers;

CREATE TABLE estimates (
    id          uuid PRIMARY KEY,
    number      bigint NOT NULL UNIQUE,
    client_id   uuid NOT NULL REFERENCES clients (id),
    property_id uuid REFERENCES properties (id),
    status      text NOT NULL CHECK (status IN ('draft', 'approved', 'converted')),
    doc         jsonb NOT NULL,
    job_id      uuid UNIQUE,
    version     integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL
);

CREATE TABLE bookings (
    id              uuid PRIMARY KEY,
    client_id       uuid NOT NULL REFERENCES clients (id),
    request         jsonb NOT NULL,
    job_id          uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- The job: filterable columns plus the aggregate's parts in doc (line items,
-- tasks, expenses, attachments, notes, contact, custom fields). The crew is
-- mirrored in technician_ids for "a technician's jobs" queries.
CREATE TABLE jobs (
    id               uuid PRIMARY KEY,
    number           bigint NOT NULL UNIQUE,
    status           text NOT NULL CHECK (status IN
                        ('pending', 'scheduled', 'in_progress', 'on_hold', 'completed', 'cancelled')),
    client_id        uuid NOT NULL REFERENCES clients (id),
    property_id      uuid REFERENCES properties (id),
    scheduled_start  timestamptz,
    scheduled_end    timestamptz,
    technician_ids   uuid[] NOT NULL DEFAULT '{}',
    estimate_id      uuid UNIQUE REFERENCES estimates (id),  -- an estimate converts once
    booking_id       uuid UNIQUE,
    doc              jsonb NOT NULL,
    version          integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX jobs_status ON jobs (status, number);
CREATE INDEX jobs_client ON jobs (client_id, number);
CREATE INDEX jobs_technicians ON jobs USING gin (technician_ids);
CREATE INDEX jobs_scheduled ON jobs (scheduled_start);

-- Every change to a job: who, when, what, from where. Append-only.
CREATE TABLE job_history (
    id          bigserial PRIMARY KEY,
    job_id      uuid NOT NULL REFERENCES jobs (id),
    at          timestamptz NOT NULL,
    actor_id    text,
    actor_name  text NOT NULL,
    actor_role  text NOT NULL,
    action      text NOT NULL,
    details     jsonb NOT NULL,
    source      text NOT NULL
);
CREATE INDEX job_history_job ON job_history (job_id, id);

-- Job sessions: a technician's clocked time on a job, with its evidence.
-- One open session per technician across all jobs.
CREATE TABLE job_sessions (
    id              uuid PRIMARY KEY,
    job_id          uuid NOT NULL REFERENCES jobs (id),
    technician_id   uuid NOT NULL REFERENCES technicians (id),
    device_id       text,
    state           text NOT NULL CHECK (state IN ('running', 'paused', 'closed')),
    clocked_in_at   timestamptz NOT NULL,
    clocked_out_at  timestamptz,
    intervals       jsonb NOT NULL,
    evidence        jsonb NOT NULL
);
CREATE INDEX job_sessions_job ON job_sessions (job_id);
CREATE UNIQUE INDEX job_sessions_one_open ON job_sessions (technician_id)
    WHERE state <> 'closed';

-- Clock events already applied (from the app or a device): replays are no-ops.
CREATE TABLE session_events (
    source      text NOT NULL,  -- device id, or 'api:<user id>'
    event_id    text NOT NULL,
    job_id      uuid,
    session_id  uuid,
    kind        text NOT NULL,
    outcome     text NOT NULL,  -- 'applied' or the refusal's code
    detail      text NOT NULL DEFAULT '',
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, event_id)
);

-- The customer's online view: an unguessable token, revocable.
CREATE TABLE job_online_links (
    token_sha256 text PRIMARY KEY,
    job_id       uuid NOT NULL REFERENCES jobs (id),
    created_by   uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX job_online_links_job ON job_online_links (job_id);

-- Idempotency-Key on creating POSTs: same key + same body = same answer.
CREATE TABLE idempotency_keys (
    user_id         uuid NOT NULL,
    key             text NOT NULL,
    request_sha256  text NOT NULL,
    status          integer NOT NULL,
    body            text NOT NULL,
    headers         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
