-- Systems inventory and the IT Glue directory with its mappings (DESIGN §1 "system", §4.1-4.5).

-- Machines of the managed clients, registered by hand or learned from alerts.
CREATE TABLE systems (
    client      TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    macs        TEXT    NOT NULL DEFAULT '[]',  -- JSON array of normalised MACs
    sensor      TEXT,
    origin      TEXT    NOT NULL,               -- api | cli | csv | alert
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    PRIMARY KEY (client, name)
);

-- The imported IT Glue directory, per configured instance.
CREATE TABLE itglue_organizations (
    instance    TEXT    NOT NULL,
    id          INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    short_name  TEXT,
    imported_at INTEGER NOT NULL,
    PRIMARY KEY (instance, id)
);

CREATE TABLE itglue_contacts (
    instance        TEXT    NOT NULL,
    id              INTEGER NOT NULL,
    organization_id INTEGER NOT NULL,
    important       INTEGER,                    -- NULL, 0 or 1: IT Glue's tri-state flag
    emails          TEXT    NOT NULL,           -- JSON array of every contact-emails[].value
    PRIMARY KEY (instance, id)
);
CREATE INDEX itglue_contacts_by_organization ON itglue_contacts (instance, organization_id);

CREATE TABLE itglue_configurations (
    instance        TEXT    NOT NULL,
    id              INTEGER NOT NULL,
    organization_id INTEGER NOT NULL,
    name            TEXT    NOT NULL,
    hostname        TEXT,
    macs            TEXT    NOT NULL,           -- JSON array of MAC texts as IT Glue stores them
    archived        INTEGER NOT NULL,
    PRIMARY KEY (instance, id)
);
CREATE INDEX itglue_configurations_by_organization ON itglue_configurations (instance, organization_id);

-- client -> organization and system -> configuration, manual or automatic.
CREATE TABLE itglue_mappings (
    instance     TEXT    NOT NULL,
    subject_kind TEXT    NOT NULL,              -- client | system
    client       TEXT    NOT NULL,
    system       TEXT    NOT NULL DEFAULT '',   -- '' for client mappings
    target_id    INTEGER NOT NULL,
    kind         TEXT    NOT NULL,              -- manual | auto
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (instance, subject_kind, client, system)
);
