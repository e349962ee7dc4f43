-- Issue 12, the directory: clients, properties and technicians are archived, not
-- deleted (jobs, invoices and history refer to them), and a property's fence edit
-- re-derives the visits of its sessions.

-- Set while archived: gone from lists by default, still readable by id, no new
-- jobs. A client's archive takes its live properties with it at the same instant,
-- so a restore brings back exactly those.
ALTER TABLE clients ADD COLUMN archived_at timestamptz;
ALTER TABLE properties ADD COLUMN archived_at timestamptz;
ALTER TABLE technicians ADD COLUMN archived_at timestamptz;

-- Bumped whenever the fence's geometry (geofence, or the location a radius is
-- centred on) changes; each derivation records the one it used, and the derive
-- sweep re-derives a session whose last derivation used an older one. Existing
-- derivations used the fence as it is now (version 0).
ALTER TABLE properties ADD COLUMN fence_version integer NOT NULL DEFAULT 0;
ALTER TABLE visit_derivations ADD COLUMN fence_version integer NOT NULL DEFAULT 0;
