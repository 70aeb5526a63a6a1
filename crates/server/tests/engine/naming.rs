//! Netwrix alert names and text hygiene through the engine: an alert the response action did not
//! name is named from its record, never by its GUID, and what an alert carries reaches
//! ConnectWise without control, zero-width or bidirectional characters.

use mspbridge_core::alert::Alert;
use mspbridge_core::clock::Clock;
use mspbridge_core::events;
use mspbridge_core::rules::naming::UNNAMED_NETWRIX_ALERT;
use mspbridge_server::engine;
use mspbridge_simulators::auditor;
use mspbridge_store::{AlertState, EventFilter};

use crate::harness::{Harness, SOURCE};

const GUID: &str = "9f7d2c3e-6b1a-4c5e-8f00-123456789abc";

#[tokio::test]
async fn an_unnamed_netwrix_alert_is_named_from_its_record_never_by_its_guid() {
    let h = Harness::new("").await;
    let rid = h.password_reset("ACME\\helpdesk.jdoe");
    let record = auditor::demo_records().remove(0);
    let alert = Alert::netwrix(SOURCE, GUID, &rid, None, h.clock.now());
    engine::accept(&h.store, alert, h.clock.now())
        .await
        .unwrap();
    h.run().await;
    let ticket = h.only_ticket();
    let expected = format!(
        "[mspbridge] {} {} by ACME\\helpdesk.jdoe",
        record.action, record.object_type
    );
    assert_eq!(ticket["summary"], expected.as_str());
    let stored = h.store.get_alert(1).await.unwrap().unwrap();
    assert_eq!(
        stored.payload["alert_name"],
        expected.trim_start_matches("[mspbridge] ")
    );
}

#[tokio::test]
async fn without_a_record_the_name_says_so_and_the_failure_event_names_the_client() {
    let h = Harness::new("").await;
    let alert = Alert::netwrix(SOURCE, GUID, "no-such-rid", None, h.clock.now());
    engine::accept(&h.store, alert, h.clock.now())
        .await
        .unwrap();
    h.run().await;
    for ticket in h.tickets() {
        let summary = ticket["summary"].as_str().unwrap();
        assert!(!summary.contains(GUID), "{summary}");
        assert_eq!(summary, format!("[mspbridge] {UNNAMED_NETWRIX_ALERT}"));
    }
    let failed = h
        .store
        .list_events(EventFilter {
            code: Some(events::ENRICHMENT_FAILED),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].client.as_deref(),
        Some("Acme"),
        "the source's client"
    );
}

#[tokio::test]
async fn an_unnamed_alert_waiting_for_its_record_is_named_only_once_enrichment_gave_up() {
    let h = Harness::new("").await;
    let rid = h.password_reset("ACME\\helpdesk.jdoe");
    h.auditor
        .faults()
        .set_always(Some(auditor::AuditorFault::ServiceBusy));
    let alert = Alert::netwrix(SOURCE, GUID, &rid, None, h.clock.now());
    engine::accept(&h.store, alert, h.clock.now())
        .await
        .unwrap();
    h.run().await;
    let waiting = h.store.get_alert(1).await.unwrap().unwrap();
    assert_eq!(waiting.state, AlertState::Enriching);
    assert_eq!(
        waiting.payload["alert_name"], GUID,
        "a waiting alert is not named yet"
    );
    assert!(h.tickets().is_empty());
    for _ in 0..15 {
        if !h.tickets().is_empty() {
            break;
        }
        h.advance(std::time::Duration::from_secs(60));
        h.run().await;
    }
    let ticket = h.only_ticket();
    assert_eq!(
        ticket["summary"],
        format!("[mspbridge] {UNNAMED_NETWRIX_ALERT}").as_str(),
        "named as missing its record once enrich_give_up passed"
    );
}

#[tokio::test]
async fn bidi_and_control_characters_never_reach_connectwise() {
    let h = Harness::new("").await;
    let mut alert = Alert::netwrix(
        SOURCE,
        "alert-hygiene",
        "",
        Some("Invoice\u{202E}fdp.exe"),
        h.clock.now(),
    );
    alert.records.push(mspbridge_core::alert::ActivityRecord {
        who: "ACME\\\u{0000}\u{001b}[31mmallory\u{200B}".to_string(),
        action: "Added".to_string(),
        object_type: "file".to_string(),
        what: "\\\\fs1\\share\\Invoice\u{202E}fdp.exe".to_string(),
        ..Default::default()
    });
    engine::accept(&h.store, alert, h.clock.now())
        .await
        .unwrap();
    h.run().await;
    let ticket = h.only_ticket();
    assert_eq!(ticket["summary"], "[mspbridge] Invoice[U+202E]fdp.exe");
    let mut sent = vec![ticket.to_string()];
    sent.extend(h.notes(&ticket));
    let sent = sent.join("\n");
    assert!(
        sent.contains("ACME\\\\[31mmallory") || sent.contains("ACME\\[31mmallory"),
        "{sent}"
    );
    for forbidden in ['\u{0000}', '\u{001b}', '\u{202E}', '\u{200B}'] {
        assert!(
            !sent.contains(forbidden),
            "{forbidden:?} reached ConnectWise: {sent:?}"
        );
    }
    for escaped in ["\\u0000", "\\u001b", "\\u202e", "\\u202E"] {
        assert!(
            !sent.contains(escaped),
            "{escaped} reached ConnectWise: {sent}"
        );
    }
}

#[tokio::test]
async fn a_routes_ticket_settings_hold_for_the_ticket_a_flush_opens_after_a_close() {
    use crate::harness::{id, MINUTE};
    let h = Harness::new(
        "reopen_ticket_on_repetitive_alerts = false\n\n\
         [[routes]]\nname = \"password-resets\"\n\
         match = { alert_name = { regex = \"Password.*\" }, source = \"auditor-acme\" }\n\
         ticket = { priority_id = 8, severity = \"High\" }\n",
    )
    .await;
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.run().await;
    let first = h.only_ticket();
    assert_eq!(first["priority"]["id"], 8, "{first}");
    assert_eq!(first["severity"], "High");
    assert_eq!(first["company"]["id"], 250, "the source's client");
    h.connectwise()
        .set_ticket_status(id(&first), 35)
        .await
        .unwrap();
    h.advance(MINUTE);
    h.fire("Password Reset", "b1", &h.password_reset("ACME\\bob"))
        .await;
    h.run().await;
    h.advance(15 * MINUTE);
    h.run().await;
    let tickets = h.tickets();
    assert_eq!(tickets.len(), 2, "{tickets:#?}");
    assert_eq!(tickets[1]["priority"]["id"], 8, "{}", tickets[1]);
    assert_eq!(tickets[1]["severity"], "High");
    let created = h.events(events::TICKET_CREATED).await;
    assert!(
        created
            .iter()
            .all(|message| message.contains("(route \"password-resets\")")),
        "{created:?}"
    );
}
