-- A device's OwnTracks payload key (issue 18: the app's "encryption key"
-- setting, libsodium secretbox). Not the key itself: the key sealed with the
-- server's own secret (XChaCha20-Poly1305, the device id as associated data),
-- which lives in the home's secrets file, outside the database. A SELECT, a
-- dump or a backup of this table does not give the key away, and a sealed key
-- copied onto another device's row does not open. NULL = no key set.
ALTER TABLE devices ADD COLUMN owntracks_key_sealed bytea;
