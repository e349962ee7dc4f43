-- The devices list shows when each device was last heard from and over which
-- protocol (its newest ingest message): one index probe per device instead of
-- sorting all of a device's messages.
CREATE INDEX ingest_messages_device_received
    ON ingest_messages (device_id, received_at DESC);
