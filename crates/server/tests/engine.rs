//! The engine end to end: alerts accepted into a temporary SQLite store, processed over a manual
//! clock, against the ConnectWise and Netwrix Auditor simulators over loopback HTTP.

#[path = "engine/decisions.rs"]
mod decisions;
#[path = "engine/harness.rs"]
mod harness;
#[path = "engine/naming.rs"]
mod naming;
#[path = "engine/proxy.rs"]
mod proxy;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use harness::{count, id, loopback, Harness, MINUTE, SOURCE};
use mspbridge_core::alert::Alert;
use mspbridge_core::clock::Clock;
use mspbridge_core::events;
use mspbridge_server::{engine, retention};
use mspbridge_simulators::auditor;
use mspbridge_simulators::connectwise::{self as cw_sim, Fault, SimulatorConfig};
use mspbridge_store::rollup::{alert_counts, RollupKind};
use mspbridge_store::{open_store, AlertState, BufferChange, DecisionBatch, JobFilter, JobState};
use proxy::{QueueAtCreateProxy, SlowFirstCreateProxy};
use serde_json::json;

// ---------------------------------------------------------------- seed scenario

#[tokio::test]
async fn password_reset_opens_a_ticket_and_twenty_more_make_one_update() {
    let h = Harness::new("").await;
    let rid = h.password_reset("ACME\\helpdesk.anna");
    h.fire("Password Reset", "alert-pr", &rid).await;
    h.run().await;

    let ticket = h.only_ticket();
    assert_eq!(ticket["summary"], "[mspbridge] Password Reset");
    assert_eq!(ticket["company"]["id"], 250);
    assert_eq!(ticket["board"]["id"], 3);
    let description = h.notes(&ticket).join("\n");
    assert!(
        description.contains("Who: ACME\\helpdesk.anna"),
        "{description}"
    );
    assert!(
        description.contains("Workstation: ACME-WS-014.acme.example"),
        "{description}"
    );
    assert!(
        description.contains("When: 2026-11-23T08:12:41Z"),
        "{description}"
    );
    assert!(
        description.contains("Sent by mspbridge from bridge01"),
        "{description}"
    );
    assert_eq!(h.events(events::TICKET_CREATED).await.len(), 1);
    let stored = h.store.get_alert(1).await.unwrap().unwrap();
    assert_eq!(
        stored.payload["records"][0]["who"], "ACME\\helpdesk.anna",
        "the enriched alert is kept in the store"
    );

    // Twenty more resets within ten simulated minutes.
    for i in 0..20 {
        h.advance(Duration::from_secs(30));
        let rid = h.password_reset(&format!("ACME\\user{}", i % 4));
        h.fire("Password Reset", &format!("alert-pr-{i}"), &rid)
            .await;
        h.run().await;
    }
    assert_eq!(
        h.notes(&ticket).len(),
        1,
        "nothing is written before the flush"
    );
    h.advance(15 * MINUTE);
    h.run().await;

    assert_eq!(h.tickets().len(), 1);
    let notes = h.notes(&ticket);
    assert_eq!(notes.len(), 2, "{notes:#?}");
    assert!(
        notes[1].starts_with("20 more \"Password Reset\" alerts"),
        "{}",
        notes[1]
    );
    assert!(notes[1].contains("ACME\\user0 (5)"), "{}", notes[1]);
    let documents = h.cw.state().documents();
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0].record_id, id(&ticket));
    let attached = String::from_utf8(documents[0].content.clone()).unwrap();
    assert_eq!(attached.matches("Who: ").count(), 20, "{attached}");
    assert_eq!(h.events(events::TICKET_UPDATED).await.len(), 1);
    assert_eq!(h.processed_alerts().await.len(), 21);
}

/// A buffer may hold entries an earlier version wrote (the alert inline) and ids whose alert was
/// removed by hand: the flush carries what it can find, in buffer order, and empties the buffer.
#[tokio::test]
async fn a_flush_carries_inline_entries_and_skips_alerts_that_are_gone() {
    let h = Harness::new("").await;
    h.fire(
        "Password Reset",
        "alert-pr",
        &h.password_reset("ACME\\anna"),
    )
    .await;
    h.run().await;
    let ticket = h.only_ticket();
    for i in 0..2 {
        h.advance(Duration::from_secs(30));
        let rid = h.password_reset(&format!("ACME\\user{i}"));
        h.fire("Password Reset", &format!("alert-pr-{i}"), &rid)
            .await;
        h.run().await;
    }
    let key = "Acme/Password Reset";
    let incident = h.store.get_incident(key).await.unwrap().unwrap();
    assert_eq!(incident.buffered, 2);
    let mut inline = h.store.get_alert(2).await.unwrap().unwrap().payload;
    inline["records"][0]["who"] = json!("ACME\\inline.user");
    let append = |entry| BufferChange::Append {
        key: key.to_string(),
        entry,
    };
    h.store
        .commit_decisions(DecisionBatch {
            incidents: vec![incident],
            buffer: vec![
                append(json!({"alert_id": 888_888, "alert": inline})),
                append(json!(999_999)),
            ],
            ..DecisionBatch::default()
        })
        .await
        .unwrap();

    h.advance(15 * MINUTE);
    h.run().await;
    let notes = h.notes(&ticket);
    assert_eq!(notes.len(), 2, "{notes:#?}");
    assert!(
        notes[1].starts_with("3 more \"Password Reset\" alerts"),
        "{}",
        notes[1]
    );
    let documents = h.cw.state().documents();
    let attached = String::from_utf8(documents[0].content.clone()).unwrap();
    let order: Vec<_> = ["ACME\\user0", "ACME\\user1", "ACME\\inline.user"]
        .iter()
        .map(|who| attached.find(&format!("Who: {who}")))
        .collect();
    assert!(
        order.iter().all(Option::is_some) && order.windows(2).all(|pair| pair[0] < pair[1]),
        "the alerts in buffer order: {attached}"
    );
    let incident = h.store.get_incident(key).await.unwrap().unwrap();
    assert_eq!(incident.buffered, 0);
    assert_eq!(h.store.incident_buffer(key).await.unwrap(), []);
}

