-- The rule decisions taken about an alert, with their reasons: a JSON array (text, as in
-- SQLite) the engine appends to. Mirrors SQLite's 1600.
ALTER TABLE alerts ADD COLUMN decisions TEXT NOT NULL DEFAULT '[]';
