//! Reports end to end: generation from store data, publishing to the IT Glue simulator over
//! loopback (asset type made once, traits and file readable back, related items), failures with
//! retries, refusals, the once-per-cluster scheduler and failure events raising alerts.

mod reports_support;

use chrono::Duration as Span;
use mspbridge_core::events;
use mspbridge_server::reports::{
    self, data, request_publish, run_due_publish_jobs, run_due_schedules, GenerateRequest,
    PublishRequest, ReportPeriod,
};
use mspbridge_simulators::itglue::{name_key, TraitValue};
use mspbridge_store::{
    AlertFilter, EventFilter, JobFilter, JobState, PublishState, ReportFilter, PUBLISH_REPORT_JOB,
};
use reports_support::*;

#[tokio::test]
async fn generation_counts_the_clients_data_and_escapes_hostile_values() {
    let store = memory_store().await;
    let config = config_for("http://127.0.0.1:9", "");
    seed_week(&store, "Acme").await;
    seed_week(&store, "Globex").await;
    let hostile = "<script>alert('x')</script>";
    seed_alert(
        &store,
        "Acme",
        hostile,
        3,
        hostile,
        "<img src=x onerror=alert(1)>",
    )
    .await;
    // Outside the period: the day after it ends.
    seed_alert(&store, "Acme", "Password Reset", 8, "CORP\\late", "WS-LATE").await;
    seed_ticket_events(&store, "Acme").await;

    let period = ReportPeriod::days_before(start() + Span::days(7), 7);
    let counted = data::collect(store.as_ref(), "Acme", period).await.unwrap();
    assert_eq!(counted.total_alerts, WEEK_ALERTS + 1);
    assert_eq!(counted.by_type[0], ("Password Reset".to_string(), 14));
    assert_eq!(counted.by_type.len(), 4);
    assert_eq!(counted.per_day.len(), 7);
    assert_eq!(
        counted.per_day.iter().map(|(_, n)| n).sum::<u64>(),
        WEEK_ALERTS + 1
    );
    assert_eq!(counted.per_day[0].1, 3, "day one has three alerts");
    assert_eq!(counted.top_accounts[0], ("CORP\\alice".to_string(), 14));
    assert!(counted.systems.contains(&"WS-01".to_string()));
    assert!(!counted.systems.contains(&"WS-LATE".to_string()));
    assert_eq!(
        (
            counted.tickets.opened,
            counted.tickets.updated,
            counted.tickets.reopened
        ),
        (3, 2, 1)
    );

    let request = GenerateRequest {
        client: "Acme".into(),
        name: "Weekly <Security> Summary".into(),
        period,
        expires_after: Some(std::time::Duration::from_secs(365 * 86_400)),
    };
    let meta = reports::generate_report(store.as_ref(), &config, &request, period.end)
        .await
        .unwrap();
    assert_eq!(meta.publish_state, PublishState::Unpublished);
    assert_eq!(meta.expires_at, Some(period.end + Span::days(365)));
    let html = store.get_report(meta.id).await.unwrap().unwrap().html;
    assert!(
        !html.contains("<script>"),
        "alert text must not become markup"
    );
    assert!(!html.contains("<img"), "alert text must not become markup");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("Weekly &lt;Security&gt; Summary"));
    assert!(
        !html.contains("src=\"http") && !html.contains("<link"),
        "no external assets"
    );
    assert!(html.matches("<svg").count() >= 2, "two charts");

    let unknown = GenerateRequest {
        client: "Nobody".into(),
        ..request
    };
    let error = reports::generate_report(store.as_ref(), &config, &unknown, period.end)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("\"Nobody\" is not configured"),
        "{error}"
    );
}