#[tokio::test]
async fn auditor_retries_of_one_alert_are_deduplicated() {
    let h = Harness::new("").await;
    let rid = h.password_reset("ACME\\anna");
    for _ in 0..5 {
        h.fire("Password Reset", "alert-1", &rid).await;
    }
    h.run().await;
    h.advance(20 * MINUTE);
    h.run().await;
    assert_eq!(h.tickets().len(), 1);
    assert_eq!(
        h.notes(&h.only_ticket()).len(),
        1,
        "retries are not repeats"
    );
}

// ---------------------------------------------------------------- reopen, new ticket, correlation

#[tokio::test]
async fn a_closed_ticket_is_reopened_then_updated() {
    let h = Harness::new("").await;
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.run().await;
    let ticket = h.only_ticket();
    h.connectwise()
        .set_ticket_status(id(&ticket), 34)
        .await
        .unwrap();

    h.advance(MINUTE);
    h.fire("Password Reset", "a2", &h.password_reset("ACME\\bob"))
        .await;
    h.run().await;
    h.advance(15 * MINUTE);
    h.run().await;

    let ticket = h.only_ticket();
    assert_eq!(ticket["status"]["id"], 31, "reopened to reopen_new_status");
    assert_eq!(ticket["closedFlag"], false);
    let notes = h.notes(&ticket);
    assert_eq!(notes.len(), 2, "{notes:#?}");
    assert!(notes[1].contains("ACME\\bob"), "{}", notes[1]);
    let reopened = h.events(events::TICKET_REOPENED).await;
    assert_eq!(reopened.len(), 1);
    assert!(
        reopened[0].contains("reopened to status 31"),
        "{}",
        reopened[0]
    );

    // After the reopen, the next flush is a plain update of the same ticket.
    h.advance(MINUTE);
    h.fire("Password Reset", "a3", &h.password_reset("ACME\\carol"))
        .await;
    h.run().await;
    h.advance(15 * MINUTE);
    h.run().await;
    assert_eq!(h.notes(&h.only_ticket()).len(), 3);
    assert_eq!(h.events(events::TICKET_REOPENED).await.len(), 1);
}

#[tokio::test]
async fn closed_without_reopen_opens_a_new_ticket_carrying_the_buffer() {
    let h = Harness::new("reopen_ticket_on_repetitive_alerts = false").await;
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.run().await;
    let first = h.only_ticket();
    h.connectwise()
        .set_ticket_status(id(&first), 35)
        .await
        .unwrap();
    for (i, who) in ["ACME\\bob", "ACME\\carol"].into_iter().enumerate() {
        h.advance(MINUTE);
        h.fire("Password Reset", &format!("b{i}"), &h.password_reset(who))
            .await;
        h.run().await;
    }
    h.advance(15 * MINUTE);
    h.run().await;

    let tickets = h.tickets();
    assert_eq!(tickets.len(), 2, "{tickets:#?}");
    let second = &tickets[1];
    assert_eq!(
        h.cw.state().ticket(id(&first)).unwrap()["status"]["id"],
        35,
        "stays closed"
    );
    let description = h.notes(second).join("\n");
    assert!(description.contains("Who: ACME\\bob"), "{description}");
    assert!(
        description.contains("2 more \"Password Reset\" alerts"),
        "{description}"
    );
    assert!(
        description.contains(&format!(
            "Previous incident for the same alert type: Id: {}",
            id(&first)
        )),
        "{description}"
    );
}

#[tokio::test]
async fn a_repeat_after_the_update_interval_opens_a_ticket_with_a_correlation_line() {
    let h = Harness::new("update_interval = \"1h\"").await;
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.run().await;
    let first = h.only_ticket();

    // Exactly update_interval later is still a repeat (inclusive boundary).
    h.advance(Duration::from_secs(3600));
    h.fire("Password Reset", "a2", &h.password_reset("ACME\\bob"))
        .await;
    h.run().await;
    assert_eq!(h.tickets().len(), 1);
    h.advance(15 * MINUTE);
    h.run().await;

    // More than update_interval after the last alert: a new ticket that names the first.
    h.advance(Duration::from_secs(3601));
    h.fire("Password Reset", "a3", &h.password_reset("ACME\\carol"))
        .await;
    h.run().await;
    let tickets = h.tickets();
    assert_eq!(tickets.len(), 2, "{tickets:#?}");
    let description = h.notes(&tickets[1]).join("\n");
    assert!(
        description.ends_with(&format!(
            "Previous incident for the same alert type: Id: {}",
            id(&first)
        )),
        "{description}"
    );
}

