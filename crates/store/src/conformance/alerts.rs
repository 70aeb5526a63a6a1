//! Intake checks: dedup, batches, and the alert life cycle.

use std::sync::Arc;

use serde_json::json;

use super::{at, new_alert};
use crate::error::StoreError;
use crate::model::*;
use crate::port::Store;

/// An alert is stored once per (source, source alert id); a repeat changes nothing.
pub async fn accept_dedups_on_source_and_id(store: Arc<dyn Store>) {
    let first = store
        .accept_alert(new_alert("auditor-1", "A1/R1", 10))
        .await
        .unwrap();
    let AcceptOutcome::Accepted(id) = first else {
        panic!("the first delivery must be accepted, got {first:?}");
    };

    let mut repeat = new_alert("auditor-1", "A1/R1", 20);
    repeat.payload = json!({"changed": true}).into();
    let second = store.accept_alert(repeat).await.unwrap();
    assert_eq!(
        second,
        AcceptOutcome::Duplicate(id),
        "a repeat must be a duplicate of the first"
    );

    let other_source = store
        .accept_alert(new_alert("webhook-x", "A1/R1", 30))
        .await
        .unwrap();
    assert!(
        other_source.is_new(),
        "the same id from another source is a different alert"
    );
    assert_ne!(other_source.alert_id(), id);

    let stored = store
        .get_alert(id)
        .await
        .unwrap()
        .expect("accepted alert must be readable");
    assert_eq!(stored.state, AlertState::Queued);
    assert_eq!(
        stored.received_at,
        at(10),
        "a duplicate must not overwrite the stored alert"
    );
    assert_eq!(
        stored.payload,
        new_alert("auditor-1", "A1/R1", 10).payload.to_value()
    );
    assert_eq!(stored.source, "auditor-1");
    assert_eq!(stored.alert_name, "Account locked out");
    assert_eq!(stored.occurred_at, at(9));

    assert!(store.get_alert(id + 1000).await.unwrap().is_none());
}

/// A batch stores many alerts at once, reporting repeats (inside the batch or earlier).
pub async fn accept_batch(store: Arc<dyn Store>) {
    let earlier = store
        .accept_alert(new_alert("s", "old", 1))
        .await
        .unwrap()
        .alert_id();
    let mut batch: Vec<NewAlert> = (0..200)
        .map(|i| new_alert("s", &format!("b{i}"), 10 + i))
        .collect();
    batch.push(new_alert("s", "b7", 500));
    batch.push(new_alert("s", "old", 501));
    let outcomes = store.accept_alerts_batch(batch).await.unwrap();
    assert_eq!(outcomes.len(), 202, "one outcome per input alert");
    assert!(
        outcomes[..200].iter().all(AcceptOutcome::is_new),
        "distinct alerts are all accepted"
    );
    assert_eq!(
        outcomes[200],
        AcceptOutcome::Duplicate(outcomes[7].alert_id()),
        "a repeat inside a batch"
    );
    assert_eq!(
        outcomes[201],
        AcceptOutcome::Duplicate(earlier),
        "a repeat of an earlier alert"
    );

    let ids: Vec<AlertId> = outcomes[..200]
        .iter()
        .map(AcceptOutcome::alert_id)
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "ids ascend in acceptance order");

    let queued = store
        .list_alerts(
            AlertFilter {
                state: Some(AlertState::Queued),
                ..Default::default()
            },
            1000,
        )
        .await
        .unwrap();
    assert_eq!(queued.len(), 201);

    // Many alerts read at once (more than one statement's worth): in the order asked, each
    // once, a missing id skipped.
    let mut wanted: Vec<AlertId> = ids.iter().rev().copied().collect();
    wanted.insert(3, AlertId::MAX);
    wanted.push(earlier);
    wanted.push(ids[0]);
    wanted.extend(ids.iter().copied());
    wanted.extend(ids.iter().copied());
    let read = store.get_alerts(&wanted).await.unwrap();
    let mut expected: Vec<AlertId> = ids.iter().rev().copied().collect();
    expected.push(earlier);
    assert_eq!(
        read.iter().map(|alert| alert.id).collect::<Vec<_>>(),
        expected
    );
    assert_eq!(read[0].source_alert_id, "b199");
    assert_eq!(store.get_alerts(&[]).await.unwrap(), []);

    // New alerts, a repeat among them and an earlier alert, all in one small batch.
    let mixed = vec![
        new_alert("s", "m1", 600),
        new_alert("s", "old", 601),
        new_alert("s", "m2", 602),
        new_alert("s", "m1", 603),
        new_alert("s", "m3", 604),
    ];
    let outcomes = store.accept_alerts_batch(mixed).await.unwrap();
    assert!(outcomes[0].is_new(), "{outcomes:?}");
    assert_eq!(outcomes[1], AcceptOutcome::Duplicate(earlier));
    assert!(outcomes[2].is_new(), "{outcomes:?}");
    assert_eq!(
        outcomes[3],
        AcceptOutcome::Duplicate(outcomes[0].alert_id())
    );
    assert!(outcomes[4].is_new(), "{outcomes:?}");
    for (index, source_alert_id) in [(0, "m1"), (2, "m2"), (4, "m3")] {
        let stored = store
            .get_alert(outcomes[index].alert_id())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.source_alert_id, source_alert_id, "{outcomes:?}");
    }

    assert!(store
        .accept_alerts_batch(Vec::new())
        .await
        .unwrap()
        .is_empty());
}

