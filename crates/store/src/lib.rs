//! Durable storage for mspbridge: the single source of truth of the alert pipeline.
//!
//! The rest of the product talks to the [`Store`] port through an `Arc<dyn Store>` made
//! by [`open_store`]; which database is behind it is chosen by the URL scheme. SQLite
//! ([`SqliteStore`]) serves one process; PostgreSQL ([`PostgresStore`]) serves any number of
//! processes sharing one database. Both pass the same [`conformance`] suite (enabled with the
//! `conformance` cargo feature), and [`copy_sqlite_to_postgres`] moves an installation from the
//! first to the second.
//!
//! # Invariants the store provides
//!
//! * **Nothing accepted is lost.** `accept_alert` / `accept_alerts_batch` return only
//!   after the commit is durable. An accepted alert stays `queued` until the pipeline
//!   marks it `processed` (or `unrouted`), so after a restart the pipeline resumes from
//!   `list_alerts` with `state: queued` in id order. Retention never removes queued or
//!   unrouted alerts, unfinished jobs or dead jobs.
//! * **No duplicates.** Alerts are unique on `(source, source_alert_id)`; jobs on their
//!   optional idempotency key; ticket creates are recorded by `externalXRef` before they
//!   are sent, so an unknown outcome can be resolved by searching for that key.
//! * **One incident key, one worker.** A job's `serial_key` (the incident key) admits one
//!   live lease at a time, and the jobs of a key run oldest first. Incidents carry an
//!   optimistic `version`; a stale write is refused with [`StoreError::Conflict`].
//! * **No transaction across a network call.** Every port method is one short
//!   transaction. Work is held by a lease (owner, random token, expiry), not a lock; a
//!   worker whose lease expired or was taken over gets [`StoreError::LeaseLost`].
//! * **Failures are kept.** A failed job is re-queued with its error (backoff is the
//!   caller's `next_run_at`) or dead-lettered with its last error and attempt count, and
//!   can be retried from the console with `retry_dead_job`.
//! * **The caller owns the clock.** Every time is an argument; the store never reads the
//!   system clock, so rules and tests run on a manual clock.
//!
//! # Schema
//!
//! | table | holds | hot-path index |
//! |---|---|---|
//! | `alerts` | accepted alerts, state `queued`/`processed`/`unrouted`, payload JSON | unique `(source, source_alert_id)`, `(state, id)` |
//! | `jobs` | work queue: kind, serial key, payload, state, run_at, attempts, lease, last error | partial `(run_at, id)` and `(serial_key, id)` over unfinished jobs |
//! | `incidents` | per alert key: ticket, status, times, alert count, buffered count, flush_at, flood, version | `flush_at` (partial), `client` |
//! | `incident_buffer` | consolidation buffer entries, one row each, in append order | `(key, position)` |
//! | `incident_history` | every ticket a key owned, for correlation | `(key, opened_at)` |
//! | `ticket_requests` | `externalXRef` → incident key, ticket id once known | primary key |
//! | `events` | integration events (DESIGN §7) | `at`, `(code, at)`, `(client, at)` |
//! | `kv` | small durable settings | primary key |
//! | `reports` | security reports (HTML), publish state, IT Glue asset id | `(client, id)`, `(publish_state, id)` |
//!
//! Times are stored as microseconds since the Unix epoch; JSON as compact text. Each
//! backend keeps its own migrations under `migrations/<backend>/`.

#[cfg(feature = "conformance")]
pub mod conformance;
mod copy;
mod decision;
mod error;
mod group_commit;
pub mod inventory;
mod inventory_rows;
pub mod model;
mod port;
mod postgres;
pub mod reports;
pub mod rollup;
mod sqlite;

use std::sync::Arc;

pub use async_trait::async_trait;
pub use copy::{copy_sqlite_to_postgres, CopyReport};
pub use decision::{DecisionNote, DecisionRule, RuleDecision};
pub use error::StoreError;
pub use inventory::InventoryStore;
pub use model::*;
pub use port::Store;
pub use postgres::{redact_url, PostgresStore, WORK_CHANNEL};
pub use reports::{
    NewReport, PublishState, PublishUpdate, Report, ReportFilter, ReportId, ReportMeta,
    ReportSource, ReportStore, PUBLISH_REPORT_JOB,
};
pub use rollup::{RollupKind, RollupRow};
pub use sqlite::SqliteStore;

/// Opens the store named by `database_url` and applies migrations.
///
/// * `sqlite://path/to/mspbridge.db`, `sqlite:path`, `sqlite::memory:` — [`SqliteStore`];
/// * `postgres://user:password@host:port/database?…` / `postgresql://…` — [`PostgresStore`].
///
/// Errors never echo the URL itself, which for a server database may hold a password.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mspbridge_store::StoreError> {
/// use std::time::Duration;
/// use chrono::{TimeZone, Utc};
/// use mspbridge_store::{open_store, NewAlert, NewJob};
///
/// let store = open_store("sqlite::memory:").await?;
/// let now = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap();
/// let alert = NewAlert {
///     source: "auditor".into(),
///     source_alert_id: "A1/R7".into(),
///     client: Some("acme".into()),
///     alert_name: "Account locked out".into(),
///     occurred_at: now,
///     received_at: now,
///     payload: serde_json::json!({"Who": "CORP\\alice"}).into(),
/// };
/// assert!(store.accept_alert(alert.clone()).await?.is_new());
/// assert!(!store.accept_alert(alert).await?.is_new()); // Auditor retried: ignored
///
/// store
///     .enqueue_job(NewJob {
///         kind: "ticket.create".into(),
///         serial_key: Some("acme/Account locked out".into()),
///         payload: serde_json::json!({"alert": 1}),
///         run_at: now,
///         idempotency_key: Some("alert-1".into()),
///         created_at: now,
///     })
///     .await?;
/// let jobs = store.claim_jobs("worker-1", now, Duration::from_secs(60), 10).await?;
/// // ... call ConnectWise with no transaction open, then report back with the lease:
/// let lease = jobs[0].lease_token.clone().unwrap();
/// store.complete_job(jobs[0].id, &lease, now).await?;
/// store.close().await;
/// # Ok(())
/// # }
/// ```
pub async fn open_store(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    let url = database_url.trim();
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("sqlite") => Ok(Arc::new(SqliteStore::open(url).await?)),
        Some("postgres") | Some("postgresql") => Ok(Arc::new(PostgresStore::open(url).await?)),
        Some(other) if !other.is_empty() => Err(StoreError::InvalidUrl(format!(
            "unknown database scheme {other:?}; expected sqlite:// or postgres://"
        ))),
        _ => Err(StoreError::InvalidUrl(
            "the database URL has no scheme; expected sqlite://path or sqlite::memory:".to_string(),
        )),
    }
}