#[tokio::test]
async fn a_ticket_deleted_in_connectwise_is_replaced_at_the_flush() {
    let h = Harness::new("").await;
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.run().await;
    let first = id(&h.only_ticket());
    let deleted = reqwest::Client::new()
        .delete(format!(
            "{}/v4_6_release/apis/3.0/service/tickets/{first}",
            h.cw.base_url()
        ))
        .basic_auth("demo_msp+demo-public", Some("demo-private"))
        .header("clientId", "mspbridge-tests")
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{deleted:?}");

    h.advance(MINUTE);
    h.fire("Password Reset", "a2", &h.password_reset("ACME\\bob"))
        .await;
    h.run().await;
    h.advance(15 * MINUTE);
    h.run().await;
    let ticket = h.only_ticket();
    assert_ne!(id(&ticket), first);
    let description = h.notes(&ticket).join("\n");
    assert!(description.contains("Who: ACME\\bob"), "{description}");
    assert_eq!(h.store.queue_depth().await.unwrap().dead, 0);
}

// ---------------------------------------------------------------- flood

#[tokio::test]
async fn the_flood_ticket_takes_new_alert_types_once_the_limit_is_reached() {
    let h = Harness::new("ticket_flood_limit = 3\nticket_flood_interval = \"1h\"").await;
    for i in 0..6 {
        h.advance(MINUTE);
        let rid = h.password_reset("ACME\\anna");
        h.fire(&format!("Alert type {i}"), &format!("t{i}"), &rid)
            .await;
        h.run().await;
    }
    let tickets = h.tickets();
    assert_eq!(
        tickets.len(),
        4,
        "3 standalone + 1 flood ticket: {tickets:#?}"
    );
    assert_eq!(tickets[3]["summary"], "[mspbridge] Ticket flood: Acme");
    assert_eq!(h.events(events::FLOOD_TICKET_OPENED).await.len(), 1);
    h.advance(15 * MINUTE);
    h.run().await;
    let flood_notes = h.notes(&tickets[3]);
    assert_eq!(
        flood_notes.len(),
        2,
        "description + one consolidated update: {flood_notes:#?}"
    );
    assert!(
        flood_notes[1].starts_with("2 more alerts between")
            && flood_notes[1].contains("\"Alert type 4\" (1), \"Alert type 5\" (1)."),
        "every alert type the flood update carries is named with its count: {}",
        flood_notes[1]
    );

    // A new flood interval: the flood ticket is replaced.
    h.advance(Duration::from_secs(3600));
    for i in 6..10 {
        let rid = h.password_reset("ACME\\anna");
        h.fire(&format!("Alert type {i}"), &format!("t{i}"), &rid)
            .await;
        h.run().await;
    }
    let tickets = h.tickets();
    // The first 3 standalone left the window; types 6, 7, 8 are standalone again, 9 opens a new flood
    // ticket.
    assert_eq!(tickets.len(), 8, "{tickets:#?}");
    assert_eq!(tickets[7]["summary"], "[mspbridge] Ticket flood: Acme");
    assert_eq!(h.events(events::FLOOD_TICKET_OPENED).await.len(), 2);
}

// ---------------------------------------------------------------- failures

#[tokio::test]
async fn rate_limited_create_waits_for_retry_after() {
    let h = Harness::new("").await;
    h.cw.faults().inject(
        Fault::rate_limited(30)
            .times(1)
            .on_path("/service/tickets")
            .on_method("POST"),
    );
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.run().await;
    assert!(h.tickets().is_empty());
    let queued = h
        .store
        .list_jobs(
            JobFilter {
                state: Some(JobState::Queued),
                ..JobFilter::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert!(
        queued[0].run_at >= h.clock.now() + chrono::Duration::seconds(30),
        "{queued:?}"
    );
    let calls_before = h.ticket_calls();

    h.advance(Duration::from_secs(29));
    h.run().await;
    assert_eq!(
        h.ticket_calls(),
        calls_before,
        "no request before Retry-After expires"
    );

    h.advance(Duration::from_secs(31));
    h.run().await;
    assert_eq!(h.tickets().len(), 1);
    let requests = h.cw.state().requests();
    let limited = requests
        .iter()
        .find(|request| request.status == 429)
        .unwrap();
    let next = requests
        .iter()
        .find(|request| {
            request.timestamp > limited.timestamp && request.path.contains("/service/tickets")
        })
        .unwrap();
    assert!(next.status < 400, "{next:?}");
}

#[tokio::test]
async fn unavailable_connectwise_then_recovery_loses_nothing() {
    let h = Harness::new("").await;
    h.cw.faults().inject(Fault::unavailable().times(3));
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.fire("Account Locked", "b1", &h.password_reset("ACME\\bob"))
        .await;
    h.run().await;
    for _ in 0..4 {
        h.advance(5 * MINUTE);
        h.run().await;
    }
    let tickets = h.tickets();
    assert_eq!(tickets.len(), 2, "{tickets:#?}");
    let depth = h.store.queue_depth().await.unwrap();
    assert_eq!((depth.queued, depth.running, depth.dead), (0, 0, 0));
}

#[tokio::test]
async fn jobs_that_keep_failing_are_dead_lettered_with_an_event() {
    let h = Harness::new("").await;
    h.cw.faults()
        .inject(Fault::server_error().on_path("/service/tickets"));
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.run().await;
    for _ in 0..10 {
        h.advance(5 * MINUTE);
        h.run().await;
    }
    let dead = h.events(events::JOB_DEAD_LETTERED).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].contains("ticket.create job"), "{dead:?}");
    assert_eq!(h.store.queue_depth().await.unwrap().dead, 1);
}

