-- The abandon log holds what the regulators ask to see of each abandoned call (docs/storage.md):
-- the number called, the caller id presented, when the abandoned-call message began (NULL: it
-- could not be played), how long the person waited, and the campaign's figures over the
-- regulator's window at that call. `ended_ms` stays the moment the call was abandoned; the
-- hang-up is the attempt's `end_ms`.
ALTER TABLE abandon_log ADD COLUMN phone TEXT;
ALTER TABLE abandon_log ADD COLUMN caller_id TEXT;
ALTER TABLE abandon_log ADD COLUMN message_ms INTEGER;
ALTER TABLE abandon_log ADD COLUMN waited_ms INTEGER;
ALTER TABLE abandon_log ADD COLUMN regulator TEXT;                -- ftc, ofcom
ALTER TABLE abandon_log ADD COLUMN answered_in_window INTEGER;
ALTER TABLE abandon_log ADD COLUMN abandoned_in_window INTEGER;
ALTER TABLE abandon_log ADD COLUMN window_rate REAL;              -- a fraction
UPDATE abandon_log SET phone = (SELECT phone FROM leads WHERE leads.id = abandon_log.lead_id),
                       waited_ms = ended_ms - answered_ms;
CREATE INDEX abandon_log_by_time ON abandon_log (campaign_id, ended_ms);

-- Append-only: a row, once written, is never changed or taken away.
CREATE TRIGGER abandon_log_no_update BEFORE UPDATE ON abandon_log
BEGIN
    SELECT RAISE(ABORT, 'abandon_log is append-only: its rows are the regulator''s record and are never changed');
END;
CREATE TRIGGER abandon_log_no_delete BEFORE DELETE ON abandon_log
BEGIN
    SELECT RAISE(ABORT, 'abandon_log is append-only: its rows are the regulator''s record and are never deleted');
END;
