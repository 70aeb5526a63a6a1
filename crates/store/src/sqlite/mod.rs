//! SQLite implementation of the [`Store`] port.
//!
//! # Why it is safe
//!
//! * **Durability.** The database runs in WAL mode with `synchronous = FULL`: every
//!   commit fsyncs the WAL before returning, so an alert acknowledged after
//!   `accept_alert` returns survives a crash or power loss. (`NORMAL` would only risk
//!   the last transactions on power loss, but "acknowledged means stored" is the
//!   product's first invariant, and batching amortises the fsync.)
//! * **One writer.** SQLite allows one writer at a time, so all writes go through a pool
//!   of exactly one connection and start with `BEGIN IMMEDIATE`; reads use a separate
//!   small pool that sees committed data concurrently (WAL). A second process on the
//!   same file waits up to `busy_timeout` for the write lock instead of failing.
//! * **Job exclusivity.** `claim_jobs` selects and leases in one write transaction, so
//!   two claims can never hand out the same job, and the head-of-key rule plus the
//!   "no other live lease on this key" check keep one job per serial key running.
//! * **Hot paths are indexed.** Dedup uses the `(source, source_alert_id)` unique index.
//!   Each job carries a `head` flag, kept true for exactly the oldest unfinished job of
//!   its serial key (and for every unkeyed job), and claims scan a partial index over
//!   unfinished heads only: a backlog of thousands of jobs behind one busy incident key
//!   costs nothing to the other keys, and finished jobs never slow claims down.
//!
//! # Schema (migrations/sqlite/0001_initial.sql)
//!
//! `alerts`, `jobs`, `incidents`, `incident_history`, `ticket_requests`, `events`, `kv`.
//! Times are INTEGER microseconds since the epoch, payloads compact JSON text.

mod alerts;
pub(crate) use alerts::STORED_PAYLOAD;
mod checkpoint;
mod claims;
mod decisions;
mod group;
mod incidents;
mod inventory;
mod jobs;
mod records;
mod reports;
mod retention;
mod rollups;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use crate::error::StoreError;
use crate::group_commit;
use crate::model::*;
use crate::port::Store;

pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a writer waits for another process holding the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Readers for a file database; WAL lets them run beside the writer.
const READ_CONNECTIONS: u32 = 4;

/// A [`Store`] backed by one SQLite database file (or an in-memory database).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    location: String,
    /// Single-alert intake and the engine's decisions go through group commit; `None` inside the
    /// committing task itself.
    intake: Option<group_commit::GroupCommit>,
    /// Claims of queued alerts and incident keys (see `claims.rs`).
    claims: std::sync::Arc<tokio::sync::Mutex<claims::Claims>>,
    /// Copies the write-ahead log back into a database file off the writer's path.
    _checkpoints: Option<std::sync::Arc<checkpoint::Checkpoints>>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database and applies migrations.
    ///
    /// Accepts `sqlite://path/to/file.db`, `sqlite:path`, `sqlite::memory:` or a plain
    /// file path. An in-memory database lives as long as this store.
    pub async fn open(url_or_path: &str) -> Result<Self, StoreError> {
        let (options, location, in_memory) = connect_options(url_or_path)?;
        let options = options
            .create_if_missing(true)
            // Before any table exists, so a new database can give pruned space back (see
            // retention.rs); an existing database keeps its mode until `convert_auto_vacuum`.
            .auto_vacuum(SqliteAutoVacuum::Incremental)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // Statement journals and sorts stay in memory: a page's multi-row UPDATE would
            // otherwise create, write and delete a file inside the write transaction.
            .pragma("temp_store", "MEMORY")
            .pragma(
                "wal_autocheckpoint",
                checkpoint::WRITER_CHECKPOINT_PAGES.to_string(),
            )
            .row_buffer_size(ROW_BUFFER);

        let open_error = |source| StoreError::Open {
            location: location.clone(),
            source,
        };
        // The in-memory database disappears with its last connection, so keep exactly one
        // forever and use it for reads too.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await
            .map_err(open_error)?;
        MIGRATOR.run(&writer).await?;
        if !in_memory {
            convert_auto_vacuum(&writer, &location).await?;
        }
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(READ_CONNECTIONS)
                .connect_with(options)
                .await
                .map_err(open_error)?
        };
        let checkpoints = (!in_memory).then(|| checkpoint::Checkpoints::spawn(reader.clone()));
        let mut store = SqliteStore {
            writer,
            reader,
            location,
            intake: None,
            claims: Default::default(),
            _checkpoints: checkpoints,
        };
        store.intake = Some(group_commit::GroupCommit::spawn(store.clone()));
        Ok(store)
    }

    /// Where the database lives (a path, or `in-memory`).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The read pool, for tools that copy data out in bulk.
    pub(crate) fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// Starts a write transaction holding the write lock from the start, so it never has
    /// to upgrade a read lock (which SQLite cannot wait for).
    pub(crate) async fn write(
        &self,
        action: &'static str,
    ) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::db(action))
    }
}

