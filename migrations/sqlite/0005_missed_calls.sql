-- Inbound calls nobody answered (hung up in a queue, after hours, waited too long, or asked
-- for a callback), the callback lead made for each, and when that callback reached them.
CREATE TABLE missed_calls (
    id           INTEGER PRIMARY KEY,
    phone        TEXT NOT NULL,                   -- E.164 when it could be read, else as sent
    queue        TEXT NOT NULL,
    reason       TEXT NOT NULL,                   -- abandoned_in_queue, after_hours, max_wait, callback_asked
    waited_ms    INTEGER NOT NULL,
    at_ms        INTEGER NOT NULL,
    lead_id      INTEGER,                         -- the callback lead (new, or the number's open one)
    recovered_ms INTEGER                          -- when the callback reached the caller
);
CREATE INDEX missed_calls_lead ON missed_calls (lead_id) WHERE recovered_ms IS NULL;
CREATE INDEX missed_calls_at ON missed_calls (at_ms);
