-- Claims of queued alerts and of incident keys, so processes sharing a database take disjoint
-- pages of the queue and work one incident key at a time (SQLite has one process, but keeps
-- the same schema and rules as PostgreSQL). A claim ends when its lease expires, when its
-- holder gives it back, or, for an alert, when the alert leaves the state it was claimed in.
ALTER TABLE alerts ADD COLUMN claim_owner TEXT;
ALTER TABLE alerts ADD COLUMN claim_expires_at INTEGER;
CREATE TRIGGER alerts_claim_ends AFTER UPDATE OF state ON alerts
    WHEN NEW.state <> OLD.state AND NEW.claim_owner IS NOT NULL
BEGIN
    UPDATE alerts SET claim_owner = NULL, claim_expires_at = NULL WHERE id = NEW.id;
END;

CREATE TABLE incident_claims (
    incident_key TEXT    PRIMARY KEY,
    owner        TEXT    NOT NULL,
    expires_at   INTEGER NOT NULL
);
