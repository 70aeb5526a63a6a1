-- Per-client daily roll-ups, so security summary reports keep every count after retention has
-- forgotten the raw alerts and events (DESIGN §3 rule 8); the same table as SQLite's migration
-- 1500. Written by the store in the transaction that takes an alert off the queue (kinds type,
-- account, system) or appends an event (kind event, name = the event code).
CREATE TABLE report_rollups (
    client TEXT   NOT NULL,
    day    TEXT   NOT NULL,                  -- YYYY-MM-DD, UTC
    kind   TEXT   NOT NULL CHECK (kind IN ('type', 'account', 'system', 'event')),
    name   TEXT   NOT NULL,
    count  BIGINT NOT NULL,
    PRIMARY KEY (client, day, kind, name)
);
CREATE INDEX report_rollups_by_day ON report_rollups (day);

-- Retention of finished jobs looks them up by when they finished.
CREATE INDEX jobs_done_by_finished ON jobs (finished_at) WHERE state = 'done';

-- Back-fill from what is stored: processed alerts with a client, and events with a client.
-- Counted as crate::rollup::alert_counts counts.

-- A payload as JSON, or NULL when the stored text is not JSON (it still counts as its type).
CREATE FUNCTION pg_temp.rollup_json(payload TEXT) RETURNS JSONB AS $$
BEGIN
    RETURN payload::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END;
$$ LANGUAGE plpgsql IMMUTABLE;

-- The UTC day of a time in microseconds.
CREATE FUNCTION pg_temp.rollup_day(at BIGINT) RETURNS TEXT AS $$
    SELECT to_char(TIMESTAMP '1970-01-01' + at * INTERVAL '1 microsecond', 'YYYY-MM-DD');
$$ LANGUAGE sql IMMUTABLE;

-- The trimmed text of a string field, NULL when absent, not a string, or blank.
CREATE FUNCTION pg_temp.rollup_text(record JSONB, field TEXT) RETURNS TEXT AS $$
    SELECT CASE WHEN jsonb_typeof(record -> field) = 'string'
                THEN NULLIF(btrim(record ->> field), '') END;
$$ LANGUAGE sql IMMUTABLE;

INSERT INTO report_rollups (client, day, kind, name, count)
SELECT client, pg_temp.rollup_day(occurred_at), 'type', alert_name, COUNT(*)
FROM alerts
WHERE state = 'processed' AND client IS NOT NULL
GROUP BY 1, 2, 4;

-- The activity records of a payload: under records, activity_records or ActivityRecords, or the
-- payload itself when it is one record (objects only), as the report counter reads them.
CREATE TEMP TABLE rollup_records AS
SELECT decided.client, decided.day, records.record
FROM (
    SELECT client, pg_temp.rollup_day(occurred_at) AS day, pg_temp.rollup_json(payload) AS doc
    FROM alerts
    WHERE state = 'processed' AND client IS NOT NULL
) AS decided
CROSS JOIN LATERAL jsonb_array_elements(CASE
    WHEN jsonb_typeof(decided.doc -> 'records') = 'array' THEN decided.doc -> 'records'
    WHEN jsonb_typeof(decided.doc -> 'activity_records') = 'array' THEN decided.doc -> 'activity_records'
    WHEN jsonb_typeof(decided.doc -> 'ActivityRecords') = 'array' THEN decided.doc -> 'ActivityRecords'
    WHEN jsonb_typeof(decided.doc) = 'object' THEN jsonb_build_array(decided.doc)
    ELSE '[]'::jsonb
END) AS records(record)
WHERE decided.doc IS NOT NULL AND jsonb_typeof(records.record) = 'object';

-- The first non-blank text among a field's spellings.
CREATE TEMP TABLE rollup_fields AS
SELECT client, day,
       COALESCE(pg_temp.rollup_text(record, 'who'), pg_temp.rollup_text(record, 'Who')) AS who,
       COALESCE(pg_temp.rollup_text(record, 'workstation'),
                pg_temp.rollup_text(record, 'Workstation')) AS workstation,
       COALESCE(pg_temp.rollup_text(record, 'where'), pg_temp.rollup_text(record, 'where_'),
                pg_temp.rollup_text(record, 'Where')) AS place
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
) AS systems
GROUP BY 1, 2, 4;

DROP TABLE rollup_fields;
DROP TABLE rollup_records;

INSERT INTO report_rollups (client, day, kind, name, count)
SELECT client, pg_temp.rollup_day(at), 'event', code::text, COUNT(*)
FROM events
WHERE client IS NOT NULL
GROUP BY 1, 2, 4;

DROP FUNCTION pg_temp.rollup_text(JSONB, TEXT);
DROP FUNCTION pg_temp.rollup_day(BIGINT);
DROP FUNCTION pg_temp.rollup_json(TEXT);
