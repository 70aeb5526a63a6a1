-- The engines sharing the alert queue, each until its membership runs out; an engine renews its
-- row every few seconds, and the live rows, in order of owner, decide each engine's part of the
-- queue (`Store::join_engines`).
CREATE TABLE engines (
    owner      TEXT   PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
