//! Checks for retention, events, settings, lifecycle and durability across a reopen.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{at, new_alert, new_incident, new_job, token};
use crate::model::*;
use crate::port::Store;

/// The store answers, reports its schema version, and migrating twice is harmless.
pub async fn lifecycle_ping_and_schema_version(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
    let version = store.schema_version().await.unwrap();
    assert!(
        version >= 1,
        "schema version must be at least 1, got {version}"
    );
    store
        .migrate()
        .await
        .expect("migrating an up-to-date database is a no-op");
    assert_eq!(store.schema_version().await.unwrap(), version);
}

/// Pruning forgets the oldest finished records first and never touches pending work.
pub async fn retention_prunes_oldest_first(store: Arc<dyn Store>) {
    let mut alert_ids = Vec::new();
    for i in 1..=10 {
        let id = store
            .accept_alert(new_alert("s", &i.to_string(), i * 10))
            .await
            .unwrap()
            .alert_id();
        alert_ids.push(id);
    }
    for (n, id) in alert_ids.iter().enumerate() {
        match n + 1 {
            3 => {}
            4 => store
                .set_alert_state(*id, AlertState::Unrouted)
                .await
                .unwrap(),
            _ => store
                .set_alert_state(*id, AlertState::Processed)
                .await
                .unwrap(),
        }
    }
    for i in 1..=5 {
        store
            .record_ticket_request(&format!("x{i}"), "k", at(i))
            .await
            .unwrap();
        if i != 3 {
            store
                .set_ticket_request_result(&format!("x{i}"), i)
                .await
                .unwrap();
        }
    }
    for (code, when) in [(4021, 10), (4022, 20)] {
        store
            .append_event(NewEvent {
                code,
                at: at(when),
                client: None,
                subject: None,
                message: "m".into(),
                details: json!({}),
            })
            .await
            .unwrap();
    }
    let done = store.enqueue_job(new_job("done", None, 0)).await.unwrap();
    let dead = store.enqueue_job(new_job("dead", None, 0)).await.unwrap();
    let waiting = store
        .enqueue_job(new_job("waiting", None, 5000))
        .await
        .unwrap();
    let claimed = store
        .claim_jobs("w", at(1), Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    store
        .complete_job(done.id, &token(&claimed[0]), at(5))
        .await
        .unwrap();
    store
        .fail_job(dead.id, &token(&claimed[1]), at(5), "gave up", None)
        .await
        .unwrap();

    store
        .upsert_incident(new_incident("old", 10))
        .await
        .unwrap();
    let mut pending = new_incident("old-but-pending", 10);
    pending.flush_at = Some(at(2000));
    store.upsert_incident(pending).await.unwrap();

    let now = at(1000);
    let policy = RetentionPolicy {
        alerts: KeepLimit {
            keep: Some(Duration::from_secs(950)),
            limit: Some(3),
        },
        ticket_requests: KeepLimit {
            keep: Some(Duration::from_secs(998)),
            limit: Some(2),
        },
        incidents: Some(Duration::from_secs(900)),
        events: Some(Duration::from_secs(985)),
        done_jobs: Some(Duration::from_secs(900)),
        ..RetentionPolicy::default()
    };
    let report = store.prune(now, &policy).await.unwrap();
    assert_eq!(
        report,
        PruneReport {
            alerts: 5,
            ticket_requests: 2,
            incidents: 1,
            events: 1,
            done_jobs: 1,
            vacuumed_pages: report.vacuumed_pages,
            ..PruneReport::default()
        },
        "alerts 1,2 by age and 5,6,7 beyond the limit; requests x1 by age and x2 beyond the \
         limit (x3, whose ticket is not known yet, only goes by age)"
    );

    let left: Vec<AlertId> = store
        .list_alerts(AlertFilter::default(), 100)
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    let expected: Vec<AlertId> = [3, 4, 8, 9, 10].iter().map(|n| alert_ids[n - 1]).collect();
    assert_eq!(
        left, expected,
        "queued and unrouted alerts are kept whatever their age; newest processed kept"
    );
    assert!(
        store
            .accept_alert(new_alert("s", "1", 1001))
            .await
            .unwrap()
            .is_new(),
        "a pruned id is forgotten"
    );
    assert!(
        !store
            .accept_alert(new_alert("s", "8", 1001))
            .await
            .unwrap()
            .is_new(),
        "a kept id still dedups"
    );

    for (xref, kept) in [
        ("x1", false),
        ("x2", false),
        ("x3", true),
        ("x4", true),
        ("x5", true),
    ] {
        assert_eq!(
            store.get_ticket_request(xref).await.unwrap().is_some(),
            kept,
            "ticket request {xref}"
        );
    }
    let events = store.list_events(EventFilter::default()).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.code).collect::<Vec<_>>(),
        vec![4022]
    );
    assert!(
        store.get_job(done.id).await.unwrap().is_none(),
        "done jobs are pruned"
    );
    assert_eq!(
        store.get_job(dead.id).await.unwrap().unwrap().state,
        JobState::Dead,
        "dead jobs are kept"
    );
    assert_eq!(
        store.get_job(waiting.id).await.unwrap().unwrap().state,
        JobState::Queued,
        "queued jobs are kept"
    );
    assert!(store.get_incident("old").await.unwrap().is_none());
    assert!(
        store
            .get_incident("old-but-pending")
            .await
            .unwrap()
            .is_some(),
        "pending flushes are kept"
    );

    let nothing = store.prune(now, &RetentionPolicy::default()).await.unwrap();
    assert_eq!(
        nothing,
        PruneReport::default(),
        "an empty policy forgets nothing"
    );
}

