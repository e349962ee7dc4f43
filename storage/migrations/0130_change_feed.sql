-- The change feed (GET /sync/changes): an app that was offline pulls the jobs
-- that changed since its cursor. Every change to a job or to what hangs off it
-- (sessions, report, reserves, parts, take-backs, history) marks the job with
-- the writing transaction's id; a reader's cursor is the oldest transaction
-- still running when it read (pg_snapshot_xmin), so a change committed later by
-- an older transaction is not skipped (it may be sent twice, never lost).
ALTER TABLE jobs ADD COLUMN changed_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX jobs_changed ON jobs (changed_xid, id);

CREATE FUNCTION jobs_mark_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed_xid := pg_current_xact_id();
    RETURN NEW;
END $$;
CREATE TRIGGER jobs_changed BEFORE UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION jobs_mark_changed();

CREATE FUNCTION job_part_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed uuid;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := OLD.job_id;
    ELSE
        changed := NEW.job_id;
    END IF;
    UPDATE jobs SET changed_xid = pg_current_xact_id()
     WHERE id = changed AND changed_xid <> pg_current_xact_id();
    RETURN NULL;
END $$;

CREATE TRIGGER job_sessions_changed AFTER INSERT OR UPDATE OR DELETE ON job_sessions
    FOR EACH ROW EXECUTE FUNCTION job_part_changed();
CREATE TRIGGER job_history_changed AFTER INSERT ON job_history
    FOR EACH ROW EXECUTE FUNCTION job_part_changed();
CREATE TRIGGER job_reports_changed AFTER INSERT OR UPDATE OR DELETE ON job_reports
    FOR EACH ROW EXECUTE FUNCTION job_part_changed();
CREATE TRIGGER report_reserves_changed AFTER INSERT OR UPDATE OR DELETE ON report_reserves
    FOR EACH ROW EXECUTE FUNCTION job_part_changed();
CREATE TRIGGER job_parts_changed AFTER INSERT OR UPDATE OR DELETE ON job_parts
    FOR EACH ROW EXECUTE FUNCTION job_part_changed();
CREATE TRIGGER job_take_backs_changed AFTER INSERT OR UPDATE OR DELETE ON job_take_backs
    FOR EACH ROW EXECUTE FUNCTION job_part_changed();