#[tokio::test]
async fn reports_publish_as_flexible_assets_with_their_file_and_related_items() {
    let sim = itglue_simulator().await;
    let store = memory_store().await;
    let config = config_for(sim.base_url(), "");
    let (org, configurations) = map_acme(&store, &sim).await;
    seed_week(&store, "Acme").await;
    let (deps, _clock) = publish_deps(&store, &config, &sim);

    let mut ids = Vec::new();
    for week in 0..3 {
        let end = start() + Span::days(7 * (week + 1));
        let request = GenerateRequest {
            client: "Acme".into(),
            name: "Weekly Security Summary".into(),
            period: ReportPeriod::days_before(end, 7),
            expires_after: Some(std::time::Duration::from_secs(365 * 86_400)),
        };
        let meta = reports::generate_report(store.as_ref(), &config, &request, end)
            .await
            .unwrap();
        let queued = request_publish(&store, &config, meta.id, clock_now(&deps)).await;
        assert!(
            matches!(queued, Ok(PublishRequest::Queued { .. })),
            "{queued:?}"
        );
        ids.push(meta.id);
    }
    let pass = run_due_publish_jobs(&deps).await.unwrap();
    assert_eq!(pass.published, 3, "{pass:?}");

    let types: Vec<_> = sim
        .flexible_asset_types()
        .into_iter()
        .filter(|t| t.name == "mspbridge Reports")
        .collect();
    assert_eq!(
        types.len(),
        1,
        "the report type is created once and found afterwards"
    );
    let assets: Vec<_> = sim
        .flexible_assets()
        .into_iter()
        .filter(|a| a.flexible_asset_type_id == types[0].id)
        .collect();
    assert_eq!(assets.len(), 3, "one asset per report");
    for id in &ids {
        let report = store.get_report(*id).await.unwrap().unwrap();
        let meta = &report.meta;
        assert_eq!(meta.publish_state, PublishState::Published);
        let asset = assets
            .iter()
            .find(|a| Some(a.id) == meta.itglue_asset_id)
            .expect("the stored asset id names a simulator asset");
        assert_eq!(asset.organization_id, org);
        let traits = &asset.traits;
        let plain = |field: &str| match traits.get(&name_key(field)) {
            Some(TraitValue::Plain(value)) => value.as_str().unwrap_or_default().to_string(),
            other => panic!("trait {field}: {other:?}"),
        };
        assert!(plain("Report Name").contains(&format!("(report {id})")));
        assert_eq!(
            plain("Report Generation Date"),
            meta.generated_at.format("%Y-%m-%d").to_string()
        );
        assert_eq!(
            plain("Expiry Date"),
            meta.expires_at.unwrap().format("%Y-%m-%d").to_string()
        );
        match traits.get(&name_key("Report File")) {
            Some(TraitValue::Upload(file)) => {
                assert_eq!(
                    file.content,
                    report.html.as_bytes(),
                    "the HTML is uploaded whole"
                );
                assert!(file.file_name.ends_with(&format!("-{id}.html")));
            }
            other => panic!("report-file: {other:?}"),
        }
        // Only the first week has alerts, so only its report talks about mapped systems.
        let expected: &[i64] = if *id == ids[0] { &configurations } else { &[] };
        assert_eq!(meta.systems.is_empty(), expected.is_empty(), "{meta:?}");
        let linked = sim
            .related_items()
            .iter()
            .filter(|item| {
                item.source == resource("Flexible Asset", asset.id)
                    || item.destination == resource("Flexible Asset", asset.id)
            })
            .count();
        assert_eq!(linked, expected.len());
        for configuration in expected {
            assert!(
                sim.related_items().iter().any(|item| item.links(
                    &resource("Flexible Asset", asset.id),
                    &resource("Configuration", *configuration)
                )),
                "asset {} must be related to configuration {configuration}",
                asset.id
            );
        }
    }
    let published = store
        .list_events(EventFilter {
            code: Some(events::REPORT_PUBLISHED),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(published.len(), 3);

    // Publishing again updates the same asset and keeps one link per configuration.
    request_publish(&store, &config, ids[0], clock_now(&deps))
        .await
        .unwrap();
    assert_eq!(run_due_publish_jobs(&deps).await.unwrap().published, 1);
    assert_eq!(
        sim.flexible_assets()
            .iter()
            .filter(|a| a.flexible_asset_type_id == types[0].id)
            .count(),
        3
    );
    let asset_id = store
        .get_report(ids[0])
        .await
        .unwrap()
        .unwrap()
        .meta
        .itglue_asset_id
        .unwrap();
    let links = sim
        .related_items()
        .iter()
        .filter(|item| {
            item.source == resource("Flexible Asset", asset_id)
                || item.destination == resource("Flexible Asset", asset_id)
        })
        .count();
    assert_eq!(links, configurations.len());
}

#[tokio::test]
async fn a_failed_publish_is_reported_and_retried_until_it_succeeds() {
    let sim = itglue_simulator().await;
    let store = memory_store().await;
    let config = config_for(sim.base_url(), "");
    map_acme(&store, &sim).await;
    let (deps, clock) = publish_deps(&store, &config, &sim);
    let report = generate_week(&store, &config, "Acme").await;
    request_publish(&store, &config, report, clock_now(&deps))
        .await
        .unwrap();

    sim.faults().fail_next(503, 1);
    let pass = run_due_publish_jobs(&deps).await.unwrap();
    assert_eq!((pass.retrying, pass.published), (1, 0), "{pass:?}");
    let meta = store.get_report(report).await.unwrap().unwrap().meta;
    assert_eq!(meta.publish_state, PublishState::Failed);
    assert!(
        meta.last_error.as_deref().unwrap().contains("503"),
        "{meta:?}"
    );
    assert_eq!(count_events(&store, events::REPORT_PUBLISH_FAILED).await, 1);
    assert_eq!(
        run_due_publish_jobs(&deps).await.unwrap().handled(),
        0,
        "nothing runs before the backoff"
    );

    // A 429 next: the retry waits at least as long as IT Glue asked. (The first backoff is 60 s
    // stretched by a jitter of up to a quarter.)
    clock.advance(std::time::Duration::from_secs(76));
    sim.faults()
        .rate_limit_next(1, Some(std::time::Duration::from_secs(600)));
    let asked_at = clock_now(&deps);
    assert_eq!(run_due_publish_jobs(&deps).await.unwrap().retrying, 1);
    // The client also holds its own request budget for the Retry-After in real time; the next
    // attempt runs with a fresh client, as it would in another process after the wait.
    let mut deps = deps;
    deps.clients = itglue_clients(&sim);
    let job = store
        .list_jobs(
            JobFilter {
                kind: Some(PUBLISH_REPORT_JOB.into()),
                ..JobFilter::default()
            },
            10,
        )
        .await
        .unwrap()
        .remove(0);
    assert_eq!(job.state, JobState::Queued);
    assert!(job.run_at >= asked_at + Span::seconds(600), "{job:?}");
    assert_eq!(count_events(&store, events::REPORT_PUBLISH_FAILED).await, 2);

    clock.advance(std::time::Duration::from_secs(601));
    assert_eq!(run_due_publish_jobs(&deps).await.unwrap().published, 1);
    let meta = store.get_report(report).await.unwrap().unwrap().meta;
    assert_eq!(meta.publish_state, PublishState::Published);
    assert_eq!(meta.last_error, None);
    assert_eq!(count_events(&store, events::REPORT_PUBLISHED).await, 1);
}

#[tokio::test]
async fn a_permanent_failure_dead_letters_the_job() {
    let sim = itglue_simulator().await;
    let store = memory_store().await;
    let config = config_for(sim.base_url(), "");
    map_acme(&store, &sim).await;
    let (deps, _clock) = publish_deps(&store, &config, &sim);
    let report = generate_week(&store, &config, "Acme").await;
    request_publish(&store, &config, report, clock_now(&deps))
        .await
        .unwrap();
    sim.faults().fail_next(422, 1);
    assert_eq!(run_due_publish_jobs(&deps).await.unwrap().dead, 1);
    let dead = store
        .list_jobs(
            JobFilter {
                state: Some(JobState::Dead),
                ..JobFilter::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(count_events(&store, events::JOB_DEAD_LETTERED).await, 1);
    let meta = store.get_report(report).await.unwrap().unwrap().meta;
    assert_eq!(meta.publish_state, PublishState::Failed);
    assert!(meta.last_error.unwrap().contains("gave up"));

    // Publishing again by hand queues a fresh job that succeeds.
    request_publish(&store, &config, report, clock_now(&deps))
        .await
        .unwrap();
    assert_eq!(run_due_publish_jobs(&deps).await.unwrap().published, 1);
}

#[tokio::test]
async fn publishing_is_refused_up_front_for_an_unmapped_client() {
    let sim = itglue_simulator().await;
    let store = memory_store().await;
    let config = config_for(sim.base_url(), "");
    map_acme(&store, &sim).await;
    let (deps, _clock) = publish_deps(&store, &config, &sim);

    let globex = generate_week(&store, &config, "Globex").await;
    let refused = request_publish(&store, &config, globex, clock_now(&deps))
        .await
        .unwrap();
    let PublishRequest::Refused { reason } = refused else {
        panic!("Globex has no organization mapping: {refused:?}");
    };
    assert!(
        reason.contains("no IT Glue organization mapping"),
        "{reason}"
    );
    let meta = store.get_report(globex).await.unwrap().unwrap().meta;
    assert_eq!(meta.publish_state, PublishState::Refused);
    assert_eq!(meta.last_error.as_deref(), Some(reason.as_str()));

    let initech = generate_week(&store, &config, "Initech").await;
    let PublishRequest::Refused { reason } =
        request_publish(&store, &config, initech, clock_now(&deps))
            .await
            .unwrap()
    else {
        panic!("Initech is in no IT Glue instance");
    };
    assert!(
        reason.contains("not enabled for any [[itglue]] instance"),
        "{reason}"
    );

    assert!(store
        .list_jobs(JobFilter::default(), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(sim.requests().is_empty(), "nothing was sent to IT Glue");
    assert_eq!(count_events(&store, events::REPORT_PUBLISH_FAILED).await, 2);
}

#[tokio::test]
async fn switched_on_publish_failures_raise_alerts_for_the_ticket_rules() {
    let sim = itglue_simulator().await;
    let store = memory_store().await;
    let config = config_for(sim.base_url(), "[events]\nraise_alerts = [4022]\n");
    let (deps, _clock) = publish_deps(&store, &config, &sim);
    let report = generate_week(&store, &config, "Globex").await;
    request_publish(&store, &config, report, clock_now(&deps))
        .await
        .unwrap();
    let raised = store
        .list_alerts(
            AlertFilter {
                source: Some("mspbridge".into()),
                ..AlertFilter::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].alert_name, "IT Glue report publish failed");
    assert_eq!(raised[0].client.as_deref(), Some("Globex"));

    // Switched off (the default), the same failure raises nothing.
    let quiet_store = memory_store().await;
    let quiet = config_for(sim.base_url(), "");
    let report = generate_week(&quiet_store, &quiet, "Globex").await;
    request_publish(&quiet_store, &quiet, report, clock_now(&deps))
        .await
        .unwrap();
    assert!(quiet_store
        .list_alerts(AlertFilter::default(), 10)
        .await
        .unwrap()
        .iter()
        .all(|alert| alert.source != "mspbridge"));
}

#[tokio::test]
async fn scheduled_reports_are_generated_once_per_period_across_processes() {
    let sim = itglue_simulator().await;
    let store = memory_store().await;
    let config = config_for(sim.base_url(), "");
    map_acme(&store, &sim).await;
    seed_week(&store, "Acme").await;
    // 2026-03-11 is a Wednesday: the last complete week is Mar 2 – Mar 9.
    let now = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 3, 11, 9, 0, 0).unwrap();
    let (first, second) = tokio::join!(
        run_due_schedules(&store, &config, now),
        run_due_schedules(&store, &config, now)
    );
    let made = first.unwrap().len() + second.unwrap().len();
    assert_eq!(
        made, 2,
        "one report for each of Acme and Globex, by one of the two runs"
    );
    assert!(run_due_schedules(&store, &config, now + Span::days(1))
        .await
        .unwrap()
        .is_empty());
    let all = store.list_reports(ReportFilter::default()).await.unwrap();
    let acme = all.iter().find(|r| r.client == "Acme").unwrap();
    assert_eq!(
        acme.publish_state,
        PublishState::Pending,
        "publish_to_itglue queues it"
    );
    let globex = all.iter().find(|r| r.client == "Globex").unwrap();
    assert_eq!(globex.publish_state, PublishState::Refused);
    assert_eq!(acme.period_start.format("%F").to_string(), "2026-03-02");

    let next_week = run_due_schedules(&store, &config, now + Span::days(7))
        .await
        .unwrap();
    assert_eq!(next_week.len(), 2);
}

/// A week of decided alerts whose raw rows retention has forgotten (and whose ticket events went
/// with them) still reports every count: the store's daily roll-ups carry them, written as the
/// alerts were decided, and nothing is counted twice on the way.
#[tokio::test]
async fn a_week_whose_alerts_retention_forgot_still_has_every_count() {
    use mspbridge_store::{AlertFilter, AlertOutcome, AlertState, DecisionBatch};

    let store = memory_store().await;
    let config = config_for(
        "http://127.0.0.1:9",
        r#"
[rules]
activity_record_requests = { limit = 1, keep = "1s" }

[retention]
events = "1s"
events_limit = 1
"#,
    );
    seed_week(&store, "Acme").await;
    seed_ticket_events(&store, "Acme").await;
    let period = ReportPeriod::days_before(start() + Span::days(7), 7);
    let queued = data::collect(store.as_ref(), "Acme", period).await.unwrap();
    assert_eq!(queued.total_alerts, WEEK_ALERTS);

    // The engine decides every alert: the roll-ups take over from the raw rows.
    let alerts = store
        .list_alerts(AlertFilter::default(), 1000)
        .await
        .unwrap();
    store
        .commit_decisions(DecisionBatch {
            alerts: alerts
                .iter()
                .map(|alert| AlertOutcome {
                    id: alert.id,
                    state: AlertState::Processed,
                    client: alert.client.clone(),
                    payload: None,
                    counted: None,
                    decisions: Vec::new(),
                })
                .collect(),
            ..DecisionBatch::default()
        })
        .await
        .unwrap();
    let decided = data::collect(store.as_ref(), "Acme", period).await.unwrap();
    assert_eq!(decided, queued, "a decided alert is counted once");

    let report =
        mspbridge_server::retention::run_pass(store.as_ref(), &config, start() + Span::days(10))
            .await
            .unwrap();
    assert_eq!(
        report.alerts,
        WEEK_ALERTS - 1,
        "all but the newest alert go"
    );
    assert!(
        report.events >= 6,
        "the week's ticket events go: {report:?}"
    );
    assert_eq!(
        store
            .list_alerts(AlertFilter::default(), 1000)
            .await
            .unwrap()
            .len(),
        1
    );
    let pruned = data::collect(store.as_ref(), "Acme", period).await.unwrap();
    assert_eq!(pruned, queued, "every count survives retention");
    assert_eq!(pruned.top_accounts[0], ("CORP\\alice".to_string(), 14));
    assert_eq!(
        (
            pruned.tickets.opened,
            pruned.tickets.updated,
            pruned.tickets.reopened
        ),
        (3, 2, 1)
    );
}
