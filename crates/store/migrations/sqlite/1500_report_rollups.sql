-- Per-client daily roll-ups, so security summary reports keep every count after retention has
-- forgotten the raw alerts and events (DESIGN §3 rule 8). Written by the store in the transaction
-- that takes an alert off the queue (kinds type, account, system) or appends an event (kind event,
-- name = the event code).
CREATE TABLE report_rollups (
    client TEXT    NOT NULL,
    day    TEXT    NOT NULL,                 -- YYYY-MM-DD, UTC
    kind   TEXT    NOT NULL CHECK (kind IN ('type', 'account', 'system', 'event')),
    name   TEXT    NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (client, day, kind, name)
) WITHOUT ROWID;
CREATE INDEX report_rollups_by_day ON report_rollups (day);

-- Retention of finished jobs looks them up by when they finished.
CREATE INDEX jobs_done_by_finished ON jobs (finished_at) WHERE state = 'done';

-- Back-fill from what is stored: processed alerts with a client, and events with a client.
INSERT INTO report_rollups (client, day, kind, name, count)
SELECT client, date(occurred_at / 1000000, 'unixepoch'), 'type', alert_name, COUNT(*)
FROM alerts
WHERE state = 'processed' AND client IS NOT NULL
GROUP BY 1, 2, 4;

-- The activity records of a payload: under records, activity_records or ActivityRecords, or the
-- payload itself when it is one record (objects only), as the report counter reads them.
CREATE TEMP TABLE rollup_records AS
SELECT alerts.client AS client,
       date(alerts.occurred_at / 1000000, 'unixepoch') AS day,
       records.value AS record
FROM alerts,
     json_each(CASE
         WHEN json_type(alerts.payload, '$.records') = 'array' THEN json_extract(alerts.payload, '$.records')
         WHEN json_type(alerts.payload, '$.activity_records') = 'array' THEN json_extract(alerts.payload, '$.activity_records')
         WHEN json_type(alerts.payload, '$.ActivityRecords') = 'array' THEN json_extract(alerts.payload, '$.ActivityRecords')
         WHEN json_type(alerts.payload) = 'object' THEN json_array(json(alerts.payload))
         ELSE '[]'
     END) AS records
WHERE alerts.state = 'processed' AND alerts.client IS NOT NULL
  AND json_valid(alerts.payload) AND records.type = 'object';

-- The first non-blank text among a field's spellings, trimmed.
CREATE TEMP TABLE rollup_fields AS
SELECT client, day,
       COALESCE(
           CASE WHEN typeof(json_extract(record, '$.who')) = 'text' AND trim(json_extract(record, '$.who')) <> '' THEN trim(json_extract(record, '$.who')) END,
           CASE WHEN typeof(json_extract(record, '$.Who')) = 'text' AND trim(json_extract(record, '$.Who')) <> '' THEN trim(json_extract(record, '$.Who')) END) AS who,
       COALESCE(
           CASE WHEN typeof(json_extract(record, '$.workstation')) = 'text' AND trim(json_extract(record, '$.workstation')) <> '' THEN trim(json_extract(record, '$.workstation')) END,
           CASE WHEN typeof(json_extract(record, '$.Workstation')) = 'text' AND trim(json_extract(record, '$.Workstation')) <> '' THEN trim(json_extract(record, '$.Workstation')) END) AS workstation,
       COALESCE(
           CASE WHEN typeof(json_extract(record, '$.where')) = 'text' AND trim(json_extract(record, '$.where')) <> '' THEN trim(json_extract(record, '$.where')) END,
           CASE WHEN typeof(json_extract(record, '$.where_')) = 'text' AND trim(json_extract(record, '$.where_')) <> '' THEN trim(json_extract(record, '$.where_')) END,
           CASE WHEN typeof(json_extract(record, '$.Where')) = 'text' AND trim(json_extract(record, '$.Where')) <> '' THEN trim(json_extract(record, '$.Where')) END) AS place
FROM rollup_records;

INSERT INTO report_rollups (client, day, kind, name, count)
SELECT client, day, 'account', who, COUNT(*)
FROM rollup_fields WHERE who IS NOT NULL
GROUP BY 1, 2, 4;

INSERT INTO report_rollups (client, day, kind, name, count)
SELECT client, day, 'system', name, COUNT(*)
FROM (
    SELECT client, day, workstation AS name FROM rollup_fields WHERE workstation IS NOT NULL
    UNION ALL
    SELECT client, day, place FROM rollup_fields
    WHERE place IS NOT NULL AND (workstation IS NULL OR lower(place) <> lower(workstation))
)
GROUP BY 1, 2, 4;

DROP TABLE rollup_fields;
DROP TABLE rollup_records;

INSERT INTO report_rollups (client, day, kind, name, count)
SELECT client, date(at / 1000000, 'unixepoch'), 'event', CAST(code AS TEXT), COUNT(*)
FROM events
WHERE client IS NOT NULL
GROUP BY 1, 2, 4;
