-- Consolidation buffers as rows: a page that adds to a buffer appends rows instead of rewriting a
-- JSON array whose length grows with the backlog, and a flush deletes the rows it carried.

CREATE TABLE incident_buffer (
    position INTEGER PRIMARY KEY,
    key      TEXT    NOT NULL,
    entry    TEXT    NOT NULL
);
CREATE INDEX incident_buffer_by_key ON incident_buffer (key, position);

-- Entries of existing buffers keep their order.
INSERT INTO incident_buffer (key, entry)
SELECT incidents.key, json_quote(items.value)
FROM incidents, json_each(incidents.buffer) AS items
ORDER BY incidents.key, items.key;

-- The buffer's length, kept by the store as entries are appended and drained.
ALTER TABLE incidents ADD COLUMN buffered INTEGER NOT NULL DEFAULT 0;
UPDATE incidents SET buffered = json_array_length(buffer);
ALTER TABLE incidents DROP COLUMN buffer;