/// Events are listed newest first by code, client and time, and counted per code.
pub async fn events_filter_and_count(store: Arc<dyn Store>) {
    let event = |code: u32, when: i64, client: Option<&str>| NewEvent {
        code,
        at: at(when),
        client: client.map(str::to_string),
        subject: Some(format!("subject-{when}")),
        message: format!("event {code} at {when}"),
        details: json!({"when": when}),
    };
    let first = store
        .append_event(event(4018, 10, Some("acme")))
        .await
        .unwrap();
    store
        .append_event(event(4018, 20, Some("globex")))
        .await
        .unwrap();
    store
        .append_event(event(4021, 30, Some("acme")))
        .await
        .unwrap();
    store.append_event(event(4022, 40, None)).await.unwrap();

    let all = store.list_events(EventFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.at).collect::<Vec<_>>(),
        vec![at(40), at(30), at(20), at(10)],
        "newest first"
    );
    let oldest = all.last().unwrap();
    assert_eq!(oldest.id, first);
    assert_eq!(oldest.subject.as_deref(), Some("subject-10"));
    assert_eq!(oldest.message, "event 4018 at 10");
    assert_eq!(oldest.details, json!({"when": 10}));

    let codes = |events: Vec<Event>| events.iter().map(|e| (e.code, e.at)).collect::<Vec<_>>();
    let by_code = store
        .list_events(EventFilter {
            code: Some(4018),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(codes(by_code), vec![(4018, at(20)), (4018, at(10))]);
    let by_client = store
        .list_events(EventFilter {
            client: Some("acme".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(codes(by_client), vec![(4021, at(30)), (4018, at(10))]);
    let since = store
        .list_events(EventFilter {
            since: Some(at(30)),
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(codes(since), vec![(4022, at(40))]);

    let counts = store.count_events_by_code(None).await.unwrap();
    assert_eq!(
        counts,
        [(4018, 2), (4021, 1), (4022, 1)]
            .into_iter()
            .collect::<EventCounts>()
    );
    let recent = store.count_events_by_code(Some(at(20))).await.unwrap();
    assert_eq!(
        recent,
        [(4018, 1), (4021, 1), (4022, 1)]
            .into_iter()
            .collect::<EventCounts>()
    );
}

/// Settings round-trip, and compare-and-put only writes over the expected value.
pub async fn kv_round_trip_and_compare(store: Arc<dyn Store>) {
    assert_eq!(store.get_kv("scheduler/prune").await.unwrap(), None);
    store
        .put_kv(
            "scheduler/prune",
            json!({"last_run": "2026-01-01T00:00:00Z"}),
        )
        .await
        .unwrap();
    store
        .put_kv(
            "scheduler/prune",
            json!({"last_run": "2026-01-02T00:00:00Z"}),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_kv("scheduler/prune").await.unwrap(),
        Some(json!({"last_run": "2026-01-02T00:00:00Z"}))
    );

    assert!(
        !store
            .compare_and_put_kv("scheduler/prune", None, json!(1))
            .await
            .unwrap(),
        "the key exists"
    );
    assert!(
        !store
            .compare_and_put_kv(
                "scheduler/prune",
                Some(json!({"last_run": "2026-01-01T00:00:00Z"})),
                json!(1)
            )
            .await
            .unwrap(),
        "stale expectation"
    );
    assert!(store
        .compare_and_put_kv(
            "scheduler/prune",
            Some(json!({"last_run": "2026-01-02T00:00:00Z"})),
            json!(2)
        )
        .await
        .unwrap());
    assert_eq!(
        store.get_kv("scheduler/prune").await.unwrap(),
        Some(json!(2))
    );
    assert!(store
        .compare_and_put_kv("flood/acme", None, json!({"count": 1}))
        .await
        .unwrap());
    assert_eq!(
        store.get_kv("flood/acme").await.unwrap(),
        Some(json!({"count": 1}))
    );
}

/// What was stored before a close (or crash) is there after reopening the same database;
/// `open` must open the same database on every call.
pub async fn durable_across_reopen<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let store = open().await;
    let alert = store
        .accept_alert(new_alert("auditor", "A9", 1))
        .await
        .unwrap()
        .alert_id();
    let batch = store
        .accept_alerts_batch(
            (0..50)
                .map(|i| new_alert("auditor", &format!("b{i}"), 2))
                .collect(),
        )
        .await
        .unwrap();
    let job = store
        .enqueue_job(new_job("ticket.create", Some("k"), 0))
        .await
        .unwrap();
    let claimed = store
        .claim_jobs("before-crash", at(0), Duration::from_secs(60), 1)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let mut incident = new_incident("k", 1);
    incident.ticket_id = Some(77);
    store.upsert_incident(incident).await.unwrap();
    store
        .record_ticket_request("xref-1", "k", at(1))
        .await
        .unwrap();
    store
        .append_event(NewEvent {
            code: 4021,
            at: at(1),
            client: None,
            subject: None,
            message: "published".into(),
            details: json!(null),
        })
        .await
        .unwrap();
    store.put_kv("flood/acme", json!([1, 2, 3])).await.unwrap();
    store.close().await;
    drop(store);

    let store = open().await;
    let reread = store
        .get_alert(alert)
        .await
        .unwrap()
        .expect("alert survives a reopen");
    assert_eq!(reread.source_alert_id, "A9");
    for outcome in batch {
        assert!(
            store.get_alert(outcome.alert_id()).await.unwrap().is_some(),
            "batched alert survives"
        );
    }
    assert!(
        !store
            .accept_alert(new_alert("auditor", "A9", 3))
            .await
            .unwrap()
            .is_new(),
        "dedup memory survives"
    );
    let running = store.get_job(job.id).await.unwrap().expect("job survives");
    assert_eq!(running.state, JobState::Running, "the lease survives too");
    let reclaimed = store
        .claim_jobs("after-restart", at(60), Duration::from_secs(60), 1)
        .await
        .unwrap();
    assert_eq!(
        reclaimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![job.id],
        "the orphaned job is reclaimed after expiry"
    );
    assert_eq!(store.get_incident("k").await.unwrap().unwrap().version, 1);
    assert_eq!(
        store
            .incidents_for_key_since("k", at(0))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store.get_ticket_request("xref-1").await.unwrap().is_some());
    assert_eq!(
        store.count_events_by_code(None).await.unwrap().get(&4021),
        Some(&1)
    );
    assert_eq!(
        store.get_kv("flood/acme").await.unwrap(),
        Some(json!([1, 2, 3]))
    );
    store.close().await;
}
