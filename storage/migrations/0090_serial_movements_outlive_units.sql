-- Undoing the take back of a serial that was not on record forgets its unit (the
-- serial is unknown again), while its movements, append-only, stay: a movement no
-- longer needs its unit to exist.
ALTER TABLE serial_movements DROP CONSTRAINT serial_movements_serial_fkey;