#[tokio::test]
async fn an_unreachable_connectwise_is_one_event_per_outage_window() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let site = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let h = Harness::build("", Some(site), Duration::from_secs(5)).await;
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.fire("Account Locked", "b1", &h.password_reset("ACME\\bob"))
        .await;
    h.run().await;
    let failed = h.events(events::CONNECTION_FAILED).await;
    assert_eq!(failed.len(), 1, "two failing jobs, one event: {failed:?}");
    assert!(
        failed[0].starts_with("ConnectWise cannot be reached: creating the ticket"),
        "{failed:?}"
    );
    h.advance(6 * MINUTE);
    h.run().await;
    assert_eq!(h.events(events::CONNECTION_FAILED).await.len(), 2);
    assert_eq!(
        h.store.queue_depth().await.unwrap().queued,
        2,
        "both creates wait to be retried"
    );
}

#[tokio::test]
async fn an_unknown_outcome_on_create_is_resolved_by_external_xref() {
    // A proxy answers the first ticket create only after the client gave up: the ticket exists,
    // the client does not know it.
    let upstream = cw_sim::spawn(SimulatorConfig::default(), loopback())
        .await
        .unwrap();
    let proxy = SlowFirstCreateProxy::spawn(upstream.base_url(), Duration::from_millis(1500)).await;
    let mut h = Harness::build("", Some(proxy.url.clone()), Duration::from_millis(500)).await;
    h.cw = upstream;

    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.run().await;
    proxy.wait_for_delayed_answer().await;
    assert_eq!(h.tickets().len(), 1, "the create reached ConnectWise");

    h.advance(MINUTE);
    h.run().await;
    assert_eq!(h.tickets().len(), 1, "still exactly one ticket");
    let calls = h.ticket_calls();
    assert_eq!(count(&calls, "POST /service/tickets"), 1, "{calls:#?}");
    assert_eq!(
        count(&calls, "GET /service/tickets"),
        1,
        "the externalXRef search: {calls:#?}"
    );
    assert_eq!(h.events(events::TICKET_CREATED).await.len(), 1);
    let incident = h
        .store
        .get_incident("Acme/Password Reset")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(incident.ticket_id, Some(id(&h.only_ticket())));
}

#[tokio::test]
async fn a_note_whose_answer_was_lost_is_found_on_the_ticket_and_not_posted_again() {
    // The first update note reaches ConnectWise, its answer does not reach the client.
    let upstream = cw_sim::spawn(SimulatorConfig::default(), loopback())
        .await
        .unwrap();
    let proxy = SlowFirstCreateProxy::spawn_for(
        upstream.base_url(),
        Duration::from_millis(1500),
        |target| target.ends_with("/notes"),
    )
    .await;
    let mut h = Harness::build(
        "consolidation_interval = 0",
        Some(proxy.url.clone()),
        Duration::from_millis(500),
    )
    .await;
    h.cw = upstream;
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.run().await;
    h.advance(MINUTE);
    h.fire("Password Reset", "a2", &h.password_reset("ACME\\bob"))
        .await;
    h.run().await;
    proxy.wait_for_delayed_answer().await;
    let ticket = h.only_ticket();
    assert_eq!(h.notes(&ticket).len(), 2, "the note reached ConnectWise");

    h.advance(MINUTE);
    h.run().await;
    let notes = h.notes(&ticket);
    assert_eq!(notes.len(), 2, "the retry found its note: {notes:#?}");
    let calls = h.ticket_calls();
    assert_eq!(
        calls
            .iter()
            .filter(|call| call.starts_with("POST") && call.ends_with("/notes"))
            .count(),
        1,
        "{calls:#?}"
    );
    assert_eq!(h.store.queue_depth().await.unwrap().queued, 0);
}

#[tokio::test]
async fn an_unknown_record_id_opens_no_ticket_and_is_one_event_naming_source_and_client() {
    let h = Harness::new("").await;
    h.fire(
        "Test Alert",
        "sample-alert",
        "20160215110503420B9451771F5964A9EAC0A5F35307EA155",
    )
    .await;
    h.run().await;
    assert!(h.tickets().is_empty(), "{:#?}", h.tickets());
    let stored = h.store.get_alert(1).await.unwrap().unwrap();
    assert_eq!(stored.state, AlertState::Processed);
    let failures = h
        .store
        .list_events(mspbridge_store::EventFilter {
            code: Some(events::ENRICHMENT_FAILED),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].client.as_deref(), Some("Acme"));
    assert_eq!(failures[0].details["source"], SOURCE);
    assert!(
        failures[0].message.contains("no activity record with RID"),
        "{failures:?}"
    );
}

/// Runs the engine at steps of `step` of the manual clock until `done` or `steps` ran out.
async fn run_until(h: &Harness, step: Duration, steps: usize, done: impl Fn(&Harness) -> bool) {
    for _ in 0..steps {
        h.run().await;
        if done(h) {
            return;
        }
        h.advance(step);
    }
    h.run().await;
}

#[tokio::test]
async fn auditor_busy_four_times_waits_durably_and_the_ticket_gets_its_record() {
    let h = Harness::new("").await;
    let rid = h.password_reset("ACME\\anna");
    h.auditor
        .faults()
        .push_times(auditor::AuditorFault::ServiceBusy, 4);
    h.fire("Password Reset", "a1", &rid).await;
    // An Alertmanager alert of the same client behind it is not held up.
    h.alertmanager("DiskFull", "fp-1", "firing").await;
    h.run().await;
    let waiting = h.store.get_alert(1).await.unwrap().unwrap();
    assert_eq!(waiting.state, AlertState::Enriching);
    assert_eq!(
        h.tickets().len(),
        1,
        "the other alert's ticket is open at once"
    );
    run_until(&h, Duration::from_secs(15), 20, |h| h.tickets().len() == 2).await;
    let tickets = h.tickets();
    assert_eq!(tickets.len(), 2, "{tickets:#?}");
    let reset = tickets
        .iter()
        .find(|ticket| ticket["summary"] == "[mspbridge] Password Reset")
        .unwrap();
    let description = h.notes(reset).join("\n");
    assert!(description.contains("Who: ACME\\anna"), "{description}");
    assert!(!description.contains("Who: \n"), "{description}");
    assert!(h.events(events::ENRICHMENT_FAILED).await.is_empty());
}

