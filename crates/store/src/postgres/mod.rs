//! PostgreSQL implementation of the [`Store`] port, for several `serve` processes on one database.
//!
//! # Why it is safe with many processes
//!
//! * **Durability.** A call returns after PostgreSQL committed (with the server's own
//!   `synchronous_commit`); single-alert intake shares commits through the same group commit as
//!   SQLite, so a burst of webhooks costs a few commits, not one each.
//! * **Intake order.** Every intake transaction takes one advisory lock first, so alert ids are
//!   handed out in commit order and the engine's id cursor never passes an alert that another
//!   process commits later.
//! * **Job exclusivity.** Claims select due heads `FOR UPDATE SKIP LOCKED` and lease them in the
//!   same statement: two processes never hand out one job, and neither waits for the other. The
//!   `head` flag of a serial key (the incident key) is only changed while holding that key's
//!   advisory transaction lock, so one incident key is worked by one process at a time and in
//!   order. A lease whose holder died expires and the job is claimed again by another process.
//! * **Optimistic incidents.** An incident update locks its row and checks its version; a stale
//!   write is [`StoreError::Conflict`]. Decision batches lock in a fixed order (advisory keys,
//!   alerts by id, incidents by key) so two processes never deadlock.
//! * **Wake-ups.** Intake and enqueues `NOTIFY` the channel [`WORK_CHANNEL`] in their transaction;
//!   every process `LISTEN`s and wakes its engine on the commit of another process.
//! * **Once per cluster.** Schedulers use `compare_and_put_kv`, which locks the setting's row.
//!
//! # Schema (migrations/postgres/)
//!
//! The same tables and columns as the newest SQLite schema: times are BIGINT microseconds, JSON is
//! compact text, so both backends decode alike and `migrate --to` copies rows as they are.

mod alerts;
mod claims;
mod incidents;
mod inventory;
mod jobs;
mod records;
mod reports;
mod retention;
mod rollups;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{PgConnection, Postgres, Row, Transaction};
use tokio::sync::watch;

use crate::error::StoreError;
use crate::group_commit;
use crate::model::*;
use crate::port::Store;

pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The channel intake and enqueues notify; every store listens to it.
pub const WORK_CHANNEL: &str = "mspbridge_work";

/// Connections per process: the engine, the job runner, intake and the API share them.
const MAX_CONNECTIONS: u32 = 16;
/// How long a call waits for a free connection (or for the database to answer a connect).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Advisory lock class of serial keys: (class, hashtext(key)).
pub(crate) const SERIAL_KEY_LOCK: i32 = 1;
/// Advisory lock class of intake: (class, 0).
pub(crate) const INTAKE_LOCK: i32 = 2;