/// Rows a statement's result may queue ahead of its reader: a page of queued alerts, so it
/// crosses from the database thread without that thread waiting for the reader at every 50th
/// row (sqlx's default).
const ROW_BUFFER: usize = 256;

/// Largest database converted to `auto_vacuum = INCREMENTAL` by a `VACUUM` at open (a copy of the
/// whole file, a second or two at this size); a larger one is left as it is, with a warning.
const CONVERT_AT_OPEN_BYTES: i64 = 256 * 1024 * 1024;

/// Turns on incremental vacuum for a database created before the store asked for it, when that
/// is cheap enough to do at open.
async fn convert_auto_vacuum(writer: &SqlitePool, location: &str) -> Result<(), StoreError> {
    let action = "checking the database's vacuum mode";
    let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
        .fetch_one(writer)
        .await
        .map_err(StoreError::db(action))?;
    if mode == 2 {
        return Ok(());
    }
    let (pages, page_size): (i64, i64) =
        sqlx::query_as("SELECT page_count, page_size FROM pragma_page_count, pragma_page_size")
            .fetch_one(writer)
            .await
            .map_err(StoreError::db(action))?;
    let bytes = pages.saturating_mul(page_size);
    if bytes > CONVERT_AT_OPEN_BYTES {
        tracing::warn!(
            database = %location,
            bytes,
            "the database was created without incremental vacuum: pruned space is reused but the \
             file does not shrink (see the retention section of the configuration reference)"
        );
        return Ok(());
    }
    vacuum(writer).await
}

/// Rewrites the database with `auto_vacuum = INCREMENTAL` (a full copy of the file).
pub(crate) async fn vacuum(writer: &SqlitePool) -> Result<(), StoreError> {
    let action = "converting the database to incremental vacuum";
    let mut conn = writer.acquire().await.map_err(StoreError::db(action))?;
    sqlx::query("PRAGMA auto_vacuum = INCREMENTAL")
        .execute(&mut *conn)
        .await
        .map_err(StoreError::db(action))?;
    sqlx::query("VACUUM")
        .execute(&mut *conn)
        .await
        .map_err(StoreError::db(action))?;
    Ok(())
}

fn connect_options(url_or_path: &str) -> Result<(SqliteConnectOptions, String, bool), StoreError> {
    let trimmed = url_or_path.trim();
    if trimmed.is_empty() {
        return Err(StoreError::InvalidUrl(
            "the database location is empty".to_string(),
        ));
    }
    let scheme_len = "sqlite:".len();
    if trimmed
        .get(..scheme_len)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("sqlite:"))
    {
        let normalized = format!("sqlite:{}", &trimmed[scheme_len..]);
        let trimmed = normalized.as_str();
        let in_memory = trimmed.contains(":memory:") || trimmed.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(trimmed).map_err(|error| {
            StoreError::InvalidUrl(format!("{trimmed:?} is not a valid SQLite URL: {error}"))
        })?;
        let location = if in_memory {
            "in-memory".to_string()
        } else {
            options.get_filename().display().to_string()
        };
        Ok((options, location, in_memory))
    } else {
        let options = SqliteConnectOptions::new().filename(trimmed);
        Ok((options, trimmed.to_string(), false))
    }
}

// ---------------------------------------------------------------- value encoding

pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub(crate) fn from_micros(value: i64, column: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(value)
        .ok_or_else(|| StoreError::Corrupt(format!("{column} holds an impossible time {value}")))
}

pub(crate) fn opt_from_micros(
    value: Option<i64>,
    column: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    value.map(|v| from_micros(v, column)).transpose()
}

