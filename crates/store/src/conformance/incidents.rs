//! Incident checks: optimistic versioning, correlation history, ticket request idempotency.

use std::sync::Arc;

use serde_json::json;

use super::{at, new_incident};
use crate::error::StoreError;
use crate::model::*;
use crate::port::Store;

/// A write based on a stale version is refused and changes nothing.
pub async fn incident_optimistic_conflict(store: Arc<dyn Store>) {
    let mut incident = new_incident("acme/lockout", 10);
    incident.buffered = 7; // kept by the store from buffer changes: a write cannot set it
    incident.flush_at = Some(at(70));
    incident.details = json!({"reason": "repeat within update interval"});
    let v1 = store.upsert_incident(incident.clone()).await.unwrap();
    assert_eq!(v1.version, 1, "a new incident gets version 1");
    let v1 = Incident { buffered: 0, ..v1 };
    assert_eq!(
        store.get_incident("acme/lockout").await.unwrap(),
        Some(v1.clone()),
        "round trip"
    );

    let duplicate_insert = store.upsert_incident(incident.clone()).await;
    assert!(
        matches!(
            &duplicate_insert,
            Err(StoreError::Conflict {
                expected: 0,
                actual: Some(1),
                ..
            })
        ),
        "inserting over an existing incident is a conflict, got {duplicate_insert:?}"
    );

    let mut worker_a = v1.clone();
    let mut worker_b = v1.clone();
    worker_a.alert_count = 2;
    worker_a.last_alert_at = at(20);
    let v2 = store.upsert_incident(worker_a).await.unwrap();
    assert_eq!(v2.version, 2);
    worker_b.alert_count = 99;
    let stale = store.upsert_incident(worker_b).await;
    assert!(
        matches!(
            &stale,
            Err(StoreError::Conflict {
                expected: 1,
                actual: Some(2),
                ..
            })
        ),
        "a stale version must conflict, got {stale:?}"
    );
    assert_eq!(
        store
            .get_incident("acme/lockout")
            .await
            .unwrap()
            .unwrap()
            .alert_count,
        2,
        "the losing write changed nothing"
    );

    let mut ghost = new_incident("nobody", 0);
    ghost.version = 3;
    let ghost = store.upsert_incident(ghost).await;
    assert!(
        matches!(ghost, Err(StoreError::Conflict { actual: None, .. })),
        "got {ghost:?}"
    );

    let stale_delete = store.delete_incident("acme/lockout", 1).await;
    assert!(
        matches!(stale_delete, Err(StoreError::Conflict { .. })),
        "got {stale_delete:?}"
    );

    let mut flood = new_incident("globex/flood", 30);
    flood.client = Some("globex".into());
    flood.flood = true;
    store.upsert_incident(flood).await.unwrap();
    let due = store
        .list_incidents(IncidentFilter {
            flush_due_by: Some(at(70)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(),
        vec!["acme/lockout"]
    );
    assert!(store
        .list_incidents(IncidentFilter {
            flush_due_by: Some(at(69)),
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());
    let floods = store
        .list_incidents(IncidentFilter {
            flood: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        floods.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(),
        vec!["globex/flood"]
    );
    let acme = store
        .list_incidents(IncidentFilter {
            client: Some("acme".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(acme.len(), 1);
    let one = store
        .list_incidents(IncidentFilter {
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(one.len(), 1);

    let several = store
        .get_incidents(&[
            "globex/flood".to_string(),
            "nobody".to_string(),
            "acme/lockout".to_string(),
            "acme/lockout".to_string(),
        ])
        .await
        .unwrap();
    assert_eq!(
        several
            .iter()
            .map(|i| (i.key.as_str(), i.version))
            .collect::<Vec<_>>(),
        vec![("acme/lockout", 2), ("globex/flood", 1)],
        "several incidents read at once: those stored, once each, ascending key"
    );
    assert!(store.get_incidents(&[]).await.unwrap().is_empty());

    store.delete_incident("acme/lockout", 2).await.unwrap();
    assert!(store.get_incident("acme/lockout").await.unwrap().is_none());
}

/// Each ticket a key owned is remembered for correlation, within the asked window, even
/// after the incident is gone; old history is forgotten by age.
pub async fn correlation_history_window(store: Arc<dyn Store>) {
    let mut incident = new_incident("acme/lockout", 100);
    incident.ticket_id = Some(101);
    let v1 = store.upsert_incident(incident).await.unwrap();
    let mut repeat = v1.clone();
    repeat.last_alert_at = at(150);
    repeat.alert_count = 2;
    let v2 = store.upsert_incident(repeat).await.unwrap();
    let mut new_ticket = v2.clone();
    new_ticket.ticket_id = Some(102);
    new_ticket.first_alert_at = at(1000);
    new_ticket.last_alert_at = at(1000);
    let v3 = store.upsert_incident(new_ticket).await.unwrap();

    let mut other = new_incident("globex/lockout", 100);
    other.ticket_id = Some(201);
    store.upsert_incident(other).await.unwrap();

    let tickets = |entries: Vec<IncidentHistoryEntry>| {
        entries.iter().map(|e| e.ticket_id).collect::<Vec<_>>()
    };
    let all = store
        .incidents_for_key_since("acme/lockout", at(50))
        .await
        .unwrap();
    assert_eq!(
        tickets(all.clone()),
        vec![101, 102],
        "one entry per ticket, oldest first"
    );
    assert_eq!(all[0].opened_at, at(100));
    assert_eq!(all[0].client.as_deref(), Some("acme"));
    assert!(!all[0].flood);
    assert_eq!(
        tickets(
            store
                .incidents_for_key_since("acme/lockout", at(1000))
                .await
                .unwrap()
        ),
        vec![102],
        "window is inclusive"
    );
    assert!(store
        .incidents_for_key_since("acme/lockout", at(1001))
        .await
        .unwrap()
        .is_empty());

    store
        .delete_incident("acme/lockout", v3.version)
        .await
        .unwrap();
    let mut reborn = new_incident("acme/lockout", 3000);
    reborn.ticket_id = Some(103);
    store.upsert_incident(reborn).await.unwrap();
    assert_eq!(
        tickets(
            store
                .incidents_for_key_since("acme/lockout", at(0))
                .await
                .unwrap()
        ),
        vec![101, 102, 103],
        "history outlives the incident"
    );

    let (incidents, history) = store.delete_incidents_older_than(at(1500)).await.unwrap();
    assert_eq!(
        (incidents, history),
        (1, 3),
        "globex incident; tickets 101, 102, 201"
    );
    assert!(store
        .get_incident("globex/lockout")
        .await
        .unwrap()
        .is_none());
    assert!(store.get_incident("acme/lockout").await.unwrap().is_some());
    assert_eq!(
        tickets(
            store
                .incidents_for_key_since("acme/lockout", at(0))
                .await
                .unwrap()
        ),
        vec![103]
    );
}

/// A ticket request is recorded once per externalXRef and later gets its ticket id.
pub async fn ticket_requests_are_idempotent(store: Arc<dyn Store>) {
    let first = store
        .record_ticket_request("mspb-7f3a", "acme/lockout", at(5))
        .await
        .unwrap();
    assert_eq!(
        first,
        TicketRequest {
            external_xref: "mspb-7f3a".into(),
            incident_key: "acme/lockout".into(),
            created_at: at(5),
            ticket_id: None
        }
    );
    let again = store
        .record_ticket_request("mspb-7f3a", "other", at(9))
        .await
        .unwrap();
    assert_eq!(again, first, "recording again returns the original request");

    store
        .set_ticket_request_result("mspb-7f3a", 4242)
        .await
        .unwrap();
    let resolved = store
        .get_ticket_request("mspb-7f3a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resolved.ticket_id, Some(4242));
    assert!(store.get_ticket_request("unknown").await.unwrap().is_none());
    let missing = store.set_ticket_request_result("unknown", 1).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "got {missing:?}"
    );
}

/// A page of decisions is written whole or not at all: a stale incident version or a changed
/// setting refuses the batch and leaves alerts, incidents, settings and jobs as they were.
pub async fn decisions_commit_all_or_nothing(store: Arc<dyn Store>) {
    let first = store
        .accept_alert(super::new_alert("auditor", "a1", 10))
        .await
        .unwrap()
        .alert_id();
    let second = store
        .accept_alert(super::new_alert("auditor", "a2", 11))
        .await
        .unwrap()
        .alert_id();
    let existing = store
        .upsert_incident(new_incident("acme/lockout", 5))
        .await
        .unwrap();
    store.put_kv("flood:acme", json!({"n": 1})).await.unwrap();

    let mut grown = existing.clone();
    grown.alert_count = 2;
    let batch = |incident: Incident, expected: serde_json::Value| DecisionBatch {
        alerts: vec![
            AlertOutcome {
                id: first,
                state: AlertState::Processed,
                client: Some("acme".to_string()),
                payload: Some(json!({"enriched": true})),
                counted: None,
                decisions: Vec::new(),
            },
            AlertOutcome {
                id: second,
                state: AlertState::Unrouted,
                client: None,
                payload: None,
                counted: None,
                decisions: Vec::new(),
            },
        ],
        incidents: vec![incident, new_incident("acme/new-type", 11)],
        settings: vec![SettingWrite {
            key: "flood:acme".to_string(),
            expected: Some(expected),
            value: json!({"n": 2}),
        }],
        jobs: vec![NewJob {
            idempotency_key: Some("create:x1".to_string()),
            ..super::new_job("ticket.create", Some("acme/new-type"), 11)
        }],
        buffer: vec![BufferChange::Append {
            key: "acme/lockout".to_string(),
            entry: json!(first),
        }],
        notes: Vec::new(),
    };
    let unchanged = |store: Arc<dyn Store>| async move {
        let alerts = store.list_alerts(AlertFilter::default(), 10).await.unwrap();
        assert!(
            alerts.iter().all(|alert| alert.state == AlertState::Queued),
            "a refused batch leaves every alert queued: {alerts:?}"
        );
        assert_eq!(
            store
                .get_incident("acme/lockout")
                .await
                .unwrap()
                .unwrap()
                .version,
            1
        );
        assert_eq!(store.get_incident("acme/new-type").await.unwrap(), None);
        assert_eq!(store.incident_buffer("acme/lockout").await.unwrap(), []);
        assert_eq!(
            store.get_kv("flood:acme").await.unwrap(),
            Some(json!({"n": 1}))
        );
        assert_eq!(store.queue_depth().await.unwrap().queued, 0);
    };

    // A stale incident version: Conflict, nothing written.
    let mut stale = grown.clone();
    stale.version = 0;
    let refused = store.commit_decisions(batch(stale, json!({"n": 1}))).await;
    assert!(
        matches!(&refused, Err(StoreError::Conflict { .. })),
        "a stale incident refuses the batch, got {refused:?}"
    );
    unchanged(store.clone()).await;

    // A setting changed since it was read: SettingChanged, nothing written.
    let refused = store
        .commit_decisions(batch(grown.clone(), json!({"n": 0})))
        .await;
    assert!(
        matches!(&refused, Err(StoreError::SettingChanged { key }) if key == "flood:acme"),
        "a changed setting refuses the batch, got {refused:?}"
    );
    unchanged(store.clone()).await;

    // Everything current: all written at once.
    store
        .commit_decisions(batch(grown.clone(), json!({"n": 1})))
        .await
        .unwrap();
    let processed = store.get_alert(first).await.unwrap().unwrap();
    assert_eq!(processed.state, AlertState::Processed);
    assert_eq!(processed.client.as_deref(), Some("acme"));
    assert_eq!(processed.payload, json!({"enriched": true}));
    let unrouted = store.get_alert(second).await.unwrap().unwrap();
    assert_eq!(unrouted.state, AlertState::Unrouted);
    assert_eq!(
        unrouted.payload["id"], "a2",
        "no payload given: the payload is kept"
    );
    let incident = store.get_incident("acme/lockout").await.unwrap().unwrap();
    assert_eq!((incident.version, incident.alert_count), (2, 2));
    assert_eq!(incident.buffered, 1);
    let buffer = store.incident_buffer("acme/lockout").await.unwrap();
    assert_eq!(buffer.len(), 1);
    assert_eq!(buffer[0].entry, json!(first));
    assert_eq!(
        store
            .get_incident("acme/new-type")
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    assert_eq!(
        store.get_kv("flood:acme").await.unwrap(),
        Some(json!({"n": 2}))
    );
    assert_eq!(store.queue_depth().await.unwrap().queued, 1);

    // Alerts already taken off the queue cannot be taken again.
    let again = store
        .commit_decisions(DecisionBatch {
            alerts: vec![AlertOutcome {
                id: first,
                state: AlertState::Processed,
                client: None,
                payload: None,
                counted: None,
                decisions: Vec::new(),
            }],
            ..DecisionBatch::default()
        })
        .await;
    assert!(
        matches!(&again, Err(StoreError::InvalidTransition { .. })),
        "a processed alert is not processed twice, got {again:?}"
    );
}

/// An alert whose activity record cannot be fetched yet leaves the queue as `enriching` in the
/// same commit as the other alerts of its page, its fetched payload untouched.
pub async fn waiting_alert_leaves_the_queue_as_enriching(store: Arc<dyn Store>) {
    let waiting = store
        .accept_alert(super::new_alert("auditor", "w1", 10))
        .await
        .unwrap()
        .alert_id();
    let decided = store
        .accept_alert(super::new_alert("auditor", "w2", 11))
        .await
        .unwrap()
        .alert_id();
    store
        .commit_decisions(DecisionBatch {
            alerts: vec![
                AlertOutcome {
                    id: waiting,
                    state: AlertState::Enriching,
                    client: Some("acme".to_string()),
                    payload: None,
                    counted: None,
                    decisions: Vec::new(),
                },
                AlertOutcome {
                    id: decided,
                    state: AlertState::Unrouted,
                    client: None,
                    payload: None,
                    counted: None,
                    decisions: Vec::new(),
                },
            ],
            ..DecisionBatch::default()
        })
        .await
        .expect("a page with a waiting alert commits");
    let waiting = store.get_alert(waiting).await.unwrap().unwrap();
    assert_eq!(waiting.state, AlertState::Enriching);
    assert_eq!(waiting.client.as_deref(), Some("acme"));
    assert_eq!(
        store.get_alert(decided).await.unwrap().unwrap().state,
        AlertState::Unrouted
    );
    assert_eq!(store.queue_depth().await.unwrap().queued, 0);
}

/// A consolidation buffer changes only together with its incident: appends keep their order,
/// a drain removes exactly the entries up to a position, the count follows, a stale version or a
/// change without its incident writes nothing, and deleting the incident takes its buffer along.
pub async fn buffer_changes_with_its_incident(store: Arc<dyn Store>) {
    let lockout = store
        .upsert_incident(new_incident("acme/lockout", 5))
        .await
        .unwrap();
    let other = store
        .upsert_incident(new_incident("acme/other", 5))
        .await
        .unwrap();
    let append = |key: &str, entry: serde_json::Value| BufferChange::Append {
        key: key.to_string(),
        entry,
    };
    let entries = |store: Arc<dyn Store>, key: &'static str| async move {
        let buffer = store.incident_buffer(key).await.unwrap();
        assert!(
            buffer
                .windows(2)
                .all(|pair| pair[0].position < pair[1].position),
            "positions increase: {buffer:?}"
        );
        let counted = store.get_incident(key).await.unwrap().unwrap().buffered;
        assert_eq!(
            counted,
            buffer.len() as u64,
            "the count follows the entries"
        );
        buffer
            .into_iter()
            .map(|entry| entry.entry)
            .collect::<Vec<_>>()
    };

    // Appends to two buffers, interleaved, in one batch.
    store
        .commit_decisions(DecisionBatch {
            incidents: vec![lockout.clone(), other.clone()],
            buffer: vec![
                append("acme/lockout", json!(1)),
                append("acme/other", json!(100)),
                append(
                    "acme/lockout",
                    json!({"alert_id": 2, "alert": {"name": "kept"}}),
                ),
                append("acme/lockout", json!(3)),
            ],
            ..DecisionBatch::default()
        })
        .await
        .unwrap();
    assert_eq!(
        entries(store.clone(), "acme/lockout").await,
        [
            json!(1),
            json!({"alert_id": 2, "alert": {"name": "kept"}}),
            json!(3)
        ]
    );
    assert_eq!(entries(store.clone(), "acme/other").await, [json!(100)]);
    assert_eq!(store.incident_buffer("acme/none").await.unwrap(), []);

    // A change for an incident the batch does not write, or under a stale version: refused.
    let lockout = store.get_incident("acme/lockout").await.unwrap().unwrap();
    let without = store
        .commit_decisions(DecisionBatch {
            incidents: vec![lockout.clone()],
            buffer: vec![append("acme/other", json!(101))],
            ..DecisionBatch::default()
        })
        .await;
    assert!(
        matches!(&without, Err(StoreError::InvalidArgument(message)) if message.contains("acme/other")),
        "a buffer changes only with its incident, got {without:?}"
    );
    let stale = store
        .commit_decisions(DecisionBatch {
            incidents: vec![Incident {
                version: 1,
                ..lockout.clone()
            }],
            buffer: vec![append("acme/lockout", json!(4))],
            ..DecisionBatch::default()
        })
        .await;
    assert!(
        matches!(&stale, Err(StoreError::Conflict { .. })),
        "a stale incident refuses its buffer change, got {stale:?}"
    );
    assert_eq!(entries(store.clone(), "acme/lockout").await.len(), 3);
    assert_eq!(entries(store.clone(), "acme/other").await, [json!(100)]);

    // Writing the incident alone leaves its buffer (and its count) as they are.
    let lockout = store
        .upsert_incident(Incident {
            buffered: 0,
            alert_count: 4,
            ..lockout
        })
        .await
        .unwrap();
    assert_eq!(entries(store.clone(), "acme/lockout").await.len(), 3);

    // A drain through the second entry, with an append in the same batch.
    let buffer = store.incident_buffer("acme/lockout").await.unwrap();
    store
        .commit_decisions(DecisionBatch {
            incidents: vec![lockout],
            buffer: vec![
                BufferChange::DrainThrough {
                    key: "acme/lockout".to_string(),
                    through: buffer[1].position,
                },
                append("acme/lockout", json!(5)),
            ],
            ..DecisionBatch::default()
        })
        .await
        .unwrap();
    assert_eq!(
        entries(store.clone(), "acme/lockout").await,
        [json!(3), json!(5)]
    );
    assert_eq!(entries(store.clone(), "acme/other").await, [json!(100)]);

    // Retention keeps an incident with a buffer even without a flush scheduled.
    let (forgotten, _) = store.delete_incidents_older_than(at(1_000)).await.unwrap();
    assert_eq!(forgotten, 0, "incidents with buffered alerts are kept");

    // Deleting an incident takes its buffer along: the key starts afresh.
    let lockout = store.get_incident("acme/lockout").await.unwrap().unwrap();
    store
        .delete_incident("acme/lockout", lockout.version)
        .await
        .unwrap();
    assert_eq!(store.incident_buffer("acme/lockout").await.unwrap(), []);
    let again = store
        .upsert_incident(new_incident("acme/lockout", 20))
        .await
        .unwrap();
    assert_eq!(again.buffered, 0);
    assert_eq!(entries(store.clone(), "acme/other").await, [json!(100)]);
}
