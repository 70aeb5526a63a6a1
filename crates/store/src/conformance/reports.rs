//! Conformance checks for report storage: what the report dashboard, the CLI and the publish job
//! rely on from every backend.

use std::sync::Arc;
use std::time::Duration;

use crate::error::StoreError;
use crate::port::Store;
use crate::reports::*;

use super::{at, new_job, token};

fn new_report(client: &str, name: &str, generated: i64) -> NewReport {
    NewReport {
        client: client.to_string(),
        name: name.to_string(),
        period_start: at(generated - 7 * 86_400),
        period_end: at(generated),
        generated_at: at(generated),
        html: format!("<!DOCTYPE html><html><body><h1>{name} — ünïcödé</h1></body></html>"),
        source: ReportSource::Generated,
        systems: vec!["WS-01".to_string(), "DC-01".to_string()],
        expires_at: Some(at(generated + 365 * 86_400)),
    }
}

/// A report comes back whole, listing leaves the HTML out and orders newest first, and filters
/// by client and publish state.
pub async fn reports_round_trip_and_list(store: Arc<dyn Store>) {
    let first = store
        .insert_report(new_report("acme", "Weekly", 1_000_000))
        .await
        .expect("storing a report must succeed");
    assert_eq!(first.publish_state, PublishState::Unpublished);
    assert_eq!(first.state_changed_at, at(1_000_000));
    let mut external = new_report("globex", "Pentest", 1_000_100);
    external.source = ReportSource::External;
    external.systems.clear();
    external.expires_at = None;
    let second = store.insert_report(external.clone()).await.unwrap();
    assert!(second.id > first.id, "ids must ascend");

    let report = store
        .get_report(first.id)
        .await
        .unwrap()
        .expect("a stored report must be found by id");
    let expected = new_report("acme", "Weekly", 1_000_000);
    assert_eq!(
        report.html, expected.html,
        "HTML must come back byte for byte"
    );
    assert_eq!(report.meta.html_bytes, expected.html.len() as u64);
    assert_eq!(report.meta.systems, expected.systems);
    assert_eq!(report.meta.period_start, expected.period_start);
    assert_eq!(report.meta.expires_at, expected.expires_at);
    assert_eq!(report.meta.source, ReportSource::Generated);
    let external_back = store.get_report(second.id).await.unwrap().unwrap();
    assert_eq!(external_back.meta.source, ReportSource::External);
    assert_eq!(external_back.meta.expires_at, None);
    assert!(store.get_report(second.id + 100).await.unwrap().is_none());

    let all = store.list_reports(ReportFilter::default()).await.unwrap();
    let ids: Vec<ReportId> = all.iter().map(|meta| meta.id).collect();
    assert_eq!(ids, vec![second.id, first.id], "newest first");
    let acme = store
        .list_reports(ReportFilter {
            client: Some("acme".into()),
            ..ReportFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(acme.len(), 1);
    assert_eq!(
        acme[0], report.meta,
        "listing shows what get shows, minus the HTML"
    );
    let limited = store
        .list_reports(ReportFilter {
            limit: Some(1),
            ..ReportFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);
}

/// Publish states move as the publish job reports them; errors are kept only for failures and
/// refusals; the asset id survives later updates; unknown reports are `NotFound`.
pub async fn report_publish_states(store: Arc<dyn Store>) {
    let report = store
        .insert_report(new_report("acme", "Weekly", 2_000_000))
        .await
        .unwrap();
    let update = |state, asset, error: Option<&str>, seconds| PublishUpdate {
        state,
        itglue_asset_id: asset,
        error: error.map(str::to_string),
        at: at(seconds),
    };
    let pending = store
        .set_report_publish_state(
            report.id,
            update(PublishState::Pending, None, None, 2_000_010),
        )
        .await
        .unwrap();
    assert_eq!(pending.publish_state, PublishState::Pending);
    assert_eq!(pending.state_changed_at, at(2_000_010));
    let failed = store
        .set_report_publish_state(
            report.id,
            update(
                PublishState::Failed,
                None,
                Some("IT Glue answered 503"),
                2_000_020,
            ),
        )
        .await
        .unwrap();
    assert_eq!(failed.last_error.as_deref(), Some("IT Glue answered 503"));
    let published = store
        .set_report_publish_state(
            report.id,
            update(
                PublishState::Published,
                Some(77),
                Some("ignored"),
                2_000_030,
            ),
        )
        .await
        .unwrap();
    assert_eq!(published.publish_state, PublishState::Published);
    assert_eq!(published.itglue_asset_id, Some(77));
    assert_eq!(published.last_error, None, "success clears the last error");
    let again = store
        .set_report_publish_state(
            report.id,
            update(PublishState::Pending, None, None, 2_000_040),
        )
        .await
        .unwrap();
    assert_eq!(again.itglue_asset_id, Some(77), "the asset id is kept");
    let pending_only = store
        .list_reports(ReportFilter {
            publish_state: Some(PublishState::Pending),
            ..ReportFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(pending_only.len(), 1);

    let missing = store
        .set_report_publish_state(
            report.id + 1,
            update(PublishState::Refused, None, Some("no mapping"), 2_000_050),
        )
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { what: "report", .. })),
        "{missing:?}"
    );
}

/// A claim of one kind (a lane of the job runner) takes only jobs of that kind, under the general
/// claim rules: due, one lease per serial key, attempts counted.
pub async fn report_jobs_claimed_apart(store: Arc<dyn Store>) {
    let lease = Duration::from_secs(60);
    let ticket = store
        .enqueue_job(new_job("ticket.create", Some("acme/x"), 0))
        .await
        .unwrap();
    let first = store
        .enqueue_job(new_job(PUBLISH_REPORT_JOB, Some("report/1"), 0))
        .await
        .unwrap();
    let second = store
        .enqueue_job(new_job(PUBLISH_REPORT_JOB, Some("report/1"), 0))
        .await
        .unwrap();
    let later = store
        .enqueue_job(new_job(PUBLISH_REPORT_JOB, Some("report/2"), 500))
        .await
        .unwrap();

    let engine = store
        .claim_jobs_of_kind("engine", "ticket.create", at(5), lease, 10)
        .await
        .unwrap();
    assert_eq!(
        engine.iter().map(|job| job.id).collect::<Vec<_>>(),
        vec![ticket.id],
        "the ticket lane leaves due publish jobs alone"
    );
    assert_eq!(engine[0].attempts, 1);

    let claimed = store
        .claim_jobs_of_kind("publisher", PUBLISH_REPORT_JOB, at(10), lease, 10)
        .await
        .unwrap();
    let ids: Vec<_> = claimed.iter().map(|job| job.id).collect();
    assert_eq!(
        ids,
        vec![first.id],
        "only the due head of each report key, and never another kind"
    );
    assert_eq!(claimed[0].attempts, 1);
    assert_eq!(claimed[0].lease_owner.as_deref(), Some("publisher"));
    assert!(
        store
            .claim_jobs_of_kind("other", PUBLISH_REPORT_JOB, at(11), lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "a leased key hands out nothing more"
    );
    assert!(
        store
            .claim_jobs_of_kind("engine", "ticket.create", at(12), lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "the ticket job is leased and nothing else is of its kind"
    );

    store
        .complete_job(first.id, &token(&claimed[0]), at(20))
        .await
        .unwrap();
    let next = store
        .claim_jobs_of_kind("publisher", PUBLISH_REPORT_JOB, at(600), lease, 10)
        .await
        .unwrap();
    let mut ids: Vec<_> = next.iter().map(|job| job.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![second.id, later.id]);
    assert!(store
        .claim_jobs_of_kind("publisher", PUBLISH_REPORT_JOB, at(600), lease, 0)
        .await
        .unwrap()
        .is_empty());
}
