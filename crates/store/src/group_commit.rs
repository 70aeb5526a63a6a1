//! Group commit for single-alert intake, and for the engine's decisions beside it.
//!
//! Every accepted alert must be fsynced before it is acknowledged, and one fsync per HTTP request
//! caps intake at the disk's sync rate (about a thousand per second). Concurrent `accept_alert`
//! calls therefore queue here, and one task commits whatever has queued up as one transaction while
//! the previous commit is still syncing: a lone alert is committed at once, a burst shares fsyncs.
//! Each caller still gets its own outcome only after the transaction holding its alert committed.
//!
//! A backend with one writer (SQLite) also sends the engine's decision batches through this queue:
//! a batch that finds alerts waiting is committed in their transaction, so the engine's page and
//! the intake's next group share one write lock and one fsync instead of taking turns with two.
//! Each batch keeps its all-or-nothing: a batch refused (a concurrent change) writes nothing of
//! its own and leaves the alerts beside it committed (see `sqlite/group.rs` for how).

use tokio::sync::{mpsc, oneshot};

use crate::error::StoreError;
use crate::model::{AcceptOutcome, DecisionBatch, NewAlert};

/// What one transaction of the committing task did.
#[derive(Debug)]
pub(crate) struct GroupOutcome {
    /// The alerts' outcomes, one per alert in order. An error means the transaction did not
    /// commit: nothing of the group is stored, not even a decision batch reported `Ok`.
    pub(crate) alerts: Result<Vec<AcceptOutcome>, StoreError>,
    /// Each decision batch's outcome, in order; an error means that batch wrote nothing.
    pub(crate) decisions: Vec<Result<(), StoreError>>,
}

/// A backend's own multi-alert commit.
#[async_trait::async_trait]
pub(crate) trait BatchIntake: Send + Sync + 'static {
    /// Accepts `alerts` (as `Store::accept_alerts_batch` does) and commits `decisions` (as
    /// `Store::commit_decisions` does), in one transaction where the backend can. Nothing is
    /// committed unless every alert is stored; a decision batch that fails writes nothing of its
    /// own and does not undo the rest.
    async fn commit_group(&self, alerts: &[NewAlert], decisions: &[DecisionBatch]) -> GroupOutcome;
}

/// Most alerts (and decision batches) committed in one transaction.
const MAX_GROUP: usize = 2_000;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One piece of work for the committing task.
enum Work {
    Alert(NewAlert, Reply<AcceptOutcome>),
    Decisions(DecisionBatch, Reply<()>),
}

/// The queue in front of the committing task. Dropping every sender ends the task.
#[derive(Debug, Clone)]
pub(crate) struct GroupCommit {
    queue: mpsc::UnboundedSender<Work>,
}

impl GroupCommit {
    /// Starts the committing task on `store`.
    pub(crate) fn spawn<S: BatchIntake>(store: S) -> GroupCommit {
        let (queue, receiver) = mpsc::unbounded_channel();
        tokio::spawn(commit_groups(store, receiver));
        GroupCommit { queue }
    }

    /// Accepts one alert, durably, possibly in the same transaction as concurrent callers' alerts.
    pub(crate) async fn accept(&self, alert: NewAlert) -> Result<AcceptOutcome, StoreError> {
        let (reply, outcome) = oneshot::channel();
        self.send(Work::Alert(alert, reply), outcome).await
    }

    /// Commits one decision batch, possibly in the same transaction as queued alerts.
    pub(crate) async fn decide(&self, batch: DecisionBatch) -> Result<(), StoreError> {
        let (reply, outcome) = oneshot::channel();
        self.send(Work::Decisions(batch, reply), outcome).await
    }

    async fn send<T>(
        &self,
        work: Work,
        outcome: oneshot::Receiver<Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.queue
            .send(work)
            .map_err(|_| StoreError::Corrupt("the store's committing task has stopped".into()))?;
        outcome.await.map_err(|_| {
            StoreError::Corrupt("the store's committing task stopped before answering".into())
        })?
    }
}

async fn commit_groups<S: BatchIntake>(store: S, mut receiver: mpsc::UnboundedReceiver<Work>) {
    let mut group = Vec::new();
    while receiver.recv_many(&mut group, MAX_GROUP).await > 0 {
        let mut alerts = Vec::new();
        let mut alert_replies = Vec::new();
        let mut batches = Vec::new();
        let mut batch_replies = Vec::new();
        for work in group.drain(..) {
            match work {
                Work::Alert(alert, reply) => {
                    alerts.push(alert);
                    alert_replies.push(reply);
                }
                Work::Decisions(batch, reply) => {
                    batches.push(batch);
                    batch_replies.push(reply);
                }
            }
        }
        let outcome = store.commit_group(&alerts, &batches).await;
        // A caller that gave up waiting still has its work stored; nothing to undo.
        match outcome.alerts {
            Ok(outcomes) => {
                for (reply, outcome) in alert_replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
                for (reply, decided) in batch_replies.into_iter().zip(outcome.decisions) {
                    let _ = reply.send(decided);
                }
            }
            Err(_) => {
                // Nothing of the group was committed. Retry each piece alone, so each caller
                // gets the error that belongs to its own work (and the others are not held
                // hostage by it).
                for (alert, reply) in alerts.iter().zip(alert_replies) {
                    let _ = reply.send(accept_alone(&store, alert).await);
                }
                for (batch, reply) in batches.iter().zip(batch_replies) {
                    let _ = reply.send(decide_alone(&store, batch).await);
                }
            }
        }
    }
}

/// Accepts `alert` in a transaction of its own.
pub(crate) async fn accept_alone<S: BatchIntake>(
    store: &S,
    alert: &NewAlert,
) -> Result<AcceptOutcome, StoreError> {
    store
        .commit_group(std::slice::from_ref(alert), &[])
        .await
        .alerts?
        .pop()
        .ok_or_else(|| StoreError::Corrupt("accepting one alert gave no outcome".into()))
}

/// Commits `batch` in a transaction of its own.
pub(crate) async fn decide_alone<S: BatchIntake>(
    store: &S,
    batch: &DecisionBatch,
) -> Result<(), StoreError> {
    let outcome = store.commit_group(&[], std::slice::from_ref(batch)).await;
    outcome.alerts?;
    outcome.decisions.into_iter().next().unwrap_or_else(|| {
        Err(StoreError::Corrupt(
            "committing one decision batch gave no outcome".into(),
        ))
    })
}
