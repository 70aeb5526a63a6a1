//! Retention over every table: what a pass forgets, what it must keep, in bounded chunks, and the
//! report roll-ups that outlive the raw alerts.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use serde_json::json;

use super::{at, decided, new_alert, new_incident, new_job, token};
use crate::model::*;
use crate::port::Store;
use crate::reports::{NewReport, PublishState, PublishUpdate, ReportSource};
use crate::rollup::{RollupKind, RollupRow};

const DAY: i64 = 86_400;
/// More alerts than one deletion chunk, so a pass takes several transactions.
const ALERTS: i64 = 2_500;

fn report(client: &str, expires: Option<i64>) -> NewReport {
    NewReport {
        client: client.to_string(),
        name: "Weekly".to_string(),
        period_start: at(0),
        period_end: at(7 * DAY),
        generated_at: at(7 * DAY),
        html: "<!DOCTYPE html><html></html>".to_string(),
        source: ReportSource::Generated,
        systems: Vec::new(),
        expires_at: expires.map(at),
    }
}

fn rollup(rows: &[RollupRow], kind: RollupKind, name: &str) -> u64 {
    rows.iter()
        .filter(|row| row.kind == kind && row.name == name)
        .map(|row| row.count)
        .sum()
}

/// Every table is bounded by one pass: processed alerts by age and count (never one a buffer still
/// names, never the newest), ticket requests, incidents and their orphaned buffer entries, events
/// by age and count, done jobs (whose payload is gone as soon as they finish), roll-ups by day and
/// reports by expiry; the daily roll-ups keep every count of the alerts that were forgotten.
pub async fn retention_bounds_every_table(store: Arc<dyn Store>) {
    // 2,500 alerts over ten days, decided processed for acme; alert 1 stays in a buffer.
    let mut ids = Vec::new();
    let batch: Vec<NewAlert> = (0..ALERTS)
        .map(|n| new_alert("s", &n.to_string(), 1 + n * (10 * DAY) / ALERTS))
        .collect();
    for outcome in store.accept_alerts_batch(batch).await.unwrap() {
        ids.push(outcome.alert_id());
    }
    let pinned = ids[0];
    let mut buffered = new_incident("acme/lockout", 10 * DAY);
    buffered.flush_at = Some(at(10 * DAY + 60));
    store
        .commit_decisions(DecisionBatch {
            alerts: ids.iter().map(|id| decided(*id)).collect(),
            incidents: vec![buffered],
            buffer: vec![BufferChange::Append {
                key: "acme/lockout".to_string(),
                entry: json!(pinned),
            }],
            ..DecisionBatch::default()
        })
        .await
        .unwrap();
    let queued = store
        .accept_alert(new_alert("s", "queued", 1))
        .await
        .unwrap()
        .alert_id();

    // Ticket requests: one a day for ten days, the ticket known for all but the oldest.
    for day in 0..10 {
        let xref = format!("x{day}");
        store
            .record_ticket_request(&xref, "acme/lockout", at(day * DAY))
            .await
            .unwrap();
        if day > 0 {
            store.set_ticket_request_result(&xref, day).await.unwrap();
        }
    }
    // Events of acme: one a day for ten days.
    for day in 0..10 {
        store
            .append_event(NewEvent {
                code: 4100,
                at: at(day * DAY + 3600),
                client: Some("acme".to_string()),
                subject: None,
                message: "ticket created".to_string(),
                details: json!({}),
            })
            .await
            .unwrap();
    }
    // Jobs: one done long ago, one done just now, one dead long ago.
    let old = store.enqueue_job(new_job("old", None, 0)).await.unwrap();
    let recent = store
        .enqueue_job(new_job("recent", None, 10 * DAY))
        .await
        .unwrap();
    let dead = store.enqueue_job(new_job("dead", None, 0)).await.unwrap();
    let claimed = store
        .claim_jobs("w", at(1), Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let lease = |id: JobId| token(claimed.iter().find(|job| job.id == id).unwrap());
    store
        .complete_job(old.id, &lease(old.id), at(2))
        .await
        .unwrap();
    store
        .fail_job(dead.id, &lease(dead.id), at(2), "gave up", None)
        .await
        .unwrap();
    let claimed = store
        .claim_jobs("w", at(10 * DAY), Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    store
        .complete_job(recent.id, &token(&claimed[0]), at(10 * DAY))
        .await
        .unwrap();
    assert_eq!(
        store.get_job(old.id).await.unwrap().unwrap().payload,
        serde_json::Value::Null,
        "a done job's payload is dropped when it completes"
    );
    // Incidents: one forgotten long ago, one still recent.
    store
        .upsert_incident(new_incident("acme/old", DAY))
        .await
        .unwrap();
    store
        .upsert_incident(new_incident("acme/recent", 9 * DAY))
        .await
        .unwrap();
    // Reports: expired, expired but being published, not expired, never expiring.
    let expired = store
        .insert_report(report("acme", Some(DAY)))
        .await
        .unwrap();
    let publishing = store
        .insert_report(report("acme", Some(DAY)))
        .await
        .unwrap();
    store
        .set_report_publish_state(
            publishing.id,
            PublishUpdate {
                state: PublishState::Pending,
                itglue_asset_id: None,
                error: None,
                at: at(DAY),
            },
        )
        .await
        .unwrap();
    let current = store
        .insert_report(report("acme", Some(20 * DAY)))
        .await
        .unwrap();
    let forever = store.insert_report(report("acme", None)).await.unwrap();

    let days: Vec<NaiveDate> = (0..10).map(|day| at(day * DAY).date_naive()).collect();
    let before = store
        .report_rollups("acme", days[0], days[9])
        .await
        .unwrap();
    assert_eq!(
        rollup(&before, RollupKind::Type, "Account locked out"),
        2_500
    );
    assert_eq!(rollup(&before, RollupKind::Account, "CORP\\alice"), 2_500);
    assert_eq!(rollup(&before, RollupKind::Event, "4100"), 10);

    // A pass at day 10 bounded to 500 rows per table leaves work for the next pass.
    let now = at(10 * DAY + 1);
    let policy = RetentionPolicy {
        alerts: KeepLimit {
            keep: Some(Duration::from_secs(7 * DAY as u64)),
            limit: Some(100),
        },
        ticket_requests: KeepLimit {
            keep: Some(Duration::from_secs(8 * DAY as u64)),
            limit: Some(3),
        },
        incidents: Some(Duration::from_secs(5 * DAY as u64)),
        events: Some(Duration::from_secs(5 * DAY as u64)),
        events_limit: Some(3),
        done_jobs: Some(Duration::from_secs(DAY as u64)),
        rollups: Some(Duration::from_secs(3 * DAY as u64)),
        expired_reports: true,
        max_rows_per_table: Some(500),
    };
    let first = store.prune(now, &policy).await.unwrap();
    assert!(
        first.incomplete,
        "a bounded pass says it left work: {first:?}"
    );
    assert_eq!(first.alerts, 500, "{first:?}");
    let mut passes = 1;
    let mut alerts_removed = first.alerts;
    loop {
        let next = store.prune(now, &policy).await.unwrap();
        alerts_removed += next.alerts;
        passes += 1;
        if !next.incomplete {
            break;
        }
        assert!(passes < 10, "retention must finish in a few passes");
    }

    let left = store
        .list_alerts(
            AlertFilter {
                state: Some(AlertState::Processed),
                ..AlertFilter::default()
            },
            10_000,
        )
        .await
        .unwrap();
    let left_ids: Vec<AlertId> = left.iter().map(|alert| alert.id).collect();
    assert_eq!(left.len(), 101, "the newest 100 and the buffered one");
    assert_eq!(alerts_removed, 2_399);
    assert!(
        left_ids.contains(&pinned),
        "an alert a buffer names is kept"
    );
    assert!(left_ids.contains(ids.last().unwrap()), "the newest is kept");
    assert!(store.get_alert(queued).await.unwrap().is_some());
    assert!(
        store
            .accept_alert(new_alert("s", "1", 10 * DAY + 2))
            .await
            .unwrap()
            .is_new(),
        "a forgotten alert id is accepted again"
    );

    // x0..x2 by age (x0, whose ticket is unknown, too); x3..x6 beyond the newest three.
    for day in 0..10 {
        assert_eq!(
            store
                .get_ticket_request(&format!("x{day}"))
                .await
                .unwrap()
                .is_some(),
            day >= 7,
            "ticket request x{day}"
        );
    }
    let events = store.list_events(EventFilter::default()).await.unwrap();
    assert_eq!(events.len(), 3, "at most events_limit events");
    assert!(store.get_job(old.id).await.unwrap().is_none());
    assert!(store.get_job(recent.id).await.unwrap().is_some());
    assert_eq!(
        store.get_job(dead.id).await.unwrap().unwrap().state,
        JobState::Dead
    );
    assert!(store.get_incident("acme/old").await.unwrap().is_none());
    assert!(store.get_incident("acme/recent").await.unwrap().is_some());
    assert!(store.get_incident("acme/lockout").await.unwrap().is_some());
    assert_eq!(
        store.incident_buffer("acme/lockout").await.unwrap().len(),
        1
    );
    assert!(store.get_report(expired.id).await.unwrap().is_none());
    for kept in [publishing.id, current.id, forever.id] {
        assert!(
            store.get_report(kept).await.unwrap().is_some(),
            "report {kept}"
        );
    }

    // The roll-ups of the last three days (day 10 included) are whole after the alerts went.
    let after = store
        .report_rollups("acme", days[0], at(10 * DAY).date_naive())
        .await
        .unwrap();
    assert!(
        after.iter().all(|row| row.day >= days[7]),
        "older days are forgotten"
    );
    let kept_days: Vec<NaiveDate> = days[7..].to_vec();
    for day in kept_days {
        let on = |rows: &[RollupRow]| -> u64 {
            rows.iter()
                .filter(|row| row.day == day && row.kind == RollupKind::Type)
                .map(|row| row.count)
                .sum()
        };
        assert_eq!(on(&after), on(&before), "day {day} keeps its count");
        assert!(on(&after) > 0);
    }

    let stats = store.storage_stats().await.unwrap();
    let rows = |table: &str| {
        stats
            .rows
            .iter()
            .find(|(name, _)| name == table)
            .map(|(_, n)| *n)
            .unwrap_or_else(|| panic!("no row count for {table}"))
    };
    assert_eq!(
        rows("alerts"),
        103,
        "101 processed, one queued, one accepted again"
    );
    assert_eq!(rows("events"), 3);
    assert!(stats.database_bytes > 0);
}
