-- An alert's payload (often a kilobyte or more) moves to a table of its own. The engine changes
-- an alert's state, client and decisions when it takes the alert off the queue, and SQLite
-- rewrites a whole row to change any of its columns: with the payload beside them, a page of
-- alerts rewrote about one database page per three alerts; now a row is some hundred bytes.
-- Payloads are written once (at intake) and replaced only by enrichment.
CREATE TABLE alert_payloads (
    id      INTEGER PRIMARY KEY,   -- alerts.id
    payload TEXT    NOT NULL
);
INSERT INTO alert_payloads (id, payload) SELECT id, payload FROM alerts ORDER BY id;
ALTER TABLE alerts DROP COLUMN payload;

-- An alert's payload goes with it (retention, or any other delete).
CREATE TRIGGER alerts_payload_goes_with_alert AFTER DELETE ON alerts
BEGIN
    DELETE FROM alert_payloads WHERE id = OLD.id;
END;
