-- An alert can wait for its activity record: state 'enriching' while a durable fetch job backs
-- off (Auditor unreachable), then 'queued' again once the record (or the decision to go on
-- without it) is stored. Mirrors SQLite's 0500.
ALTER TABLE alerts DROP CONSTRAINT IF EXISTS alerts_state_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_state_check
    CHECK (state IN ('queued', 'enriching', 'processed', 'unrouted'));
