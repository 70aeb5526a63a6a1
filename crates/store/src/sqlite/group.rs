//! The one writer's transaction for what queued up in the group commit (see
//! [`crate::group_commit`]): accepted alerts, and the engine's decision batches beside them.

use sqlx::{Acquire, Sqlite, Transaction};

use super::{alerts, decisions, SqliteStore};
use crate::error::StoreError;
use crate::group_commit::{BatchIntake, GroupOutcome};
use crate::model::{DecisionBatch, NewAlert};

const ACTION: &str = "committing accepted alerts and the engine's decisions";

#[async_trait::async_trait]
impl BatchIntake for SqliteStore {
    async fn commit_group(&self, alerts: &[NewAlert], batches: &[DecisionBatch]) -> GroupOutcome {
        match commit(self, alerts, batches).await {
            Ok(outcome) => outcome,
            Err(error) => GroupOutcome {
                alerts: Err(error),
                decisions: Vec::new(),
            },
        }
    }
}

/// One transaction: the alerts first, then each batch; an error returned here means nothing was
/// committed. A batch refused beside other work takes back only its own writes.
///
/// The batches are first applied as they are, with no savepoint around each (a savepoint and its
/// release are two more round trips to the database thread per batch, on the path every accepted
/// alert waits on). Should one be refused beside other work, that transaction is rolled back and
/// the group taken again with each batch in a savepoint of its own. A refusal is rare on SQLite:
/// one engine decides, and a conflict needs a change made meanwhile by another writer.
async fn commit(
    store: &SqliteStore,
    new_alerts: &[NewAlert],
    batches: &[DecisionBatch],
) -> Result<GroupOutcome, StoreError> {
    if new_alerts.is_empty() && batches.is_empty() {
        return Ok(GroupOutcome {
            alerts: Ok(Vec::new()),
            decisions: Vec::new(),
        });
    }
    if let Some(outcome) = commit_once(store, new_alerts, batches, Isolation::None).await? {
        return Ok(outcome);
    }
    commit_once(store, new_alerts, batches, Isolation::Savepoints)
        .await?
        .ok_or_else(|| {
            StoreError::Corrupt("a decision batch in a savepoint was not isolated".into())
        })
}

/// How [`commit_once`] keeps a refused batch's writes apart from the rest of the transaction.
#[derive(Clone, Copy, PartialEq)]
enum Isolation {
    /// Not at all: a batch refused beside other work gives up the whole attempt.
    None,
    /// Each batch that shares the transaction runs in a savepoint of its own.
    Savepoints,
}

/// One attempt at [`commit`]: `None` when a batch was refused beside other work without a
/// savepoint (the transaction is rolled back, nothing is committed).
async fn commit_once(
    store: &SqliteStore,
    new_alerts: &[NewAlert],
    batches: &[DecisionBatch],
    isolation: Isolation,
) -> Result<Option<GroupOutcome>, StoreError> {
    // Errors name what the transaction was for: intake alone is "accepting alerts".
    let action = if batches.is_empty() {
        "accepting alerts"
    } else {
        ACTION
    };
    let mut tx = store.write(action).await?;
    let accepted = alerts::insert_in(&mut tx, new_alerts).await?;
    let shared = !new_alerts.is_empty() || batches.len() > 1;
    let mut decided = Vec::with_capacity(batches.len());
    for batch in batches {
        let outcome = if shared && isolation == Isolation::Savepoints {
            in_savepoint(&mut tx, batch).await?
        } else {
            decisions::apply_in(&mut tx, batch).await
        };
        if outcome.is_err() && shared && isolation == Isolation::None {
            tx.rollback().await.map_err(StoreError::db(action))?;
            return Ok(None);
        }
        decided.push(outcome);
    }
    if decided.iter().all(Result::is_err) && new_alerts.is_empty() {
        // Nothing to keep: the transaction's end is its rollback.
        return Ok(Some(GroupOutcome {
            alerts: Ok(accepted),
            decisions: decided,
        }));
    }
    tx.commit().await.map_err(StoreError::db(action))?;
    for (batch, outcome) in batches.iter().zip(&decided) {
        if outcome.is_ok() {
            decisions::left_queue(store, batch).await;
        }
    }
    Ok(Some(GroupOutcome {
        alerts: Ok(accepted),
        decisions: decided,
    }))
}

