-- Claims of queued alerts and of incident keys, so processes sharing the database take disjoint
-- pages of the queue (`FOR UPDATE SKIP LOCKED`) and work one incident key at a time. A claim
-- ends when its lease expires, when its holder gives it back, or, for an alert, when the alert
-- leaves the state it was claimed in. Mirrors SQLite's 1600.
ALTER TABLE alerts ADD COLUMN claim_owner TEXT;
ALTER TABLE alerts ADD COLUMN claim_expires_at BIGINT;

CREATE FUNCTION alerts_claim_ends() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state <> OLD.state THEN
        NEW.claim_owner := NULL;
        NEW.claim_expires_at := NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER alerts_claim_ends BEFORE UPDATE OF state ON alerts
    FOR EACH ROW EXECUTE FUNCTION alerts_claim_ends();

CREATE TABLE incident_claims (
    incident_key TEXT   PRIMARY KEY,
    owner        TEXT   NOT NULL,
    expires_at   BIGINT NOT NULL
);
