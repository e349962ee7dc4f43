-- Issue 6: job reports, parts with serial numbers, invoices.

-- Report templates, as ReportTemplate.to_json() (families of typed fields).
CREATE TABLE report_templates (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    body        jsonb NOT NULL,
    version     integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A job's report keeps a snapshot of its template; answers, signatures and
-- attachment metadata live beside it (image bytes in report_images).
CREATE TABLE job_reports (
    job_id        uuid PRIMARY KEY REFERENCES jobs (id),
    template_id   uuid NOT NULL REFERENCES report_templates (id),
    template      jsonb NOT NULL,
    client_id     uuid NOT NULL REFERENCES clients (id),
    site_id       uuid REFERENCES properties (id),
    entries       jsonb NOT NULL DEFAULT '{}',
    signatures    jsonb NOT NULL DEFAULT '{}',
    attachments   jsonb NOT NULL DEFAULT '[]',
    status        text NOT NULL CHECK (status IN ('open', 'completed')),
    completed_by  text,
    completed_at  timestamptz,
    version       integer NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL
);

-- Reserves are rows of their own so the office can list them per client and site.
CREATE TABLE report_reserves (
    id          uuid PRIMARY KEY,
    job_id      uuid NOT NULL REFERENCES job_reports (job_id),
    client_id   uuid NOT NULL REFERENCES clients (id),
    site_id     uuid REFERENCES properties (id),
    field_key   text NOT NULL,
    comment     text NOT NULL,
    photos      jsonb NOT NULL,
    status      text NOT NULL CHECK (status IN ('compliant', 'resolved', 'unresolved')),
    raised_by   text NOT NULL,
    raised_at   timestamptz NOT NULL,
    history     jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX report_reserves_job ON report_reserves (job_id, raised_at);
CREATE INDEX report_reserves_client ON report_reserves (client_id, site_id, raised_at);

-- Photos and signature images, content-addressed (the same image is stored once).
CREATE TABLE report_images (
    sha256        text PRIMARY KEY,
    content_type  text NOT NULL,
    data          bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Reserve alerts: written in the raising transaction (outbox), then pushed to
-- the Redis stream and the webhook; undelivered ones are retried.
CREATE TABLE report_alerts (
    id              bigserial PRIMARY KEY,
    reserve_id      uuid NOT NULL REFERENCES report_reserves (id),
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    stream_id       text,
    webhook_status  integer,
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    delivered_at    timestamptz
);
CREATE INDEX report_alerts_pending ON report_alerts (id) WHERE delivered_at IS NULL;

-- Stock settings of price-book items (the price book itself is the jobs module's).
CREATE TABLE price_book_item_stock (
    item_id             uuid PRIMARY KEY REFERENCES price_book_items (id),
    serialized          boolean NOT NULL DEFAULT false,
    bill_from_sessions  boolean NOT NULL DEFAULT false,
    CHECK (NOT (serialized AND bill_from_sessions))
);

-- Depots: one mobile per technician, any number of stationary ones.
CREATE TABLE depots (
    id             uuid PRIMARY KEY,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind           text NOT NULL CHECK (kind IN ('mobile', 'stationary')),
    technician_id  uuid UNIQUE REFERENCES technicians (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'mobile') = (technician_id IS NOT NULL))
);

-- Plain (non-serialized) parts: quantity per depot.
CREATE TABLE depot_stock (
    depot_id  uuid NOT NULL REFERENCES depots (id),
    item_id   uuid NOT NULL REFERENCES price_book_items (id),
    quantity  numeric(14, 3) NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (depot_id, item_id)
);

-- Serialized units: where each one is and in what condition.
CREATE TABLE serial_units (
    serial         text PRIMARY KEY,
    item_id        uuid NOT NULL REFERENCES price_book_items (id),
    location_kind  text NOT NULL CHECK (location_kind IN ('depot', 'site', 'retired')),
    depot_id       uuid REFERENCES depots (id),
    client_id      uuid REFERENCES clients (id),
    site_id        uuid REFERENCES properties (id),
    condition      text NOT NULL CHECK (condition IN ('ok', 'needs_repair', 'obsolete')),
    updated_at     timestamptz NOT NULL,
    CHECK ((location_kind = 'depot') = (depot_id IS NOT NULL)),
    CHECK ((location_kind = 'site') = (client_id IS NOT NULL)),
    CHECK ((location_kind = 'retired') = (condition = 'obsolete'))
);
CREATE INDEX serial_units_depot ON serial_units (depot_id) WHERE location_kind = 'depot';
CREATE INDEX serial_units_client ON serial_units (client_id) WHERE location_kind = 'site';

-- Every movement of a serial; append-only (the trigger refuses edits).
CREATE TABLE serial_movements (
    id             bigserial PRIMARY KEY,
    serial         text NOT NULL REFERENCES serial_units (serial),
    item_id        uuid NOT NULL,
    kind           text NOT NULL,
    from_location  jsonb,
    to_location    jsonb NOT NULL,
    condition      text NOT NULL,
    job_id         uuid,
    actor          text NOT NULL,
    at             timestamptz NOT NULL,
    note           text
);
CREATE INDEX serial_movements_serial ON serial_movements (serial, id);

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER serial_movements_append_only
    BEFORE UPDATE OR DELETE ON serial_movements
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- Parts and services added to a job (with their serials), and take backs.
CREATE TABLE job_parts (
    id          uuid PRIMARY KEY,
    job_id      uuid NOT NULL REFERENCES jobs (id),
    item_id     uuid NOT NULL REFERENCES price_book_items (id),
    family      text NOT NULL,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('part', 'service', 'labour')),
    quantity    numeric(14, 3) NOT NULL CHECK (quantity > 0),
    unit_price  numeric(14, 4) NOT NULL CHECK (unit_price >= 0),
    tax_rate    numeric(6, 3) NOT NULL,
    serials     text[] NOT NULL DEFAULT '{}',
    depot_id    uuid REFERENCES depots (id),
    added_by    text NOT NULL,
    added_at    timestamptz NOT NULL
);
CREATE INDEX job_parts_job ON job_parts (job_id, added_at);

CREATE TABLE job_take_backs (
    id                  uuid PRIMARY KEY,
    job_id              uuid NOT NULL REFERENCES jobs (id),
    serial              text NOT NULL REFERENCES serial_units (serial),
    item_id             uuid NOT NULL REFERENCES price_book_items (id),
    condition           text NOT NULL,
    found_at_client     boolean NOT NULL,
    from_location       jsonb NOT NULL,
    to_location         jsonb NOT NULL,
    previous_condition  text NOT NULL,
    actor               text NOT NULL,
    at                  timestamptz NOT NULL
);
CREATE INDEX job_take_backs_job ON job_take_backs (job_id, at);

-- Invoices and credit notes. Numbers come from invoice_counters inside the
-- issuing transaction, so they are gapless per (kind, year).
CREATE TABLE invoices (
    id                   uuid PRIMARY KEY,
    kind                 text NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    job_id               uuid REFERENCES jobs (id),
    client_id            uuid NOT NULL REFERENCES clients (id),
    client_name          text NOT NULL,
    client_email         text,
    status               text NOT NULL CHECK (status IN ('draft', 'issued', 'paid', 'void')),
    currency             text NOT NULL,
    year                 integer,
    seq                  integer,
    lines                jsonb NOT NULL,
    public_notes         jsonb NOT NULL,
    net                  numeric(14, 2) NOT NULL,
    tax                  numeric(14, 2) NOT NULL,
    gross                numeric(14, 2) NOT NULL,
    version              integer NOT NULL,
    row_version          integer NOT NULL DEFAULT 0,
    credits_invoice_id   uuid REFERENCES invoices (id),
    payment_ref          text,
    payment_session_id   text,
    payment_url          text,
    emailed_at           timestamptz,
    email_message_id     text,
    created_at           timestamptz NOT NULL,
    issued_at            timestamptz,
    paid_at              timestamptz,
    voided_at            timestamptz,
    UNIQUE (kind, year, seq),
    CHECK ((seq IS NULL) = (issued_at IS NULL))
);
-- One live invoice per job (a discarded draft frees the job).
CREATE UNIQUE INDEX invoices_one_per_job ON invoices (job_id)
    WHERE kind = 'invoice' AND NOT (status = 'void' AND seq IS NULL);
CREATE INDEX invoices_client ON invoices (client_id, created_at);

CREATE TABLE invoice_counters (
    kind      text NOT NULL,
    year      integer NOT NULL,
    last_seq  integer NOT NULL,
    PRIMARY KEY (kind, year)
);

-- An issued document's content never changes, whatever the code above does.
CREATE FUNCTION invoices_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'draft' AND (
        NEW.lines IS DISTINCT FROM OLD.lines OR NEW.gross IS DISTINCT FROM OLD.gross
        OR NEW.seq IS DISTINCT FROM OLD.seq OR NEW.year IS DISTINCT FROM OLD.year
        OR NEW.public_notes IS DISTINCT FROM OLD.public_notes
        OR NEW.client_id IS DISTINCT FROM OLD.client_id
    ) THEN
        RAISE EXCEPTION 'issued invoice % is immutable', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER invoices_immutable BEFORE UPDATE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_immutable();
CREATE TRIGGER invoices_no_delete BEFORE DELETE ON invoices
    FOR EACH ROW WHEN (OLD.status <> 'draft') EXECUTE FUNCTION refuse_change();

-- Stripe webhook events already processed (Stripe delivers at least once).
CREATE TABLE stripe_events (
    event_id     text PRIMARY KEY,
    type         text NOT NULL,
    invoice_id   uuid,
    outcome      text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
