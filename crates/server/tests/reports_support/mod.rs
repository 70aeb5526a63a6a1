//! Shared set-up of the report tests: an in-memory store seeded with a realistic week of alerts and
//! ticket events, a configuration pointing at the IT Glue simulator on loopback, mappings, and the
//! publish worker's dependencies on a manual clock.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use mspbridge_connectors::itglue::{ItGlueBase, ItGlueClient, ItGlueSettings, RetryPolicy};
use mspbridge_connectors::Backoff;
use mspbridge_core::clock::ManualClock;
use mspbridge_core::config::{parse_str, Config};
use mspbridge_core::events;
use mspbridge_server::jobs::JobPolicy;
use mspbridge_server::reports::{self, GenerateRequest, ItGlueClients, PublishDeps, ReportPeriod};
use mspbridge_simulators::itglue::{self, ItGlueSimConfig, ItGlueSimulator, ResourceRef};
use mspbridge_store::inventory::{Mapping, MappingKind, MappingSubject};
use mspbridge_store::{open_store, EventFilter, NewAlert, NewEvent, ReportId, Store};
use serde_json::json;

pub const API_KEY: &str = "ITG.reports-test-key";
pub const INSTANCE: &str = "main";
/// Alerts [`seed_week`] stores per client.
pub const WEEK_ALERTS: u64 = 19;

/// Monday 2026-03-02 00:00 UTC, the first day of the seeded week.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap()
}

pub async fn memory_store() -> Arc<dyn Store> {
    open_store("sqlite::memory:").await.unwrap()
}

/// Clients Acme (mapped by the tests), Globex (enabled for IT Glue, never mapped) and Initech (in
/// no instance); one weekly report entry publishing to IT Glue; `extra` appended.
pub fn config_for(itglue_url: &str, extra: &str) -> Arc<Config> {
    let text = format!(
        r#"
[[clients]]
name = "Acme"
email = "it@acme.example"

[[clients]]
name = "Globex"

[[clients]]
name = "Initech"

[[itglue]]
name = "{INSTANCE}"
url = "{itglue_url}"
api_key = "{API_KEY}"
clients = ["Acme", "Globex"]
report_asset_type = "mspbridge Reports"

[[reports]]
name = "Weekly Security Summary"
clients = ["Acme", "Globex"]
schedule = "weekly"
publish_to_itglue = true
expires_after = "365d"
{extra}
"#
    );
    Arc::new(parse_str(&text, "reports-test.toml").expect("the test config is valid"))
}

/// Stores one alert of `client` on day `day` (0-based from [`start`]).
pub async fn seed_alert(
    store: &Arc<dyn Store>,
    client: &str,
    name: &str,
    day: i64,
    who: &str,
    workstation: &str,
) {
    seed_alert_at(store, client, name, day, 9, who, workstation, "DC-01").await;
}

#[allow(clippy::too_many_arguments)]
async fn seed_alert_at(
    store: &Arc<dyn Store>,
    client: &str,
    name: &str,
    day: i64,
    hour: i64,
    who: &str,
    workstation: &str,
    where_: &str,
) {
    let at = start() + Span::days(day) + Span::hours(hour);
    let id = format!("{client}/{name}/{day}/{hour}/{who}");
    store
        .accept_alert(NewAlert {
            source: "auditor".into(),
            source_alert_id: id,
            client: Some(client.into()),
            alert_name: name.into(),
            occurred_at: at,
            received_at: at,
            payload: json!({
                "alert_name": name,
                "records": [{
                    "who": who,
                    "action": "Modified",
                    "where": where_,
                    "workstation": workstation,
                }],
            })
            .into(),
        })
        .await
        .unwrap();
}

/// A week of alerts for `client`: Password Reset twice a day (alice on WS-01), Account Locked Out
/// on days 1, 3 and 5 (bob on WS-02), Group Membership Changed on days 0 and 6 (admin on DC-01).
pub async fn seed_week(store: &Arc<dyn Store>, client: &str) {
    for day in 0..7 {
        for hour in [8, 15] {
            seed_alert_at(
                store,
                client,
                "Password Reset",
                day,
                hour,
                "CORP\\alice",
                "WS-01",
                "DC-01",
            )
            .await;
        }
        if day % 2 == 1 {
            seed_alert_at(
                store,
                client,
                "Account Locked Out",
                day,
                11,
                "CORP\\bob",
                "WS-02",
                "DC-01",
            )
            .await;
        }
        if day == 0 || day == 6 {
            seed_alert_at(
                store,
                client,
                "Group Membership Changed",
                day,
                13,
                "CORP\\admin",
                "DC-01",
                "DC-01",
            )
            .await;
        }
    }
}

