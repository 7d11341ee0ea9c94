-- The abandon log holds what the regulators ask to see of each abandoned call (docs/storage.md):
-- the number called, the caller id presented, when the abandoned-call message began (NULL: it
-- could not be played), how long the person waited, and the campaign's figures over the
-- regulator's window at that call. `ended_ms` stays the moment the call was abandoned; the
-- hang-up is the attempt's `end_ms`.
ALTER TABLE abandon_log
    ADD COLUMN phone TEXT,
    ADD COLUMN caller_id TEXT,
    ADD COLUMN message_ms BIGINT,
    ADD COLUMN waited_ms BIGINT,
    ADD COLUMN regulator TEXT,                                    -- ftc, ofcom
    ADD COLUMN answered_in_window BIGINT,
    ADD COLUMN abandoned_in_window BIGINT,
    ADD COLUMN window_rate DOUBLE PRECISION;                      -- a fraction
UPDATE abandon_log SET phone = (SELECT phone FROM leads WHERE leads.id = abandon_log.lead_id),
                       waited_ms = ended_ms - answered_ms;
CREATE INDEX abandon_log_by_time ON abandon_log (campaign_id, ended_ms);

-- Append-only: a row, once written, is never changed or taken away.
CREATE FUNCTION abandon_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'abandon_log is append-only: its rows are the regulator''s record and are never changed or deleted (% refused)', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
CREATE TRIGGER abandon_log_no_change BEFORE UPDATE OR DELETE ON abandon_log
    FOR EACH ROW EXECUTE FUNCTION abandon_log_append_only();
CREATE TRIGGER abandon_log_no_truncate BEFORE TRUNCATE ON abandon_log
    FOR EACH STATEMENT EXECUTE FUNCTION abandon_log_append_only();
