-- Dashboard (issue 7): teams for the live map's team filter, and the index the
-- map's "who is clocked in" read uses every second.

-- Dispatchers filter the map by team (crew, depot, trade); a technician belongs
-- to at most one. IF NOT EXISTS: harmless if the jobs module adds it first.
ALTER TABLE technicians ADD COLUMN IF NOT EXISTS team text NOT NULL DEFAULT '';

-- Open sessions by device, read on every live-map refresh.
CREATE INDEX IF NOT EXISTS job_sessions_open_device ON job_sessions (device_id)
    WHERE state <> 'closed';
