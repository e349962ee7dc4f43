-- Clock events sync late and in any order, so a closed session's events can
-- still change (a pause placed after its clock-out arrived). Each derivation
-- records a digest of the clock events it reconciled with; the sweep re-derives
-- a session whose events no longer match it (the state alone does not change).
ALTER TABLE visit_derivations ADD COLUMN clock_digest text;
UPDATE visit_derivations d SET clock_digest = md5(s.evidence::text)
  FROM job_sessions s WHERE s.id = d.session_id;
