-- The evidence log: an append-only RFC 6962 Merkle tree over what crewtrack
-- received and derived (storage/evidence_log.py, docs/evidence.md). A leaf names
-- its row (kind + ref) and holds the hash of the row's canonical bytes; seq is
-- the leaf's index in the tree, assigned under an advisory lock, gapless.
CREATE TABLE evidence_leaves (
    seq       bigint PRIMARY KEY CHECK (seq >= 0),
    kind      text NOT NULL CHECK (kind IN ('message', 'fix', 'event', 'visit', 'invoice')),
    ref       text NOT NULL,
    leaf_hash bytea NOT NULL CHECK (length(leaf_hash) = 32),
    at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, ref)
);

-- Signed tree heads: Ed25519 over the statement in evidence_log.statement().
-- The private key is not in the database (the stack's secrets file).
CREATE TABLE evidence_checkpoints (
    tree_size bigint PRIMARY KEY CHECK (tree_size >= 0),
    root      bytea NOT NULL CHECK (length(root) = 32),
    signed_at timestamptz NOT NULL,
    signature bytea NOT NULL,
    key_id    text NOT NULL
);

-- How far each kind of row has been appended (by its receive/derive/issue time).
CREATE TABLE evidence_watermarks (
    kind text PRIMARY KEY,
    upto timestamptz NOT NULL
);

-- The notary finds new fixes by receive time, not fix time (late data).
CREATE INDEX fixes_received ON fixes (received_at);
CREATE INDEX device_events_received ON device_events (received_at);
CREATE INDEX visit_derivations_derived ON visit_derivations (derived_at);
