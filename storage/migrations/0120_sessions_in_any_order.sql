-- Clock events sync late and in any order (an offline phone): for a moment a
-- technician may have an open session on two jobs (a clock-in synced before the
-- clock-out of the job before), so "one open session per technician" is no
-- longer an index; clocking in closes the other open session instead.
DROP INDEX job_sessions_one_open;
CREATE INDEX job_sessions_open ON job_sessions (technician_id) WHERE state <> 'closed';
