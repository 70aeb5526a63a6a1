-- An alert can wait for its activity record: state 'enriching' while a durable fetch job backs
-- off (Auditor unreachable), then 'queued' again once the record (or the decision to go on
-- without it) is stored. SQLite cannot change a CHECK constraint in place, so the table is
-- rebuilt with the same columns, ids and indexes (no triggers, no AUTOINCREMENT: the batch
-- insert derives ids from the last rowid).
CREATE TABLE alerts_new (
    id              INTEGER PRIMARY KEY,
    source          TEXT    NOT NULL,
    source_alert_id TEXT    NOT NULL,
    client          TEXT,
    alert_name      TEXT    NOT NULL,
    occurred_at     INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    state           TEXT    NOT NULL
                    CHECK (state IN ('queued', 'enriching', 'processed', 'unrouted')),
    payload         TEXT    NOT NULL,
    UNIQUE (source, source_alert_id)
);
INSERT INTO alerts_new (id, source, source_alert_id, client, alert_name, occurred_at,
                        received_at, state, payload)
    SELECT id, source, source_alert_id, client, alert_name, occurred_at, received_at, state,
           payload
    FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_new RENAME TO alerts;
CREATE INDEX alerts_by_state ON alerts (state, id);
CREATE INDEX alerts_by_client ON alerts (client, id);
CREATE INDEX alerts_by_received ON alerts (received_at);