pub(crate) fn plus(at: DateTime<Utc>, span: Duration) -> Result<DateTime<Utc>, StoreError> {
    chrono::Duration::from_std(span)
        .ok()
        .and_then(|span| at.checked_add_signed(span))
        .ok_or_else(|| StoreError::InvalidArgument(format!("{span:?} after {at} is out of range")))
}

pub(crate) fn minus(at: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(span)
        .ok()
        .and_then(|span| at.checked_sub_signed(span))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

pub(crate) fn json_text(value: &Value) -> String {
    // Value's Display is compact JSON and cannot fail.
    value.to_string()
}

/// Which rows a decision statement writes, by whether their `client` changes. SQLite deletes and
/// reinserts the index entries of every indexed column a statement assigns, even to the value it
/// already has; so the rows that keep their client (most of them) are written without assigning
/// `client`, and the rest by a second statement that does.
#[derive(Debug, Clone, Copy)]
pub(super) enum ClientColumn {
    /// Rows whose new client is the one stored; `client` is not assigned.
    Kept,
    /// The others; `client` is assigned.
    Changed,
}

impl ClientColumn {
    /// The `SET` list entry (empty, or ending in a comma) and the `WHERE` condition for the rows
    /// of `table` whose new client is the SQL expression `new`.
    pub(super) fn sql(self, table: &str, new: &str) -> (String, String) {
        match self {
            ClientColumn::Kept => (String::new(), format!("{table}.client IS {new}")),
            ClientColumn::Changed => (
                format!("client = {new}, "),
                format!("{table}.client IS NOT {new}"),
            ),
        }
    }
}

/// The JSON array text of `rows`, for a statement that reads them with `json_each`.
pub(crate) fn rows_text<T: serde::Serialize>(rows: &[T]) -> Result<String, StoreError> {
    serde_json::to_string(rows)
        .map_err(|error| StoreError::Corrupt(format!("rows that are not JSON: {error}")))
}

pub(crate) fn parse_json(text: &str, column: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text)
        .map_err(|error| StoreError::Corrupt(format!("{column} is not valid JSON: {error}")))
}

pub(crate) fn col<'r, T>(row: &'r SqliteRow, column: &'static str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(column)
        .map_err(|error| StoreError::Corrupt(format!("column {column}: {error}")))
}

