//! Rule decisions kept with their alert: appended by the page commit and by a flush's notes.

use std::sync::Arc;

use super::{at, new_alert, new_incident};
use crate::error::StoreError;
use crate::model::*;
use crate::port::Store;
use crate::{DecisionNote, DecisionRule, RuleDecision};

fn decision(seconds: i64, rule: DecisionRule, outcome: &str, reason: &str) -> RuleDecision {
    RuleDecision::new(at(seconds), rule, outcome, reason)
}

fn outcome(id: AlertId, state: AlertState, decisions: Vec<RuleDecision>) -> AlertOutcome {
    AlertOutcome {
        id,
        state,
        client: Some("acme".to_string()),
        payload: None,
        counted: None,
        decisions,
    }
}

/// The decisions of a page commit are stored with their alerts, in order, exactly as given
/// (text with quotes, commas, brackets and non-ASCII survives); a refused batch records none;
/// later commits and flush notes append, never replace; an unknown alert has none.
pub async fn rule_decisions_recorded_with_the_alert(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for n in 0..3 {
        let accepted = store
            .accept_alert(new_alert("s", &format!("a{n}"), 10 + n))
            .await
            .unwrap();
        ids.push(accepted.alert_id());
    }
    let (first, second, third) = (ids[0], ids[1], ids[2]);
    let routed = decision(
        20,
        DecisionRule::Routing,
        "routed",
        "the alert names client \"acme\"",
    )
    .incident("acme/Lockout");
    let merged = decision(
        20,
        DecisionRule::Repeat,
        "merged",
        "repeat of incident acme/Lockout [1h], within update_interval: merged into ticket #123 \
         — «ünïcode», \\ backslash",
    )
    .incident("acme/Lockout")
    .ticket(Some(123));
    let unrouted = decision(
        21,
        DecisionRule::Unrouted,
        "unrouted",
        "no client matched: source 's'",
    );
    assert!(store.alert_decisions(first).await.unwrap().is_empty());

    // Refused whole: a stale incident version means no decision is recorded either.
    let mut stale = new_incident("acme/stale", 5);
    stale.version = 7;
    let refused = store
        .commit_decisions(DecisionBatch {
            alerts: vec![outcome(first, AlertState::Processed, vec![routed.clone()])],
            incidents: vec![stale],
            ..DecisionBatch::default()
        })
        .await;
    assert!(
        matches!(
            refused,
            Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound { .. })
        ),
        "a stale incident must refuse the batch: {refused:?}"
    );
    assert!(
        store.alert_decisions(first).await.unwrap().is_empty(),
        "a refused batch must record no decision"
    );

    store
        .commit_decisions(DecisionBatch {
            alerts: vec![
                outcome(
                    first,
                    AlertState::Processed,
                    vec![routed.clone(), merged.clone()],
                ),
                outcome(second, AlertState::Unrouted, vec![unrouted.clone()]),
            ],
            ..DecisionBatch::default()
        })
        .await
        .unwrap();
    assert_eq!(
        store.alert_decisions(first).await.unwrap(),
        vec![routed.clone(), merged.clone()],
        "the page's decisions are stored in order, text intact"
    );
    assert_eq!(
        store.alert_decisions(second).await.unwrap(),
        vec![unrouted.clone()]
    );
    assert!(store.alert_decisions(third).await.unwrap().is_empty());
    assert!(store
        .alert_decisions(third + 1000)
        .await
        .unwrap()
        .is_empty());

    // A flush appends to alerts already off the queue; an id no longer stored is skipped.
    let consolidated = decision(
        900,
        DecisionRule::Consolidation,
        "consolidated",
        "flushed after consolidation_interval 15m: carried by the note on ticket #123",
    )
    .ticket(Some(123));
    let reopened = decision(
        900,
        DecisionRule::Reopen,
        "reopened",
        "ticket #123 was closed (status \"Closed\")",
    );
    let note_only = DecisionBatch {
        notes: vec![DecisionNote {
            alerts: vec![second, first, third + 1000],
            decisions: vec![reopened.clone(), consolidated.clone()],
        }],
        ..DecisionBatch::default()
    };
    store.commit_decisions(note_only).await.unwrap();
    assert_eq!(
        store.alert_decisions(first).await.unwrap(),
        vec![
            routed.clone(),
            merged,
            reopened.clone(),
            consolidated.clone()
        ]
    );
    assert_eq!(
        store.alert_decisions(second).await.unwrap(),
        vec![unrouted.clone(), reopened, consolidated]
    );
    assert!(
        store.alert_decisions(third).await.unwrap().is_empty(),
        "a note changes only the alerts it names"
    );

    // Decided again (an unrouted alert routed after a config change): appended.
    store
        .set_alert_state(second, AlertState::Queued)
        .await
        .unwrap();
    store
        .commit_decisions(DecisionBatch {
            alerts: vec![outcome(second, AlertState::Processed, vec![routed.clone()])],
            ..DecisionBatch::default()
        })
        .await
        .unwrap();
    let again = store.alert_decisions(second).await.unwrap();
    assert_eq!(again.len(), 4, "{again:?}");
    assert_eq!(again.first(), Some(&unrouted));
    assert_eq!(again.last(), Some(&routed));
    // An outcome without decisions leaves them alone.
    store
        .commit_decisions(DecisionBatch {
            alerts: vec![outcome(third, AlertState::Processed, Vec::new())],
            ..DecisionBatch::default()
        })
        .await
        .unwrap();
    assert!(store.alert_decisions(third).await.unwrap().is_empty());
    assert_eq!(store.alert_decisions(first).await.unwrap().len(), 4);
}

