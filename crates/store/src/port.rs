//! The storage port: everything the pipeline, schedulers, API and console need to keep.
//!
//! Callers hold an `Arc<dyn Store>` and never know which database is behind it. Each
//! method is one short transaction; none of them is meant to be held open across a
//! network call, which is why jobs are claimed with a lease instead of a row lock: a
//! worker claims, does its HTTP call with nothing open, then reports the outcome with
//! its lease token.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::StoreError;
use crate::model::*;
use crate::RuleDecision;

/// The durable store behind mspbridge.
#[async_trait]
pub trait Store:
    crate::inventory::InventoryStore + crate::reports::ReportStore + Send + Sync + 'static
{
    // ------------------------------------------------------------ lifecycle

    /// Applies any pending schema migrations (also done on open).
    async fn migrate(&self) -> Result<(), StoreError>;
    /// The newest applied schema version.
    async fn schema_version(&self) -> Result<i64, StoreError>;
    /// Checks the database answers (readiness probe).
    async fn ping(&self) -> Result<(), StoreError>;
    /// Closes connections cleanly; later calls fail.
    async fn close(&self);
    /// A counter that moves whenever another process sharing the database may have accepted
    /// alerts or enqueued jobs, so an engine can wake without polling; `None` when no other
    /// process can write to this store's database (SQLite).
    fn work_signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    // ------------------------------------------------------------ alerts

    /// Stores an alert unless `(source, source_alert_id)` is already stored. Durable when
    /// it returns `Ok`.
    async fn accept_alert(&self, alert: NewAlert) -> Result<AcceptOutcome, StoreError>;
    /// Accepts many alerts in one transaction; outcomes are in input order. A repeat
    /// inside the batch is reported as a duplicate of its first occurrence.
    async fn accept_alerts_batch(
        &self,
        alerts: Vec<NewAlert>,
    ) -> Result<Vec<AcceptOutcome>, StoreError>;
    /// One alert by id.
    async fn get_alert(&self, id: AlertId) -> Result<Option<Alert>, StoreError>;
    /// The alerts of `ids` that are stored, each once, in the order of `ids` (a missing id is
    /// skipped).
    async fn get_alerts(&self, ids: &[AlertId]) -> Result<Vec<Alert>, StoreError>;
    /// Alerts matching `filter`, ascending id, at most `limit`.
    async fn list_alerts(&self, filter: AlertFilter, limit: u32) -> Result<Vec<Alert>, StoreError>;
    /// Moves an alert to `state`; see [`AlertState::can_become`] for what is allowed.
    async fn set_alert_state(&self, id: AlertId, state: AlertState) -> Result<(), StoreError>;
    /// Sets (or clears) the alert's client, e.g. when routing after a config change.
    async fn set_alert_client(&self, id: AlertId, client: Option<String>)
        -> Result<(), StoreError>;
    /// Replaces an alert's payload, e.g. with the activity records fetched from Netwrix Auditor at
    /// enrichment, so later steps read the enriched alert instead of fetching it again.
    async fn set_alert_payload(&self, id: AlertId, payload: Value) -> Result<(), StoreError>;
    /// The rule decisions recorded about an alert, oldest first, with their reasons (empty for
    /// an alert not stored or not decided yet).
    async fn alert_decisions(&self, id: AlertId) -> Result<Vec<RuleDecision>, StoreError>;
    /// Alert counts per state.
    async fn count_alerts_by_state(&self) -> Result<Vec<(AlertState, u64)>, StoreError>;
    /// How many alerts are in `state`.
    async fn count_alerts(&self, state: AlertState) -> Result<u64, StoreError>;

    // ------------------------------------------------------------ claims

    /// Records `owner` as an engine sharing the queue until `now + ttl` (renewed by calling
    /// again) and returns its part of the queue among the engines recorded at `now`, in the
    /// order of their names: the `i`-th of `n` gets `Partition { index: i, count: n }`. An engine
    /// that stops renewing drops out when its time runs out, or at once with
    /// [`Store::leave_engines`] or [`Store::expire_leases`].
    async fn join_engines(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Partition, StoreError>;
    /// Ends `owner`'s part in the queue (an engine stopping).
    async fn leave_engines(&self, owner: &str) -> Result<(), StoreError>;
    /// Claims for `owner`, until `now + lease`, up to `limit` queued alerts of `partition` with
    /// ids above `after`, ascending id: those no other owner holds a live claim on (`owner`'s own claims
    /// are renewed). Two owners never hold one alert and neither waits for the other (`FOR
    /// UPDATE SKIP LOCKED` on PostgreSQL). A claim ends when it expires, when it is given back
    /// ([`Store::release_claims`], [`Store::expire_leases`]) or when the alert leaves `queued`.
    async fn claim_alert_page(
        &self,
        owner: &str,
        partition: Partition,
        after: Option<AlertId>,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Alert>, StoreError>;
    /// Claims incident `keys` for `owner` until `now + lease`, so one incident key is worked by
    /// one process at a time; returns, sorted, the keys `owner` now holds (the others are held
    /// by another owner's live claim). `owner`'s own claims are renewed.
    async fn claim_incident_keys(
        &self,
        owner: &str,
        keys: &[String],
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<String>, StoreError>;
    /// Gives back `owner`'s claims on `alerts` and `keys` (those of other owners are kept).
    async fn release_claims(
        &self,
        owner: &str,
        alerts: &[AlertId],
        keys: &[String],
    ) -> Result<(), StoreError>;

    // ------------------------------------------------------------ jobs

    /// Enqueues a job; with an idempotency key already used, returns the existing job.
    async fn enqueue_job(&self, job: NewJob) -> Result<Job, StoreError>;
    /// Enqueues many jobs in one transaction, as `enqueue_job` would one by one; results
    /// are in input order.
    async fn enqueue_jobs(&self, jobs: Vec<NewJob>) -> Result<Vec<Job>, StoreError>;
    /// Leases up to `limit` jobs to `worker_id` until `now + lease`. Only jobs due at
    /// `now`, not leased (or whose lease expired), and at the head of their serial key
    /// (the oldest unfinished job of that key, with no other job of the key leased) are
    /// handed out. Each claim increments `attempts` and issues a fresh lease token.
    async fn claim_jobs(
        &self,
        worker_id: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError>;
    /// [`Store::claim_jobs`] narrowed to jobs of `kind`, with exactly the same rules (a job of
    /// another kind at the head of a serial key still holds back the key). Lets one runner keep
    /// a lane per kind, so a backlog of one kind never starves another.
    async fn claim_jobs_of_kind(
        &self,
        worker_id: &str,
        kind: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError>;
    /// Marks a leased job done. `LeaseLost` if the lease expired at `now` or was re-issued.
    async fn complete_job(
        &self,
        id: JobId,
        lease_token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Records a failure: with `next_run_at` the job is queued again for then (backoff),
    /// without it the job is dead-lettered. The error is kept either way.
    async fn fail_job(
        &self,
        id: JobId,
        lease_token: &str,
        now: DateTime<Utc>,
        error: &str,
        next_run_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;
    /// Extends a live lease to `now + lease`; returns the new expiry.
    async fn extend_lease(
        &self,
        id: JobId,
        lease_token: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<DateTime<Utc>, StoreError>;
    /// The workers holding leases on running jobs, or claims on queued alerts or incident keys.
    async fn lease_owners(&self) -> Result<Vec<String>, StoreError>;
    /// Ends now every lease and claim `owner` holds, so its jobs, alerts and incident keys can
    /// be claimed at once (for a worker known to be gone, e.g. this host's previous process);
    /// returns how many.
    async fn expire_leases(&self, owner: &str, now: DateTime<Utc>) -> Result<u64, StoreError>;
    /// One job by id.
    async fn get_job(&self, id: JobId) -> Result<Option<Job>, StoreError>;
    /// Jobs matching `filter`, ascending id, at most `limit`.
    async fn list_jobs(&self, filter: JobFilter, limit: u32) -> Result<Vec<Job>, StoreError>;
    /// Puts a dead job back in the queue, due at `now`, with a fresh retry budget (attempts
    /// back to 0); its last error is kept until the next attempt.
    async fn retry_dead_job(&self, id: JobId, now: DateTime<Utc>) -> Result<Job, StoreError>;
    /// Queued, running and dead job counts.
    async fn queue_depth(&self) -> Result<QueueDepth, StoreError>;
    /// The earliest `run_at` of a queued job, for a worker to know when to wake up.
    async fn next_job_run_at(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    // ------------------------------------------------------------ incidents

    /// The incidents tracked under `keys`, in one read (a key with none is left out), ascending
    /// key.
    async fn get_incidents(&self, keys: &[String]) -> Result<Vec<Incident>, StoreError>;
    /// The incident tracked under `key`.
    async fn get_incident(&self, key: &str) -> Result<Option<Incident>, StoreError> {
        Ok(self.get_incidents(&[key.to_string()]).await?.pop())
    }
    /// Inserts (`version == 0`) or updates (`version` = the stored version) an incident
    /// and returns it with its new version. `Conflict` if the stored version differs.
    /// Setting a `ticket_id` different from the stored one appends an incident history
    /// entry in the same transaction.
    async fn upsert_incident(&self, incident: Incident) -> Result<Incident, StoreError>;
    /// Writes a page of engine decisions in one transaction: alert states (each alert must
    /// still be `queued`; it becomes `processed`, `unrouted` or `enriching`), incidents (optimistic versions as in `upsert_incident`), their
    /// buffer changes, conditional settings and jobs. All or nothing: `Conflict` or
    /// `SettingChanged` when something changed since it was read, and then nothing is written.
    /// A buffer change for an incident the batch does not write is `InvalidArgument`.
    async fn commit_decisions(&self, batch: DecisionBatch) -> Result<(), StoreError>;
    /// The consolidation buffer of incident `key`, oldest first (empty when there is none).
    async fn incident_buffer(&self, key: &str) -> Result<Vec<BufferEntry>, StoreError>;
    /// Removes an incident, with its buffer, if its version still matches.
    async fn delete_incident(&self, key: &str, version: i64) -> Result<(), StoreError>;
    /// Incidents matching `filter`, ascending key.
    async fn list_incidents(&self, filter: IncidentFilter) -> Result<Vec<Incident>, StoreError>;
    /// Tickets the key owned that were opened at or after `since`, oldest first.
    async fn incidents_for_key_since(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<IncidentHistoryEntry>, StoreError>;
    /// Forgets incidents whose last alert is before `cutoff` (never one with a buffer or a
    /// pending flush) and history opened before it;
    /// returns (incidents, history entries) removed.
    async fn delete_incidents_older_than(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError>;

    // ------------------------------------------------------------ ticket requests

    /// Records a ticket create about to be sent; idempotent (returns the stored request).
    async fn record_ticket_request(
        &self,
        external_xref: &str,
        incident_key: &str,
        created_at: DateTime<Utc>,
    ) -> Result<TicketRequest, StoreError>;
    /// Records the ticket a request produced.
    async fn set_ticket_request_result(
        &self,
        external_xref: &str,
        ticket_id: i64,
    ) -> Result<(), StoreError>;
    /// A ticket request by its `externalXRef`.
    async fn get_ticket_request(
        &self,
        external_xref: &str,
    ) -> Result<Option<TicketRequest>, StoreError>;

    // ------------------------------------------------------------ events

    /// Appends an event; returns its id.
    async fn append_event(&self, event: NewEvent) -> Result<i64, StoreError>;
    /// Events matching `filter`, newest first.
    async fn list_events(&self, filter: EventFilter) -> Result<Vec<Event>, StoreError>;
    /// Event counts per code at or after `since` (all time with `None`).
    async fn count_events_by_code(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<EventCounts, StoreError>;

    // ------------------------------------------------------------ retention

    /// Forgets what `policy` allows, measured from `now`, oldest first, in short transactions so
    /// intake is never held up for long; then gives some free space back to the file system.
    async fn prune(
        &self,
        now: DateTime<Utc>,
        policy: &RetentionPolicy,
    ) -> Result<PruneReport, StoreError>;
    /// The database size and the rows of each table, cheap enough to read at every `/metrics`
    /// scrape while retention keeps the tables bounded.
    async fn storage_stats(&self) -> Result<StorageStats, StoreError>;

    // ------------------------------------------------------------ settings

    /// A small durable value.
    async fn get_kv(&self, key: &str) -> Result<Option<Value>, StoreError>;
    /// Stores a small durable value, replacing any previous one.
    async fn put_kv(&self, key: &str, value: Value) -> Result<(), StoreError>;
    /// Stores `value` only if the current value equals `expected` (`None` = absent);
    /// returns whether it was stored. Lets schedulers run once per cluster.
    async fn compare_and_put_kv(
        &self,
        key: &str,
        expected: Option<Value>,
        value: Value,
    ) -> Result<bool, StoreError>;
}
