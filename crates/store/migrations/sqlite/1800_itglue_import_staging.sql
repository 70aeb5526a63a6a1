-- Pages of IT Glue imports in progress (DESIGN §4.2). An import writes each page here, in a short
-- transaction of its own, as soon as it has read it; its last step moves everything it staged into
-- the directory tables in one transaction and deletes it. So the importer never holds a whole
-- account in memory, the writer is never held while IT Glue is asked, and a reader sees either the
-- old directory or the new one. import_id tells concurrent imports apart; staged_at lets rows of an
-- import that never finished (the process died) be removed a day later.
CREATE TABLE itglue_staged_organizations (
    import_id   TEXT    NOT NULL,
    id          INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    short_name  TEXT,
    staged_at   INTEGER NOT NULL,
    PRIMARY KEY (import_id, id)
);

CREATE TABLE itglue_staged_contacts (
    import_id       TEXT    NOT NULL,
    id              INTEGER NOT NULL,
    organization_id INTEGER NOT NULL,
    important       INTEGER,
    emails          TEXT    NOT NULL,
    staged_at       INTEGER NOT NULL,
    PRIMARY KEY (import_id, id)
);

CREATE TABLE itglue_staged_configurations (
    import_id       TEXT    NOT NULL,
    id              INTEGER NOT NULL,
    organization_id INTEGER NOT NULL,
    name            TEXT    NOT NULL,
    hostname        TEXT,
    macs            TEXT    NOT NULL,
    archived        INTEGER NOT NULL,
    staged_at       INTEGER NOT NULL,
    PRIMARY KEY (import_id, id)
);