/// A page mixes alerts that keep the client they were accepted with and alerts the decision
/// routes, reroutes or leaves unrouted, and incidents that keep or change their client: every
/// alert leaves the queue once with the client its outcome names, every incident takes its new
/// client and version, and each processed alert is counted once in its client's roll-ups.
pub async fn decisions_keep_or_change_the_client(store: Arc<dyn Store>) {
    let accepted = |id: &str, client: Option<&str>| {
        let store = store.clone();
        let mut alert = new_alert("s", id, 10);
        alert.client = client.map(str::to_string);
        async move { store.accept_alert(alert).await.unwrap().alert_id() }
    };
    let kept = accepted("kept", Some("acme")).await;
    let routed = accepted("routed", None).await;
    let rerouted = accepted("rerouted", Some("globex")).await;
    let unrouted = accepted("unrouted", Some("acme")).await;
    let decided = |id, state, client: Option<&str>| AlertOutcome {
        client: client.map(str::to_string),
        ..outcome(id, state, Vec::new())
    };

    let mut same = new_incident("acme/same", 5);
    let mut moving = new_incident("acme/moving", 5);
    store
        .commit_decisions(DecisionBatch {
            incidents: vec![same.clone(), moving.clone()],
            ..DecisionBatch::default()
        })
        .await
        .unwrap();
    same.version = 1;
    same.alert_count = 2;
    moving.version = 1;
    moving.client = Some("globex".to_string());

    store
        .commit_decisions(DecisionBatch {
            alerts: vec![
                decided(kept, AlertState::Processed, Some("acme")),
                decided(routed, AlertState::Processed, Some("acme")),
                decided(rerouted, AlertState::Processed, Some("acme")),
                decided(unrouted, AlertState::Unrouted, None),
            ],
            incidents: vec![same, moving],
            ..DecisionBatch::default()
        })
        .await
        .unwrap();

    for (id, state, client) in [
        (kept, AlertState::Processed, Some("acme")),
        (routed, AlertState::Processed, Some("acme")),
        (rerouted, AlertState::Processed, Some("acme")),
        (unrouted, AlertState::Unrouted, None),
    ] {
        let alert = store.get_alert(id).await.unwrap().unwrap();
        assert_eq!(
            (alert.state, alert.client.as_deref()),
            (state, client),
            "alert {id}"
        );
    }
    let same = store.get_incident("acme/same").await.unwrap().unwrap();
    assert_eq!(
        (same.version, same.client.as_deref(), same.alert_count),
        (2, Some("acme"), 2)
    );
    let moving = store.get_incident("acme/moving").await.unwrap().unwrap();
    assert_eq!(
        (moving.version, moving.client.as_deref()),
        (2, Some("globex"))
    );

    let day = at(10).date_naive();
    let counted: u64 = store
        .report_rollups("acme", day, day)
        .await
        .unwrap()
        .iter()
        .filter(|row| row.kind == crate::rollup::RollupKind::Type)
        .map(|row| row.count)
        .sum();
    assert_eq!(counted, 3, "the three alerts processed for acme, once each");

    // Taken off the queue, an alert cannot be decided again, whichever client is named.
    for client in [Some("acme"), Some("globex")] {
        let again = store
            .commit_decisions(DecisionBatch {
                alerts: vec![decided(kept, AlertState::Processed, client)],
                ..DecisionBatch::default()
            })
            .await;
        assert!(
            matches!(again, Err(StoreError::InvalidTransition { .. })),
            "{again:?}"
        );
    }
}

/// An outcome that carries its roll-up counts is counted by them, in place of its stored payload
/// (a batch where every processed alert carries them, and one where some do not); a replaced
/// payload is counted over both.
pub async fn outcome_counts_stand_for_the_stored_payload(store: Arc<dyn Store>) {
    use crate::rollup::RollupKind;
    let mut ids = Vec::new();
    for n in 0..4 {
        let accepted = store
            .accept_alert(new_alert("s", &format!("c{n}"), 10))
            .await
            .unwrap();
        ids.push(accepted.alert_id());
    }
    let counted = |id| AlertOutcome {
        counted: Some(vec![(RollupKind::Account, "CORP\\carried".to_string())]),
        ..outcome(id, AlertState::Processed, Vec::new())
    };
    // Every processed alert carries its counts.
    store
        .commit_decisions(DecisionBatch {
            alerts: vec![counted(ids[0])],
            ..DecisionBatch::default()
        })
        .await
        .unwrap();
    // One carries them, one is counted from its stored payload, one from its replacement.
    store
        .commit_decisions(DecisionBatch {
            alerts: vec![
                counted(ids[1]),
                outcome(ids[2], AlertState::Processed, Vec::new()),
                AlertOutcome {
                    payload: Some(serde_json::json!({"records": [{"Who": "CORP\\replaced"}]})),
                    ..counted(ids[3])
                },
            ],
            ..DecisionBatch::default()
        })
        .await
        .unwrap();

    let day = at(10).date_naive();
    let rows = store.report_rollups("acme", day, day).await.unwrap();
    let count = |kind: RollupKind, name: &str| {
        rows.iter()
            .filter(|row| row.kind == kind && row.name == name)
            .map(|row| row.count)
            .sum::<u64>()
    };
    assert_eq!(count(RollupKind::Account, "CORP\\carried"), 2);
    assert_eq!(
        count(RollupKind::Account, "CORP\\alice"),
        1,
        "the stored payload"
    );
    assert_eq!(count(RollupKind::Account, "CORP\\replaced"), 1);
    assert_eq!(count(RollupKind::Type, "Account locked out"), 2, "{rows:?}");
}