#[tokio::test]
async fn an_alert_gives_up_on_its_record_after_enrich_give_up_and_its_ticket_says_why() {
    let h = Harness::new("").await;
    let rid = h.password_reset("ACME\\anna");
    h.auditor
        .faults()
        .set_always(Some(auditor::AuditorFault::ServiceBusy));
    h.fire("Password Reset", "a1", &rid).await;
    run_until(&h, Duration::from_secs(60), 15, |h| !h.tickets().is_empty()).await;
    let ticket = h.only_ticket();
    let description = h.notes(&ticket).join("\n");
    assert!(
        description.contains(&format!(
            "The activity record {rid} could not be fetched from Netwrix Auditor"
        )),
        "{description}"
    );
    assert!(description.contains("HTTP 503"), "{description}");
    assert!(
        description.contains("Who: (activity record not fetched)"),
        "{description}"
    );
    assert_eq!(h.events(events::ENRICHMENT_FAILED).await.len(), 1);
}

#[tokio::test]
async fn a_failed_upload_is_dumped_when_configured() {
    let h = Harness::new("consolidation_interval = 0").await;
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.run().await;
    h.cw.faults()
        .inject(Fault::server_error().on_path("/system/documents"));
    h.advance(MINUTE);
    h.fire("Password Reset", "a2", &h.password_reset("ACME\\bob"))
        .await;
    h.run().await;
    let ticket = h.only_ticket();
    assert_eq!(
        h.notes(&ticket).len(),
        2,
        "consolidation_interval 0 flushes at once"
    );
    let dumped = h.events(events::ATTACHMENT_DUMPED).await;
    assert_eq!(dumped.len(), 1, "{dumped:?}");
    let folder = h.dir.path().join("missing").join(id(&ticket).to_string());
    let files: Vec<_> = std::fs::read_dir(&folder).unwrap().collect();
    assert_eq!(files.len(), 1);
    assert_eq!(h.store.queue_depth().await.unwrap().dead, 0);
}

#[tokio::test]
async fn an_attachment_over_max_attachment_bytes_is_never_sent() {
    let mut h = Harness::with_ticket(
        "ignore_upload_attachment_error = true",
        "consolidation_interval = 0",
    )
    .await;
    Arc::make_mut(&mut h.config)
        .connectwise
        .as_mut()
        .unwrap()
        .max_attachment_bytes = 64;
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.run().await;
    h.advance(MINUTE);
    h.fire("Password Reset", "a2", &h.password_reset("ACME\\bob"))
        .await;
    h.run().await;
    let ticket = h.only_ticket();
    assert_eq!(h.notes(&ticket).len(), 2, "the update is written");
    assert_eq!(
        count(&h.ticket_calls(), "POST /system/documents"),
        0,
        "a file over the limit is not uploaded"
    );
    let dumped = h.events(events::ATTACHMENT_DUMPED).await;
    assert_eq!(dumped.len(), 1, "{dumped:?}");
    assert!(
        dumped[0].contains("max_attachment_bytes (64)"),
        "{dumped:?}"
    );
    assert_eq!(h.store.queue_depth().await.unwrap().dead, 0);
}

// ---------------------------------------------------------------- routing

#[tokio::test]
async fn unrouted_alerts_are_kept_and_routed_after_a_config_change() {
    let h = Harness::new("").await;
    let mut alert = Alert::netwrix(
        SOURCE,
        "x",
        &h.password_reset("ACME\\anna"),
        Some("Password Reset"),
        h.clock.now(),
    );
    alert.client = Some("Initech".to_string());
    alert.source = "hook".to_string();
    engine::accept(&h.store, alert, h.clock.now())
        .await
        .unwrap();
    h.run().await;
    assert!(h.tickets().is_empty());
    let unrouted = h.events(events::ALERT_UNROUTED).await;
    assert_eq!(unrouted.len(), 1);
    assert!(
        unrouted[0].contains("\"Initech\", which is not a configured client"),
        "{unrouted:?}"
    );

    let mut changed = (*h.config).clone();
    let mut initech = changed.clients[0].clone();
    initech.name = "Initech".to_string();
    initech.connectwise.company_id = Some(252);
    changed.clients.push(initech);
    let outcome = h
        .engine()
        .reroute_unrouted(Arc::new(changed))
        .await
        .unwrap();
    assert_eq!((outcome.unrouted, outcome.routed), (1, 1));
    let said = h.events(events::ALERT_UNROUTED).await;
    assert!(
        said.iter()
            .any(|message| message.starts_with("1 of 1 unrouted alert(s) found a client")),
        "{said:?}"
    );
    h.run().await;
    let ticket = h.only_ticket();
    assert_eq!(ticket["company"]["id"], 252);
}

