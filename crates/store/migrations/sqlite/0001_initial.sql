-- mspbridge store schema, version 1.
-- Times are INTEGER microseconds since the Unix epoch (UTC); payloads are compact JSON text.

-- Accepted alerts. (source, source_alert_id) is the intake dedup key.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    source          TEXT    NOT NULL,
    source_alert_id TEXT    NOT NULL,
    client          TEXT,
    alert_name      TEXT    NOT NULL,
    occurred_at     INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'processed', 'unrouted')),
    payload         TEXT    NOT NULL,
    UNIQUE (source, source_alert_id)
);
CREATE INDEX alerts_by_state ON alerts (state, id);
CREATE INDEX alerts_by_client ON alerts (client, id);
CREATE INDEX alerts_by_received ON alerts (received_at);

-- Durable work queue. At most one job per serial_key holds a live lease.
-- `head` is 1 exactly for the oldest unfinished job of each serial key (and for every
-- job without a key), so claims only look at jobs that may run now, however long the
-- queue behind one busy key grows.
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    kind             TEXT    NOT NULL,
    serial_key       TEXT,
    payload          TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
    head             INTEGER NOT NULL,
    run_at           INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_token      TEXT,
    lease_expires_at INTEGER,
    last_error       TEXT,
    idempotency_key  TEXT UNIQUE,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
-- Claim: due heads in run_at order.
CREATE INDEX jobs_due ON jobs (run_at, id) WHERE state IN ('queued', 'running') AND head = 1;
-- Head maintenance: the oldest unfinished job of a key.
CREATE INDEX jobs_serial ON jobs (serial_key, id) WHERE state IN ('queued', 'running');
-- Claim: is another job of this key leased right now?
CREATE INDEX jobs_leased ON jobs (serial_key, lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_by_state ON jobs (state, id);

-- One row per alert key currently tracked, with optimistic version.
CREATE TABLE incidents (
    key            TEXT PRIMARY KEY,
    client         TEXT,
    ticket_id      INTEGER,
    status         TEXT    NOT NULL,
    first_alert_at INTEGER NOT NULL,
    last_alert_at  INTEGER NOT NULL,
    alert_count    INTEGER NOT NULL,
    buffer         TEXT    NOT NULL,
    flush_at       INTEGER,
    flood          INTEGER NOT NULL,
    details        TEXT    NOT NULL,
    version        INTEGER NOT NULL
);
CREATE INDEX incidents_by_flush ON incidents (flush_at) WHERE flush_at IS NOT NULL;
CREATE INDEX incidents_by_client ON incidents (client);
CREATE INDEX incidents_by_last_alert ON incidents (last_alert_at);

-- Every ticket an incident key has owned, for correlation lines.
CREATE TABLE incident_history (
    id        INTEGER PRIMARY KEY,
    key       TEXT    NOT NULL,
    client    TEXT,
    ticket_id INTEGER NOT NULL,
    opened_at INTEGER NOT NULL,
    flood     INTEGER NOT NULL
);
CREATE INDEX incident_history_by_key ON incident_history (key, opened_at);
CREATE INDEX incident_history_by_opened ON incident_history (opened_at);

-- Ticket creates keyed by the externalXRef they carry.
CREATE TABLE ticket_requests (
    external_xref TEXT PRIMARY KEY,
    incident_key  TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    ticket_id     INTEGER
);
CREATE INDEX ticket_requests_by_created ON ticket_requests (created_at);

-- Integration events (DESIGN section 7).
CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    code    INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    client  TEXT,
    subject TEXT,
    message TEXT    NOT NULL,
    details TEXT    NOT NULL
);
CREATE INDEX events_by_at ON events (at);
CREATE INDEX events_by_code ON events (code, at);
CREATE INDEX events_by_client ON events (client, at);

-- Small durable settings (flood windows, scheduler last runs).
CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