/// Ticket events of `client` in the seeded week (3 opened, 2 updated, 1 reopened) and noise
/// outside it and for another client.
pub async fn seed_ticket_events(store: &Arc<dyn Store>, client: &str) {
    let event = |code, day: i64, who: &str| NewEvent {
        code,
        at: start() + Span::days(day) + Span::hours(10),
        client: Some(who.to_string()),
        subject: Some("ticket".into()),
        message: "ticket event".into(),
        details: json!({}),
    };
    for (code, day) in [
        (events::TICKET_CREATED, 0),
        (events::TICKET_CREATED, 2),
        (events::TICKET_CREATED, 4),
        (events::TICKET_UPDATED, 1),
        (events::TICKET_UPDATED, 5),
        (events::TICKET_REOPENED, 6),
    ] {
        store.append_event(event(code, day, client)).await.unwrap();
    }
    store
        .append_event(event(events::TICKET_CREATED, 9, client))
        .await
        .unwrap();
    store
        .append_event(event(events::TICKET_CREATED, 1, "Someone Else"))
        .await
        .unwrap();
}

pub async fn itglue_simulator() -> ItGlueSimulator {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    itglue::spawn(ItGlueSimConfig::demo(API_KEY), addr)
        .await
        .expect("the IT Glue simulator starts")
}

/// Maps Acme to the first demo organization with two configurations, and Acme's WS-01 and DC-01
/// to those configurations. Returns (organization, configurations).
pub async fn map_acme(store: &Arc<dyn Store>, sim: &ItGlueSimulator) -> (i64, Vec<i64>) {
    let configurations = sim.configurations();
    let organization = sim
        .organizations()
        .into_iter()
        .map(|org| org.id)
        .find(|id| {
            configurations
                .iter()
                .filter(|c| c.organization_id == *id)
                .count()
                >= 2
        })
        .expect("the demo seed has an organization with two configurations");
    let chosen: Vec<i64> = configurations
        .iter()
        .filter(|c| c.organization_id == organization)
        .map(|c| c.id)
        .take(2)
        .collect();
    let mapping = |subject, target_id| Mapping {
        instance: INSTANCE.into(),
        subject,
        target_id,
        kind: MappingKind::Manual,
        updated_at: start(),
    };
    store
        .set_mapping(mapping(
            MappingSubject::Client {
                client: "Acme".into(),
            },
            organization,
        ))
        .await
        .unwrap();
    for (system, configuration) in ["WS-01", "DC-01"].into_iter().zip(&chosen) {
        store
            .set_mapping(mapping(
                MappingSubject::System {
                    client: "Acme".into(),
                    system: system.into(),
                },
                *configuration,
            ))
            .await
            .unwrap();
    }
    (organization, chosen)
}

/// The publish worker's dependencies: an IT Glue client that never retries by itself (so every
/// failure reaches the job), a manual clock a month after [`start`], a 60 s backoff.
pub fn publish_deps(
    store: &Arc<dyn Store>,
    config: &Arc<Config>,
    sim: &ItGlueSimulator,
) -> (PublishDeps, ManualClock) {
    let clients = itglue_clients(sim);
    let clock = ManualClock::new(start() + Span::days(30));
    let deps = PublishDeps {
        store: store.clone(),
        config: config.clone(),
        clients,
        clock: Arc::new(clock.clone()),
        worker_id: "reports-test".into(),
        policy: JobPolicy {
            backoff: Backoff::new(Duration::from_secs(60), Duration::from_secs(3600)),
            max_attempts: 5,
            max_age: Duration::from_secs(30 * 24 * 3600),
            lease: Duration::from_secs(300),
        },
    };
    (deps, clock)
}

/// Clients for the simulator that never retry by themselves, so every failure reaches the job.
pub fn itglue_clients(sim: &ItGlueSimulator) -> ItGlueClients {
    let mut settings =
        ItGlueSettings::new(ItGlueBase::Url(sim.base_url().parse().unwrap()), API_KEY);
    settings.retry = RetryPolicy::never();
    let mut clients = ItGlueClients::default();
    clients.insert(INSTANCE, ItGlueClient::new(settings).unwrap());
    clients
}

pub fn clock_now(deps: &PublishDeps) -> DateTime<Utc> {
    deps.clock.now()
}

/// Generates `client`'s report of the seeded week; returns its id.
pub async fn generate_week(store: &Arc<dyn Store>, config: &Config, client: &str) -> ReportId {
    let end = start() + Span::days(7);
    let request = GenerateRequest {
        client: client.into(),
        name: "Weekly Security Summary".into(),
        period: ReportPeriod::days_before(end, 7),
        expires_after: Some(Duration::from_secs(365 * 86_400)),
    };
    reports::generate_report(store.as_ref(), config, &request, end)
        .await
        .unwrap()
        .id
}

pub async fn count_events(store: &Arc<dyn Store>, code: u32) -> usize {
    store
        .list_events(EventFilter {
            code: Some(code),
            limit: Some(1000),
            ..EventFilter::default()
        })
        .await
        .unwrap()
        .len()
}

/// One end of a simulator related item.
pub fn resource(class: &str, id: i64) -> ResourceRef {
    ResourceRef {
        class: class.into(),
        id,
    }
}
