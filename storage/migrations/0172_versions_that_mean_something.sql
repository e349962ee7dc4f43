-- A visit-record version is stored only when what it says changes (visits, windows,
-- flags, reconciliation) or the meaning of its inputs does (fence, parameters, clock
-- events, session state, provisional/final) -- not because one more fix arrived.
-- result_digest is what is compared; status says whether the record may still move
-- (provisional: session open, or late data not yet settled) or is final.
ALTER TABLE visit_derivations
    ADD COLUMN status text NOT NULL DEFAULT 'provisional'
        CHECK (status IN ('provisional', 'final')),
    ADD COLUMN result_digest text;

-- The inputs a session was last derived from, updated in place on every derivation
-- (cheap): the audit can always name the digest and count of the newest fixes, and
-- which stored version they re-derived to, without a version per fix.
CREATE TABLE visit_derivation_inputs (
    session_id        uuid PRIMARY KEY REFERENCES job_sessions (id),
    version           integer NOT NULL,
    input_digest      text NOT NULL,
    fix_count         integer NOT NULL,
    params_digest     text NOT NULL,
    fence_digest      text NOT NULL,
    fence_version     integer NOT NULL,
    clock_digest      text,
    session_state     text NOT NULL,
    inputs_changed_at timestamptz NOT NULL,
    checked_at        timestamptz NOT NULL
);

INSERT INTO visit_derivation_inputs
SELECT DISTINCT ON (session_id) session_id, version, input_digest, fix_count,
       params_digest, fence_digest, fence_version, clock_digest, session_state,
       derived_at, derived_at
  FROM visit_derivations
 ORDER BY session_id, version DESC;