pub(crate) fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.writer).await?;
        Ok(())
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar::<_, i64>(
            "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success = 1",
        )
        .fetch_one(&self.reader)
        .await
        .map_err(StoreError::db("reading the schema version"))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(StoreError::db("checking the database answers"))?;
        Ok(())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    async fn accept_alert(&self, alert: NewAlert) -> Result<AcceptOutcome, StoreError> {
        if let Some(intake) = &self.intake {
            return intake.accept(alert).await;
        }
        group_commit::accept_alone(self, &alert).await
    }

    async fn accept_alerts_batch(
        &self,
        alerts: Vec<NewAlert>,
    ) -> Result<Vec<AcceptOutcome>, StoreError> {
        group_commit::BatchIntake::commit_group(self, &alerts, &[])
            .await
            .alerts
    }

    async fn get_alert(&self, id: AlertId) -> Result<Option<Alert>, StoreError> {
        alerts::get(self, id).await
    }

    async fn get_alerts(&self, ids: &[AlertId]) -> Result<Vec<Alert>, StoreError> {
        alerts::get_many(self, ids).await
    }

    async fn list_alerts(&self, filter: AlertFilter, limit: u32) -> Result<Vec<Alert>, StoreError> {
        alerts::list(self, filter, limit).await
    }

    async fn set_alert_state(&self, id: AlertId, state: AlertState) -> Result<(), StoreError> {
        alerts::set_state(self, id, state).await
    }

    async fn set_alert_client(
        &self,
        id: AlertId,
        client: Option<String>,
    ) -> Result<(), StoreError> {
        alerts::set_client(self, id, client).await
    }

    async fn set_alert_payload(&self, id: AlertId, payload: Value) -> Result<(), StoreError> {
        alerts::set_payload(self, id, payload).await
    }

    async fn alert_decisions(&self, id: AlertId) -> Result<Vec<crate::RuleDecision>, StoreError> {
        alerts::decisions(self, id).await
    }

    async fn count_alerts_by_state(&self) -> Result<Vec<(AlertState, u64)>, StoreError> {
        alerts::count_by_state(self).await
    }

    async fn count_alerts(&self, state: AlertState) -> Result<u64, StoreError> {
        alerts::count_in(self, state).await
    }

    async fn enqueue_job(&self, job: NewJob) -> Result<Job, StoreError> {
        jobs::enqueue(self, job).await
    }

    async fn enqueue_jobs(&self, jobs: Vec<NewJob>) -> Result<Vec<Job>, StoreError> {
        jobs::enqueue_batch(self, jobs).await
    }

    async fn claim_jobs(
        &self,
        worker_id: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        jobs::claim(self, worker_id, None, now, lease, limit).await
    }

    async fn claim_jobs_of_kind(
        &self,
        worker_id: &str,
        kind: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        jobs::claim(self, worker_id, Some(kind), now, lease, limit).await
    }

    async fn complete_job(
        &self,
        id: JobId,
        lease_token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        jobs::complete(self, id, lease_token, now).await
    }

    async fn fail_job(
        &self,
        id: JobId,
        lease_token: &str,
        now: DateTime<Utc>,
        error: &str,
        next_run_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        jobs::fail(self, id, lease_token, now, error, next_run_at).await
    }

    async fn extend_lease(
        &self,
        id: JobId,
        lease_token: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<DateTime<Utc>, StoreError> {
        jobs::extend_lease(self, id, lease_token, now, lease).await
    }

    async fn lease_owners(&self) -> Result<Vec<String>, StoreError> {
        let mut owners = jobs::lease_owners(self).await?;
        owners.extend(claims::claim_owners(self).await);
        owners.sort();
        owners.dedup();
        Ok(owners)
    }

    async fn expire_leases(&self, owner: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let jobs = jobs::expire_leases(self, owner, now).await?;
        Ok(jobs + claims::expire_claims(self, owner, now).await)
    }

    async fn join_engines(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Partition, StoreError> {
        claims::join_engines(self, owner, now, ttl).await
    }

    async fn leave_engines(&self, owner: &str) -> Result<(), StoreError> {
        claims::leave_engines(self, owner).await
    }

    async fn claim_alert_page(
        &self,
        owner: &str,
        partition: Partition,
        after: Option<AlertId>,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Alert>, StoreError> {
        claims::claim_alert_page(self, owner, partition, after, now, lease, limit).await
    }

    async fn claim_incident_keys(
        &self,
        owner: &str,
        keys: &[String],
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<String>, StoreError> {
        claims::claim_incident_keys(self, owner, keys, now, lease).await
    }

    async fn release_claims(
        &self,
        owner: &str,
        alerts: &[AlertId],
        keys: &[String],
    ) -> Result<(), StoreError> {
        claims::release_claims(self, owner, alerts, keys).await
    }

    async fn get_job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        jobs::get(&self.reader, id).await
    }

    async fn list_jobs(&self, filter: JobFilter, limit: u32) -> Result<Vec<Job>, StoreError> {
        jobs::list(self, filter, limit).await
    }

    async fn retry_dead_job(&self, id: JobId, now: DateTime<Utc>) -> Result<Job, StoreError> {
        jobs::retry_dead(self, id, now).await
    }

    async fn queue_depth(&self) -> Result<QueueDepth, StoreError> {
        jobs::queue_depth(self).await
    }

    async fn next_job_run_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        jobs::next_run_at(self).await
    }

    async fn get_incidents(&self, keys: &[String]) -> Result<Vec<Incident>, StoreError> {
        incidents::get_many(&self.reader, keys).await
    }

    async fn upsert_incident(&self, incident: Incident) -> Result<Incident, StoreError> {
        incidents::upsert(self, incident).await
    }

    async fn commit_decisions(&self, batch: DecisionBatch) -> Result<(), StoreError> {
        if batch == DecisionBatch::default() {
            return Ok(());
        }
        match &self.intake {
            // Beside the alerts queued for the intake's next commit, in its transaction.
            Some(intake) => intake.decide(batch).await,
            None => group_commit::decide_alone(self, &batch).await,
        }
    }

    async fn incident_buffer(&self, key: &str) -> Result<Vec<BufferEntry>, StoreError> {
        incidents::buffer(&self.reader, key).await
    }

    async fn delete_incident(&self, key: &str, version: i64) -> Result<(), StoreError> {
        incidents::delete(self, key, version).await
    }

    async fn list_incidents(&self, filter: IncidentFilter) -> Result<Vec<Incident>, StoreError> {
        incidents::list(self, filter).await
    }

    async fn incidents_for_key_since(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<IncidentHistoryEntry>, StoreError> {
        incidents::history_since(self, key, since).await
    }

    async fn delete_incidents_older_than(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError> {
        incidents::delete_older_than(self, cutoff).await
    }

    async fn record_ticket_request(
        &self,
        external_xref: &str,
        incident_key: &str,
        created_at: DateTime<Utc>,
    ) -> Result<TicketRequest, StoreError> {
        records::record_ticket_request(self, external_xref, incident_key, created_at).await
    }

    async fn set_ticket_request_result(
        &self,
        external_xref: &str,
        ticket_id: i64,
    ) -> Result<(), StoreError> {
        records::set_ticket_request_result(self, external_xref, ticket_id).await
    }

    async fn get_ticket_request(
        &self,
        external_xref: &str,
    ) -> Result<Option<TicketRequest>, StoreError> {
        records::get_ticket_request(&self.reader, external_xref).await
    }

    async fn append_event(&self, event: NewEvent) -> Result<i64, StoreError> {
        records::append_event(self, event).await
    }

    async fn list_events(&self, filter: EventFilter) -> Result<Vec<Event>, StoreError> {
        records::list_events(self, filter).await
    }

    async fn count_events_by_code(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<EventCounts, StoreError> {
        records::count_events_by_code(self, since).await
    }

    async fn prune(
        &self,
        now: DateTime<Utc>,
        policy: &RetentionPolicy,
    ) -> Result<PruneReport, StoreError> {
        retention::prune(self, now, policy).await
    }

    async fn storage_stats(&self) -> Result<StorageStats, StoreError> {
        retention::storage_stats(self).await
    }

    async fn get_kv(&self, key: &str) -> Result<Option<Value>, StoreError> {
        records::get_kv(&self.reader, key).await
    }

    async fn put_kv(&self, key: &str, value: Value) -> Result<(), StoreError> {
        records::put_kv(self, key, value).await
    }

    async fn compare_and_put_kv(
        &self,
        key: &str,
        expected: Option<Value>,
        value: Value,
    ) -> Result<bool, StoreError> {
        records::compare_and_put_kv(self, key, expected, value).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_understood() {
        let (_, location, memory) = connect_options("sqlite::memory:").unwrap();
        assert_eq!((location.as_str(), memory), ("in-memory", true));
        let (_, location, memory) = connect_options("sqlite://data/mspbridge.db").unwrap();
        assert_eq!((location.as_str(), memory), ("data/mspbridge.db", false));
        let (_, location, memory) = connect_options("sqlite:///var/lib/mspbridge/x.db").unwrap();
        assert_eq!(
            (location.as_str(), memory),
            ("/var/lib/mspbridge/x.db", false)
        );
        let (_, location, _) = connect_options("SQLite://upper.db").unwrap();
        assert_eq!(location, "upper.db");
        let (_, location, _) = connect_options("sqlité.db").unwrap();
        assert_eq!(
            location, "sqlité.db",
            "a multi-byte name is a plain path, not a panic"
        );
        let (_, location, memory) = connect_options("/var/lib/mspbridge/db.sqlite").unwrap();
        assert_eq!(
            (location.as_str(), memory),
            ("/var/lib/mspbridge/db.sqlite", false)
        );
        assert!(matches!(
            connect_options("   "),
            Err(StoreError::InvalidUrl(_))
        ));
    }

    #[test]
    fn time_encoding_keeps_microseconds() {
        let at = DateTime::from_timestamp_micros(1_767_225_600_123_456).unwrap();
        assert_eq!(from_micros(micros(at), "t").unwrap(), at);
        assert!(matches!(
            from_micros(i64::MAX, "jobs.run_at"),
            Err(StoreError::Corrupt(message)) if message.contains("jobs.run_at")
        ));
    }

    #[test]
    fn lease_arithmetic_refuses_overflow_and_clamps_cutoffs() {
        let at = DateTime::from_timestamp(0, 0).unwrap();
        assert_eq!(plus(at, Duration::from_secs(60)).unwrap().timestamp(), 60);
        assert!(matches!(
            plus(at, Duration::from_secs(u64::MAX)),
            Err(StoreError::InvalidArgument(_))
        ));
        assert_eq!(
            minus(at, Duration::from_secs(u64::MAX)),
            DateTime::<Utc>::MIN_UTC
        );
    }
}
