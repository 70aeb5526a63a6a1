-- Pages of IT Glue imports in progress (DESIGN §4.2); see the SQLite migration of the same name.
CREATE TABLE itglue_staged_organizations (
    import_id   TEXT   NOT NULL,
    id          BIGINT NOT NULL,
    name        TEXT   NOT NULL,
    short_name  TEXT,
    staged_at   BIGINT NOT NULL,
    PRIMARY KEY (import_id, id)
);

CREATE TABLE itglue_staged_contacts (
    import_id       TEXT    NOT NULL,
    id              BIGINT  NOT NULL,
    organization_id BIGINT  NOT NULL,
    important       BOOLEAN,
    emails          TEXT    NOT NULL,
    staged_at       BIGINT  NOT NULL,
    PRIMARY KEY (import_id, id)
);

CREATE TABLE itglue_staged_configurations (
    import_id       TEXT    NOT NULL,
    id              BIGINT  NOT NULL,
    organization_id BIGINT  NOT NULL,
    name            TEXT    NOT NULL,
    hostname        TEXT,
    macs            TEXT    NOT NULL,
    archived        BOOLEAN NOT NULL,
    staged_at       BIGINT  NOT NULL,
    PRIMARY KEY (import_id, id)
);
