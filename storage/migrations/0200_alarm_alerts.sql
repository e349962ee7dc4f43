-- The alerts outbox carries a device's alarms (SOS) as well as reserves: one
-- flow from the raising transaction to the Redis stream and the webhook
-- (api/alert_relay.py). An alarm has no reserve; its key (device + event id)
-- makes applying the same device event twice raise one alert.
ALTER TABLE report_alerts ALTER COLUMN reserve_id DROP NOT NULL;
ALTER TABLE report_alerts ADD COLUMN event_key text UNIQUE;
