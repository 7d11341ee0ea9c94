-- What admins did through the API: who (the token's name and id), what, to what, when.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    token_id    INTEGER,                          -- NULL: the admin token
    action      TEXT NOT NULL,                    -- token.create, operator.delete, ...
    target      TEXT,
    detail      TEXT                              -- JSON
);
CREATE INDEX audit_log_at ON audit_log (at_ms);
