-- One process writes a SQLite database, so its claims of queued alerts and incident keys are
-- kept in that process's memory (a claim is a lease and ends with its process anyway): the
-- columns, the trigger and the table of 1700 go, and with them a write transaction per page.
DROP TRIGGER alerts_claim_ends;
DROP TABLE incident_claims;
ALTER TABLE alerts DROP COLUMN claim_owner;
ALTER TABLE alerts DROP COLUMN claim_expires_at;