/// Applies `batch` inside a savepoint of `tx`: the inner result is the batch's own outcome (its
/// writes taken back on an error), the outer one an error that leaves `tx` unusable.
async fn in_savepoint(
    tx: &mut Transaction<'static, Sqlite>,
    batch: &DecisionBatch,
) -> Result<Result<(), StoreError>, StoreError> {
    let mut savepoint = tx.begin().await.map_err(StoreError::db(ACTION))?;
    match decisions::apply_in(&mut savepoint, batch).await {
        Ok(()) => {
            savepoint.commit().await.map_err(StoreError::db(ACTION))?;
            Ok(Ok(()))
        }
        Err(error) => {
            savepoint.rollback().await.map_err(StoreError::db(ACTION))?;
            Ok(Err(error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{decided, new_alert, new_incident};
    use crate::model::{AcceptOutcome, AlertState, Incident};
    use crate::port::Store;

    fn alert(id: &str) -> NewAlert {
        new_alert("webhook", id, 0)
    }

    fn incident(key: &str, version: i64) -> Incident {
        Incident {
            version,
            ..new_incident(key, 0)
        }
    }

    fn accepted(outcome: &AcceptOutcome) -> i64 {
        assert!(
            outcome.is_new(),
            "alert {} was a duplicate",
            outcome.alert_id()
        );
        outcome.alert_id()
    }

    /// Alerts and two decision batches in one transaction: the batch refused by a stale incident
    /// takes back its own writes (its alert stays queued) and nothing else; the alerts and the
    /// other batch are committed.
    #[tokio::test]
    async fn a_refused_batch_beside_alerts_takes_back_only_its_own_writes() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        let queued = store
            .accept_alerts_batch(vec![alert("a1"), alert("a2")])
            .await
            .unwrap();
        let (first, second) = (accepted(&queued[0]), accepted(&queued[1]));

        let refused = DecisionBatch {
            // Written first, then the stale incident refuses the batch.
            alerts: vec![decided(first)],
            incidents: vec![incident("acme/stale", 4)],
            ..DecisionBatch::default()
        };
        let good = DecisionBatch {
            alerts: vec![decided(second)],
            incidents: vec![incident("acme/new", 0)],
            ..DecisionBatch::default()
        };
        let outcome = store.commit_group(&[alert("a3")], &[refused, good]).await;

        let third = accepted(&outcome.alerts.unwrap()[0]);
        assert!(
            matches!(outcome.decisions[0], Err(StoreError::Conflict { .. })),
            "the stale batch is refused: {:?}",
            outcome.decisions[0]
        );
        assert!(outcome.decisions[1].is_ok(), "{:?}", outcome.decisions[1]);
        let state = |id| {
            let store = store.clone();
            async move { store.get_alert(id).await.unwrap().unwrap().state }
        };
        assert_eq!(state(first).await, AlertState::Queued);
        assert_eq!(state(second).await, AlertState::Processed);
        assert_eq!(state(third).await, AlertState::Queued);
        assert_eq!(store.get_incident("acme/stale").await.unwrap(), None);
        assert_eq!(
            store
                .get_incident("acme/new")
                .await
                .unwrap()
                .unwrap()
                .version,
            1
        );
    }

    /// A batch alone that is refused leaves nothing, and the transaction is not committed.
    #[tokio::test]
    async fn a_refused_batch_alone_writes_nothing() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        let queued = store.accept_alerts_batch(vec![alert("a1")]).await.unwrap();
        let first = accepted(&queued[0]);
        let refused = DecisionBatch {
            alerts: vec![decided(first)],
            incidents: vec![incident("acme/stale", 4)],
            ..DecisionBatch::default()
        };
        let outcome = store.commit_group(&[], &[refused]).await;
        assert_eq!(outcome.alerts.unwrap(), Vec::new());
        assert!(matches!(
            outcome.decisions[0],
            Err(StoreError::Conflict { .. })
        ));
        let alert = store.get_alert(first).await.unwrap().unwrap();
        assert_eq!(alert.state, AlertState::Queued);
    }
}
