-- predial's schema (SQLite). Times are UTC milliseconds since 1970 (*_ms); phones are E.164.
-- migrations/postgres/0001_init.sql is the same schema in PostgreSQL's words.

CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    policy      TEXT NOT NULL,                    -- CampaignPolicy as JSON (docs/defaults.md)
    state       TEXT NOT NULL DEFAULT 'paused',   -- running, paused, stopped
    created_ms  INTEGER NOT NULL
);

CREATE TABLE leads (
    id          INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    phone       TEXT NOT NULL,
    order_id    TEXT,
    name        TEXT,
    items       TEXT,                             -- JSON array
    sum_minor   INTEGER,
    time_zone   TEXT,
    source      TEXT NOT NULL,                    -- api, import, callback
    state       TEXT NOT NULL DEFAULT 'queued',   -- queued, calling, done, exhausted, cancelled
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at_ms  INTEGER,
    created_ms  INTEGER NOT NULL,
    closed_ms   INTEGER
);
CREATE INDEX leads_phone ON leads (phone);
CREATE INDEX leads_order ON leads (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX leads_open ON leads (campaign_id, created_ms) WHERE closed_ms IS NULL;

-- Leads refused on the way in: invalid numbers and duplicates, for the reports' invalid traffic.
CREATE TABLE rejected_leads (
    id           INTEGER PRIMARY KEY,
    campaign_id  INTEGER NOT NULL,
    phone        TEXT NOT NULL,                   -- as sent
    order_id     TEXT,
    reason       TEXT NOT NULL,                   -- invalid_phone, duplicate, missing_order_id
    message      TEXT NOT NULL,
    duplicate_of INTEGER,
    source       TEXT NOT NULL,
    created_ms   INTEGER NOT NULL
);
CREATE INDEX rejected_by_time ON rejected_leads (created_ms);

-- One row per call attempt: the call detail record.
CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY,
    lead_id     INTEGER NOT NULL REFERENCES leads (id),
    campaign_id INTEGER NOT NULL,
    started_ms  INTEGER NOT NULL,
    ring_ms     INTEGER,
    answer_ms   INTEGER,
    bridge_ms   INTEGER,
    end_ms      INTEGER,
    trunk       TEXT,
    sip_code    INTEGER,
    outcome     TEXT,                             -- answered, busy, no_answer, ..., interrupted
    operator    TEXT,
    call_id     TEXT,
    recording   TEXT
);
CREATE INDEX attempts_lead ON attempts (lead_id);
CREATE INDEX attempts_open ON attempts (started_ms) WHERE end_ms IS NULL;
CREATE INDEX attempts_by_time ON attempts (started_ms);

CREATE TABLE operators (
    id          INTEGER PRIMARY KEY,
    login       TEXT NOT NULL UNIQUE,
    name        TEXT,
    grp         TEXT,
    skills      TEXT NOT NULL DEFAULT '[]',       -- JSON array of campaign / queue names
    ha1_md5     TEXT,
    ha1_sha256  TEXT,
    created_ms  INTEGER NOT NULL
);

-- What the operator's desk says of a call.
CREATE TABLE dispositions (
    id          INTEGER PRIMARY KEY,
    attempt_id  INTEGER REFERENCES attempts (id),
    lead_id     INTEGER NOT NULL REFERENCES leads (id),
    operator    TEXT,
    kind        TEXT NOT NULL,                    -- confirmed, upsell, callback, refused, wrong_number, fake, complaint
    items       TEXT,
    sum_minor   INTEGER,
    callback_ms INTEGER,
    note        TEXT,
    created_ms  INTEGER NOT NULL
);
CREATE INDEX dispositions_lead ON dispositions (lead_id);

CREATE TABLE callbacks (
    id          INTEGER PRIMARY KEY,
    lead_id     INTEGER NOT NULL REFERENCES leads (id),
    at_ms       INTEGER NOT NULL,
    operator    TEXT,
    created_ms  INTEGER NOT NULL,
    done_ms     INTEGER
);

-- Every abandoned call, for the regulator (FTC / Ofcom) audit.
CREATE TABLE abandon_log (
    id          INTEGER PRIMARY KEY,
    attempt_id  INTEGER,
    lead_id     INTEGER NOT NULL,
    campaign_id INTEGER NOT NULL,
    answered_ms INTEGER NOT NULL,
    ended_ms    INTEGER NOT NULL,
    reason      TEXT NOT NULL
);

-- Webhooks waiting to be delivered (at least once, with back-off).
CREATE TABLE webhook_outbox (
    id              INTEGER PRIMARY KEY,
    event           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload         TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_at_ms      INTEGER NOT NULL,
    delivered_ms    INTEGER,
    last_error      TEXT
);
CREATE INDEX webhook_due ON webhook_outbox (next_at_ms) WHERE delivered_ms IS NULL;

-- API tokens besides the admin's: only their SHA-256 is kept.
CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    sha256      TEXT NOT NULL UNIQUE,
    scopes      TEXT NOT NULL,                    -- space-separated: leads:write reports:read admin
    created_ms  INTEGER NOT NULL
);