/// A [`Store`] on one PostgreSQL database, shared by any number of processes.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    location: String,
    intake: Option<group_commit::GroupCommit>,
    changes: Arc<watch::Sender<u64>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database?…`) and applies
    /// migrations. Errors name the host and database, never the password.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url.trim()).map_err(|_| {
            StoreError::InvalidUrl(format!(
                "{} is not a valid PostgreSQL URL (postgres://user:password@host:port/database)",
                redact_url(url)
            ))
        })?;
        let location = location_of(&options);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                location: location.clone(),
                source: scrub(source),
            })?;
        MIGRATOR.run(&pool).await?;
        let (changes, _) = watch::channel(0);
        let mut store = PostgresStore {
            pool,
            location,
            intake: None,
            changes: Arc::new(changes),
        };
        store.intake = Some(group_commit::GroupCommit::spawn(store.clone()));
        tokio::spawn(listen(store.pool.clone(), Arc::downgrade(&store.changes)));
        Ok(store)
    }

    /// Host, port and database (never the user's password).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The connection pool, for tools that copy data in bulk.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) async fn write(
        &self,
        action: &'static str,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(StoreError::db(action))
    }
}

/// Follows [`WORK_CHANNEL`] for as long as the store lives, bumping `changes` on every
/// notification; reconnects after a database outage (and bumps then too, since notifications
/// sent meanwhile were missed).
async fn listen(pool: PgPool, changes: std::sync::Weak<watch::Sender<u64>>) {
    loop {
        if pool.is_closed() || changes.strong_count() == 0 {
            return;
        }
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if listener.listen(WORK_CHANNEL).await.is_err() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        bump(&changes);
        loop {
            // A timeout lets the task notice the store was dropped or closed.
            match tokio::time::timeout(Duration::from_secs(1), listener.try_recv()).await {
                Err(_) => {
                    if pool.is_closed() || changes.strong_count() == 0 {
                        return;
                    }
                }
                Ok(Ok(Some(_))) => bump(&changes),
                Ok(Ok(None)) | Ok(Err(_)) => {
                    bump(&changes);
                    break;
                }
            }
        }
    }
}

fn bump(changes: &std::sync::Weak<watch::Sender<u64>>) {
    if let Some(changes) = changes.upgrade() {
        changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}

pub(crate) fn location_of(options: &PgConnectOptions) -> String {
    format!(
        "postgres://{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("")
    )
}

/// Drops anything a connect error could echo of the URL: sqlx's configuration errors may quote
/// it, so they are replaced by a plain sentence.
pub(crate) fn scrub(error: sqlx::Error) -> sqlx::Error {
    match error {
        sqlx::Error::Configuration(_) => {
            sqlx::Error::Configuration("the connection settings were refused".into())
        }
        other => other,
    }
}

/// `url` with any password replaced by `<redacted>`, for messages.
pub fn redact_url(url: &str) -> String {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return "the database URL".to_string();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{user}:<redacted>@{host}"),
            None => format!("{credentials}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=<redacted>")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

// ---------------------------------------------------------------- helpers

pub(crate) use crate::sqlite::{
    count, from_micros, json_text, micros, minus, opt_from_micros, parse_json, plus,
};

pub(crate) fn col<'r, T>(row: &'r PgRow, column: &'static str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(column)
        .map_err(|error| StoreError::Corrupt(format!("column {column}: {error}")))
}

/// Takes the advisory transaction locks of `keys` (serial keys), sorted so that two
/// transactions locking overlapping sets never wait for each other in a cycle.
pub(crate) async fn lock_serial_keys<'k>(
    tx: &mut PgConnection,
    keys: impl IntoIterator<Item = &'k str>,
) -> Result<(), StoreError> {
    let mut keys: Vec<&str> = keys.into_iter().collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    // One statement for all keys; ORDER BY fixes the order the locks are taken in.
    sqlx::query(
        "SELECT pg_advisory_xact_lock($1, hashtext(k)) \
         FROM (SELECT k FROM UNNEST($2::text[]) AS k ORDER BY hashtext(k), k) AS keys",
    )
    .bind(SERIAL_KEY_LOCK)
    .bind(&keys)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db("locking incident keys"))?;
    Ok(())
}

/// Notifies every listening process that work arrived (delivered at commit).
pub(crate) async fn notify_work(tx: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(WORK_CHANNEL)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("announcing new work"))?;
    Ok(())
}

#[async_trait]
impl Store for PostgresStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar::<_, i64>(
            "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::db("reading the schema version"))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(StoreError::db("checking the database answers"))?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    fn work_signal(&self) -> Option<watch::Receiver<u64>> {
        Some(self.changes.subscribe())
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
        alerts::accept_batch(self, &alerts).await
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
        let mut stored = jobs::enqueue_batch(self, vec![job]).await?;
        stored
            .pop()
            .ok_or_else(|| StoreError::Corrupt("enqueuing one job gave no job".into()))
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
        jobs::claim(self, jobs::KindFilter::Any, worker_id, now, lease, limit).await
    }

    async fn claim_jobs_of_kind(
        &self,
        worker_id: &str,
        kind: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        jobs::claim(
            self,
            jobs::KindFilter::Only(kind),
            worker_id,
            now,
            lease,
            limit,
        )
        .await
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
        owners.extend(claims::claim_owners(self).await?);
        owners.sort();
        owners.dedup();
        Ok(owners)
    }

    async fn expire_leases(&self, owner: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let jobs = jobs::expire_leases(self, owner, now).await?;
        Ok(jobs + claims::expire_claims(self, owner, now).await?)
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
        jobs::get(self, id).await
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
        incidents::get_many(self, keys).await
    }

    async fn upsert_incident(&self, incident: Incident) -> Result<Incident, StoreError> {
        incidents::upsert(self, incident).await
    }

    async fn commit_decisions(&self, batch: DecisionBatch) -> Result<(), StoreError> {
        incidents::commit_decisions(self, batch).await
    }

    async fn incident_buffer(&self, key: &str) -> Result<Vec<BufferEntry>, StoreError> {
        incidents::buffer(self, key).await
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
        records::get_ticket_request(self, external_xref).await
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
        records::get_kv(self, key).await
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
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://mspbridge:hunter2@db.example:5432/mspbridge"),
            "postgres://mspbridge:<redacted>@db.example:5432/mspbridge"
        );
        assert_eq!(
            redact_url("postgresql://u:p@w@h/db?sslmode=require&password=hunter2"),
            "postgresql://u:<redacted>@h/db?sslmode=require&password=<redacted>"
        );
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact_url("postgres://u@h"), "postgres://u@h");
        assert_eq!(redact_url("garbage"), "the database URL");
    }
}
