-- The rule decisions taken about an alert, with their reasons (routing, repeat, flood,
-- consolidation, reopen, …): a JSON array the engine appends to in the transaction that decides
-- the alert, and in a flush's transaction. Kept on the alert row, so retention forgets them
-- with it. A plain column added in place: the table keeps no triggers and no AUTOINCREMENT.
ALTER TABLE alerts ADD COLUMN decisions TEXT NOT NULL DEFAULT '[]';