/// queued → unrouted → (client set) → queued → processed; processed is final.
pub async fn alert_lifecycle_and_routing(store: Arc<dyn Store>) {
    let a = store
        .accept_alert(new_alert("s", "1", 1))
        .await
        .unwrap()
        .alert_id();
    let b = store
        .accept_alert(new_alert("s", "2", 2))
        .await
        .unwrap()
        .alert_id();
    let mut routed = new_alert("t", "3", 3);
    routed.client = Some("acme".into());
    let c = store.accept_alert(routed).await.unwrap().alert_id();

    store
        .set_alert_state(a, AlertState::Unrouted)
        .await
        .unwrap();
    let unrouted = store
        .list_alerts(
            AlertFilter {
                state: Some(AlertState::Unrouted),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(unrouted.iter().map(|x| x.id).collect::<Vec<_>>(), vec![a]);

    store
        .set_alert_client(a, Some("acme".into()))
        .await
        .unwrap();
    store.set_alert_state(a, AlertState::Queued).await.unwrap();
    store
        .set_alert_state(a, AlertState::Processed)
        .await
        .unwrap();
    let stored = store.get_alert(a).await.unwrap().unwrap();
    assert_eq!(stored.client.as_deref(), Some("acme"));
    assert_eq!(stored.state, AlertState::Processed);

    // queued → enriching (waiting for its record) → queued, or → processed; never unrouted.
    store
        .set_alert_state(b, AlertState::Enriching)
        .await
        .unwrap();
    let waiting = store
        .list_alerts(
            AlertFilter {
                state: Some(AlertState::Enriching),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(waiting.iter().map(|x| x.id).collect::<Vec<_>>(), vec![b]);
    let sideways = store.set_alert_state(b, AlertState::Unrouted).await;
    assert!(
        matches!(sideways, Err(StoreError::InvalidTransition { .. })),
        "an enriching alert is routed only once it is queued again, got {sideways:?}"
    );
    store.set_alert_state(b, AlertState::Queued).await.unwrap();
    store
        .set_alert_state(b, AlertState::Enriching)
        .await
        .unwrap();
    store
        .set_alert_state(b, AlertState::Processed)
        .await
        .unwrap();

    let back = store.set_alert_state(a, AlertState::Queued).await;
    assert!(
        matches!(back, Err(StoreError::InvalidTransition { .. })),
        "processed is final, got {back:?}"
    );
    let missing = store.set_alert_state(9999, AlertState::Processed).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "got {missing:?}"
    );
    let missing = store.set_alert_client(9999, None).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "got {missing:?}"
    );

    let enriched = serde_json::json!({"records": [{"who": "CORP\\alice"}], "note": "ünïcode"});
    store.set_alert_payload(a, enriched.clone()).await.unwrap();
    assert_eq!(store.get_alert(a).await.unwrap().unwrap().payload, enriched);
    let missing = store.set_alert_payload(9999, serde_json::Value::Null).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "got {missing:?}"
    );

    let acme = store
        .list_alerts(
            AlertFilter {
                client: Some("acme".into()),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(acme.iter().map(|x| x.id).collect::<Vec<_>>(), vec![a, c]);
    let by_source = store
        .list_alerts(
            AlertFilter {
                source: Some("s".into()),
                after_id: Some(a),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(by_source.iter().map(|x| x.id).collect::<Vec<_>>(), vec![b]);
    let first_only = store.list_alerts(AlertFilter::default(), 1).await.unwrap();
    assert_eq!(first_only.len(), 1, "limit is honoured");

    let counts = store.count_alerts_by_state().await.unwrap();
    let count = |state| {
        counts
            .iter()
            .find(|(s, _)| *s == state)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    assert_eq!(count(AlertState::Queued), 1);
    assert_eq!(count(AlertState::Processed), 2);
    for (state, n) in &counts {
        assert_eq!(store.count_alerts(*state).await.unwrap(), *n, "{state:?}");
    }
    assert_eq!(count(AlertState::Unrouted), 0);
}
