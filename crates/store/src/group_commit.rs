//! Group commit for single-alert intake.
//!
//! Every accepted alert must be fsynced before it is acknowledged, and one fsync per HTTP request
//! caps intake at the disk's sync rate (about a thousand per second). Concurrent `accept_alert`
//! calls therefore queue here, and one task commits whatever has queued up as one transaction while
//! the previous commit is still syncing: a lone alert is committed at once, a burst shares fsyncs.
//! Each caller still gets its own outcome only after the transaction holding its alert committed.

use tokio::sync::{mpsc, oneshot};

use crate::error::StoreError;
use crate::model::{AcceptOutcome, NewAlert};

/// A backend's own multi-alert commit: one transaction for all of `alerts`.
#[async_trait::async_trait]
pub(crate) trait BatchIntake: Send + Sync + 'static {
    /// Accepts `alerts` in one transaction, as `Store::accept_alerts_batch` does.
    async fn accept_slice(&self, alerts: &[NewAlert]) -> Result<Vec<AcceptOutcome>, StoreError>;
}

/// Most alerts committed in one transaction.
const MAX_GROUP: usize = 2_000;

type Reply = oneshot::Sender<Result<AcceptOutcome, StoreError>>;

/// The queue in front of the committing task. Dropping every sender ends the task.
#[derive(Debug, Clone)]
pub(crate) struct GroupCommit {
    queue: mpsc::UnboundedSender<(NewAlert, Reply)>,
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
        self.queue
            .send((alert, reply))
            .map_err(|_| StoreError::Corrupt("the alert intake task has stopped".into()))?;
        outcome.await.map_err(|_| {
            StoreError::Corrupt("the alert intake task stopped before answering".into())
        })?
    }
}

async fn commit_groups<S: BatchIntake>(
    store: S,
    mut receiver: mpsc::UnboundedReceiver<(NewAlert, Reply)>,
) {
    let mut group = Vec::new();
    while receiver.recv_many(&mut group, MAX_GROUP).await > 0 {
        let (alerts, replies): (Vec<NewAlert>, Vec<Reply>) = group.drain(..).unzip();
        match store.accept_slice(&alerts).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // A caller that gave up waiting still has its alert stored; nothing to undo.
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(_) => {
                // Nothing of the group was committed. Retry alone so each caller gets the error
                // that belongs to its own alert (and the others are not held hostage by it).
                for (alert, reply) in alerts.iter().zip(replies) {
                    let outcome = store
                        .accept_slice(std::slice::from_ref(alert))
                        .await
                        .and_then(|mut one| {
                            one.pop().ok_or_else(|| {
                                StoreError::Corrupt("accepting one alert gave no outcome".into())
                            })
                        });
                    let _ = reply.send(outcome);
                }
            }
        }
    }
}