#[tokio::test]
async fn incidents_are_forgotten_after_the_longer_of_the_update_and_correlation_windows() {
    let h = Harness::new("").await;
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.run().await;
    assert!(h
        .store
        .get_incident("Acme/Password Reset")
        .await
        .unwrap()
        .is_some());
    // 30 days (correlation_interval) is the longer window.
    h.advance(Duration::from_secs(30 * 86_400 - 3600));
    h.run().await;
    retention::run_pass(h.store.as_ref(), &h.config, h.clock.now())
        .await
        .unwrap();
    assert!(h
        .store
        .get_incident("Acme/Password Reset")
        .await
        .unwrap()
        .is_some());
    h.advance(Duration::from_secs(2 * 3600));
    h.run().await;
    retention::run_pass(h.store.as_ref(), &h.config, h.clock.now())
        .await
        .unwrap();
    assert!(h
        .store
        .get_incident("Acme/Password Reset")
        .await
        .unwrap()
        .is_none());
    assert_eq!(h.tickets().len(), 1, "ConnectWise keeps its tickets");
}

// ---------------------------------------------------------------- restart and call counts

#[tokio::test]
async fn a_restart_mid_way_loses_nothing_and_duplicates_nothing() {
    let h = Harness::new("").await;
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.fire("Account Locked", "b1", &h.password_reset("ACME\\bob"))
        .await;
    // The first engine takes the alerts off the queue but ConnectWise is down: jobs stay queued.
    h.cw.faults().inject(Fault::unavailable().times(2));
    h.run().await;
    h.advance(MINUTE);
    h.fire("Password Reset", "a2", &h.password_reset("ACME\\carol"))
        .await;
    // A worker takes the due jobs and dies mid-call: its leases are live, nobody completes them.
    h.advance(5 * MINUTE);
    let leased = h
        .store
        .claim_jobs(
            "crashed-worker",
            h.clock.now(),
            Duration::from_secs(300),
            10,
        )
        .await
        .unwrap();
    assert_eq!(leased.len(), 2, "both creates were due again");
    let db = h.dir.path().join("mspbridge.db");
    h.store.close().await;

    // A new process: a new store on the same file, a new engine.
    let store = open_store(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let engine = h.new_engine(store.clone());
    engine.run_until_idle().await.unwrap();
    assert!(
        h.tickets().is_empty(),
        "jobs leased by the dead worker wait for their lease"
    );
    h.advance(6 * MINUTE);
    engine.run_until_idle().await.unwrap();
    h.advance(20 * MINUTE);
    engine.run_until_idle().await.unwrap();

    let tickets = h.tickets();
    assert_eq!(tickets.len(), 2, "{tickets:#?}");
    let reset = tickets
        .iter()
        .find(|t| t["summary"] == "[mspbridge] Password Reset")
        .unwrap();
    assert_eq!(
        h.notes(reset).len(),
        2,
        "the repeat accepted before the restart was flushed"
    );
    let depth = store.queue_depth().await.unwrap();
    assert_eq!((depth.queued, depth.running, depth.dead), (0, 0, 0));
}

#[tokio::test]
async fn a_storm_costs_the_minimum_number_of_connectwise_calls() {
    let h = Harness::new("").await;
    // 3 alert types, 50 alerts each, inside one consolidation interval.
    for i in 0..150 {
        let rid = h.password_reset(&format!("ACME\\user{}", i % 7));
        h.fire(&format!("Type {}", i % 3), &format!("s{i}"), &rid)
            .await;
        if i % 10 == 0 {
            h.advance(Duration::from_secs(5));
        }
    }
    h.run().await;
    h.advance(15 * MINUTE);
    h.run().await;
    let calls = h.ticket_calls();
    // Per type: one create, then at the flush one status read, one note and one attachment.
    assert_eq!(
        count(&calls, "POST /service/tickets/"),
        3,
        "notes: {calls:#?}"
    );
    assert_eq!(count(&calls, "POST /service/tickets"), 6, "{calls:#?}");
    assert_eq!(count(&calls, "GET /service/tickets/"), 3, "{calls:#?}");
    assert_eq!(count(&calls, "POST /system/documents"), 3, "{calls:#?}");
    assert_eq!(calls.len(), 12, "{calls:#?}");
    assert_eq!(h.tickets().len(), 3);
}

#[tokio::test]
async fn an_open_ticket_is_updated_without_reading_the_board_statuses() {
    // The default reopen settings (no reopen_new_status) need the board's statuses only to
    // reopen; open tickets never cost that call.
    let h = Harness::with_ticket("", "").await;
    for i in 0..30 {
        let rid = h.password_reset(&format!("ACME\\user{i}"));
        h.fire(&format!("Type {}", i % 3), &format!("s{i}"), &rid)
            .await;
    }
    h.run().await;
    h.advance(15 * MINUTE);
    h.run().await;
    let calls = h.all_calls();
    let status_reads = calls.iter().filter(|call| call.ends_with("/statuses"));
    assert_eq!(status_reads.count(), 0, "{calls:#?}");
    assert_eq!(h.tickets().len(), 3);
    assert_eq!(h.ticket_calls().len(), 12, "{calls:#?}");
}

#[tokio::test]
async fn a_closed_ticket_is_reopened_to_the_boards_default_status_with_one_status_read() {
    let h = Harness::with_ticket(r#"reopen_closed_statuses = ["Completed"]"#, "").await;
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.run().await;
    let ticket = h.only_ticket();
    // 34 is "Completed" on the Security Operations board.
    h.connectwise()
        .set_ticket_status(id(&ticket), 34)
        .await
        .unwrap();
    h.advance(MINUTE);
    h.fire("Password Reset", "a2", &h.password_reset("ACME\\bob"))
        .await;
    h.run().await;
    h.advance(15 * MINUTE);
    h.run().await;

    let ticket = h.only_ticket();
    assert_eq!(
        ticket["status"]["id"], 31,
        "the board's default status, New"
    );
    assert_eq!(h.notes(&ticket).len(), 2);
    let calls = h.all_calls();
    assert_eq!(
        count(&calls, "GET /service/boards/3/statuses"),
        1,
        "{calls:#?}"
    );
}

#[tokio::test]
async fn the_spawned_engine_works_on_wake_and_shuts_down_gracefully() {
    let h = Harness::new("").await;
    let handle = h.new_engine(h.store.clone()).start();
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    handle.wake();
    let created = wait_until(|| async { !h.tickets().is_empty() }).await;
    assert!(created, "the engine never created the ticket");
    handle.shutdown().await;
    assert_eq!(h.tickets().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_does_not_hold_back_connectwise_work() {
    let upstream = cw_sim::spawn(SimulatorConfig::default(), loopback())
        .await
        .unwrap();
    // Counts the queued alerts when the create arrives, so nothing races the engine.
    let proxy = QueueAtCreateProxy::spawn(upstream.base_url()).await;
    let mut h = Harness::build("", Some(proxy.url.clone()), Duration::from_secs(10)).await;
    h.cw = upstream;
    let _ = proxy.store.set(h.store.clone());
    h.queue_backlog("Backlog Type", 20_000).await;
    let handle = h.new_engine(h.store.clone()).start();
    let created = wait_until(|| async { !h.tickets().is_empty() }).await;
    assert!(created, "the engine never created the ticket");
    handle.shutdown().await;
    // The first alert's ticket is created after its page, not after the whole backlog.
    let creates = proxy.creates.lock().unwrap().clone();
    assert!(
        creates.first().is_some_and(|(_, queued)| *queued > 0),
        "the ticket waited for the whole backlog: {creates:?}"
    );
}

/// The roll-ups written with the engine's decisions count what each processed alert's stored
/// payload holds, exactly as reading the alerts back would (the engine counts the payloads it has
/// parsed, so the store does not read them again).
#[tokio::test]
async fn the_rollups_count_what_the_processed_alerts_hold() {
    let h = Harness::new("").await;
    h.queue_backlog("Logon Failure", 120).await;
    h.run().await;
    assert_eq!(h.queued_alerts().await, 0);

    let processed = h.processed_alerts().await;
    assert_eq!(processed.len(), 120);
    let mut expected: BTreeMap<(RollupKind, String), u64> = BTreeMap::new();
    for alert in &processed {
        for counted in alert_counts(&alert.alert_name, &alert.payload) {
            *expected.entry(counted).or_default() += 1;
        }
    }
    assert_eq!(
        expected.get(&(RollupKind::Account, "ACME\\user0".to_string())),
        Some(&3)
    );
    let day = h.clock.now().date_naive();
    let counted: BTreeMap<(RollupKind, String), u64> = h
        .store
        .report_rollups("Acme", day, day)
        .await
        .unwrap()
        .into_iter()
        .filter(|row| row.kind != RollupKind::Event)
        .map(|row| ((row.kind, row.name), row.count))
        .collect();
    assert_eq!(counted, expected);
}

/// Checks `done` every 20 ms until it holds or a generous minute has passed; whether it held.
async fn wait_until<F, Fut>(mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < until {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done().await
}

#[tokio::test]
async fn a_new_alert_type_behind_a_backlog_gets_its_ticket_before_the_backlog_is_drained() {
    let upstream = cw_sim::spawn(SimulatorConfig::default(), loopback())
        .await
        .unwrap();
    let proxy = QueueAtCreateProxy::spawn(upstream.base_url()).await;
    let mut h = Harness::build("", Some(proxy.url.clone()), Duration::from_secs(10)).await;
    h.cw = upstream;
    let _ = proxy.store.set(h.store.clone());
    h.queue_backlog("Backlog Type", 2_000).await;
    h.fire("New Type", "new-1", &h.password_reset("ACME\\anna"))
        .await;
    h.queue_backlog("Backlog Type", 2_000).await;

    h.run().await;
    assert_eq!(h.queued_alerts().await, 0);
    let creates = proxy.creates.lock().unwrap().clone();
    let queued_at = |summary: &str| {
        creates
            .iter()
            .find(|(created, _)| created.contains(summary))
            .unwrap_or_else(|| panic!("no create for {summary}: {creates:?}"))
            .1
    };
    assert_eq!(creates.len(), 2, "{creates:?}");
    // Each create ran right after the page (250 alerts) holding its first alert, while the rest
    // waited: the backlog's after the first page, the new type's after the ninth.
    assert!(queued_at("Backlog Type") >= 3_750, "{creates:?}");
    assert!(queued_at("New Type") >= 1_750, "{creates:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_on_one_store_take_every_alert_exactly_once() {
    let h = Harness::new("").await;
    for alert_name in ["Type A", "Type B", "Type C"] {
        h.queue_backlog(alert_name, 700).await;
    }
    // Both decide pages against their own view; commits that lose a race (an alert already
    // taken, an incident changed) are decided again alert by alert.
    let (one, two) = (h.new_engine(h.store.clone()), h.new_engine(h.store.clone()));
    let (first, second) = tokio::join!(one.run_until_idle(), two.run_until_idle());
    let taken = first.unwrap().alerts + second.unwrap().alerts;
    assert_eq!(taken, 2_100, "each alert taken by exactly one engine");
    assert_eq!(h.queued_alerts().await, 0);
    assert_eq!(h.tickets().len(), 3, "one ticket per alert type");
    let incidents = h.store.list_incidents(Default::default()).await.unwrap();
    let counted: u64 = incidents.iter().map(|incident| incident.alert_count).sum();
    assert_eq!(counted, 2_100, "every alert counted once: {incidents:#?}");
    let buffered: u64 = incidents.iter().map(|incident| incident.buffered).sum();
    assert_eq!(buffered, 2_100 - 3, "every repeat buffered once");
    let mut entries = Vec::new();
    for incident in &incidents {
        let buffer = h.store.incident_buffer(&incident.key).await.unwrap();
        assert_eq!(buffer.len() as u64, incident.buffered, "{}", incident.key);
        entries.extend(buffer.into_iter().map(|entry| entry.entry));
    }
    entries.sort_by_key(|entry| entry.as_i64());
    entries.dedup();
    assert_eq!(entries.len(), 2_100 - 3, "no alert buffered twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_returns_after_the_page_in_progress_with_a_backlog_queued() {
    let h = Harness::new("").await;
    h.queue_backlog("Backlog Type", 20_000).await;
    let handle = h.new_engine(h.store.clone()).start();
    let started = wait_until(|| async { h.queued_alerts().await < 20_000 }).await;
    assert!(started, "the engine never started on the backlog");
    // A hang guard only: the stop comes after one page, long before the backlog is drained.
    tokio::time::timeout(Duration::from_secs(120), handle.shutdown())
        .await
        .expect("shutdown returned");
    let left = h.queued_alerts().await;
    assert!(left > 0, "the backlog was drained before stopping");
    assert!(left < 20_000, "nothing was processed");
    // The page taken ahead while the last one was written is given back with the rest: another
    // process could take those alerts at once.
    let owners = h.store.lease_owners().await.unwrap();
    assert!(owners.is_empty(), "claims left after stopping: {owners:?}");
}

#[tokio::test]
async fn a_resolved_alert_notes_its_ticket_and_nothing_else() {
    let h = Harness::new("").await;
    h.alertmanager("DiskFull", "aa11", "firing").await;
    h.run().await;
    let ticket = h.only_ticket();

    h.advance(MINUTE);
    h.alertmanager("DiskFull", "aa11", "resolved").await;
    h.run().await;
    // The first note is the ticket's description; the resolution is the one after it.
    let notes = h.notes(&h.only_ticket());
    assert_eq!(notes.len(), 2, "{notes:#?}");
    assert!(
        notes[1].starts_with("[mspbridge] Resolved: DiskFull at 2026-11-23T07:45:00"),
        "{}",
        notes[1]
    );
    assert!(notes[1].contains("fs1:9100"), "{}", notes[1]);

    // A resolution is no occurrence: no flush later, and a closed ticket is noted, not reopened.
    h.connectwise()
        .set_ticket_status(id(&ticket), 34)
        .await
        .unwrap();
    h.advance(MINUTE);
    h.alertmanager("DiskFull", "aa11-second-firing-ended", "resolved")
        .await;
    h.run().await;
    h.advance(30 * MINUTE);
    h.run().await;
    let ticket = h.only_ticket();
    assert_eq!(ticket["status"]["id"], 34, "still closed");
    assert_eq!(h.notes(&ticket).len(), 3);
    assert!(h.events(events::TICKET_REOPENED).await.is_empty());
    let incidents = h.store.list_incidents(Default::default()).await.unwrap();
    assert_eq!(incidents[0].alert_count, 1, "resolutions are not counted");
}

#[tokio::test]
async fn a_resolution_without_a_ticket_opens_nothing_and_one_during_the_create_follows_it() {
    let h = Harness::new("").await;
    h.alertmanager("NeverFired", "bb22", "resolved").await;
    h.run().await;
    assert!(h.tickets().is_empty());
    assert_eq!(
        h.queued_alerts().await,
        0,
        "the resolution was taken off the queue"
    );

    // Firing and resolved in one page: the note job runs after the create, on its ticket.
    h.alertmanager("Flapping", "cc33", "firing").await;
    h.alertmanager("Flapping", "cc33", "resolved").await;
    h.run().await;
    let ticket = h.only_ticket();
    let notes = h.notes(&ticket);
    assert_eq!(notes.len(), 2, "{notes:#?}");
    assert!(
        notes[1].starts_with("[mspbridge] Resolved: Flapping"),
        "{}",
        notes[1]
    );
}

// ---------------------------------------------------------------- metrics

/// With a recorder of its own, installed on this test's thread only: the process-wide one would
/// also count what every other test in this binary does.
#[test]
fn the_pipeline_is_counted_in_metrics() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    // A current-thread runtime keeps every task of the test on the thread the recorder is on.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(pipeline_metrics(&handle)));
}

async fn pipeline_metrics(handle: &metrics_exporter_prometheus::PrometheusHandle) {
    let h = Harness::new("").await;
    h.cw.faults()
        .inject(Fault::rate_limited(1).times(1).on_path("/service/tickets"));
    let rid = h.password_reset("ACME\\anna");
    h.fire("Password Reset", "m1", &rid).await;
    h.fire("Password Reset", "m1", &rid).await;
    h.run().await;
    h.advance(MINUTE);
    h.run().await;
    h.fire("Password Reset", "m2", &h.password_reset("ACME\\bob"))
        .await;
    h.run().await;
    h.advance(15 * MINUTE);
    h.run().await;
    let text = handle.render();
    for name in [
        "mspbridge_alerts_received_total",
        "mspbridge_alerts_deduplicated_total",
        "mspbridge_tickets_created_total",
        "mspbridge_tickets_updated_total",
        "mspbridge_job_retries_total",
        "mspbridge_queue_depth",
        "mspbridge_connectwise_request_duration_seconds",
        "mspbridge_connectwise_errors_total{class=\"rate_limited\"}",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert!(text.contains("operation=\"create_ticket\""), "{text}");
}
