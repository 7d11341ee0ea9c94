-- Inbound queue calls given to operators: each ring of an operator's phone, answered or not,
-- for the per-operator accepted and missed figures of the reports.
CREATE TABLE inbound_offers (
    id          INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    operator    TEXT NOT NULL,
    queue       TEXT NOT NULL,
    accepted    INTEGER NOT NULL                  -- 1: answered and bridged, 0: missed
);
CREATE INDEX inbound_offers_at ON inbound_offers (at_ms);
