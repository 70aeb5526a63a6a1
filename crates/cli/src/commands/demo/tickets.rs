//! The ticket half of the demo: DESIGN §8.1 (the password reset) and a small multi-client storm
//! that shows the flood limit, reopening and correlation.
//!
//! It drives the real engine over a manual clock, so "twenty resets in ten minutes" and "a day
//! later" take no waiting, against the ConnectWise and Netwrix Auditor simulators over loopback.
//! Every step reads back what ConnectWise received and turns it into a checked line of the summary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, Utc};
use mspbridge_core::alert::{ActivityRecord, Alert};
use mspbridge_core::clock::{Clock, ManualClock};
use mspbridge_server::engine::{self, Engine};
use mspbridge_simulators::auditor::{AuditorSimulator, SimRecord};
use mspbridge_simulators::connectwise::ConnectWiseSimulator;
use mspbridge_store::Store;
use serde_json::Value;

use super::{Check, DemoWorld, AUDITOR_SOURCE, WEBHOOK_SOURCE};

/// Plays §8.1 and the storm; returns the checks for the summary.
pub async fn play(world: &DemoWorld, engine: &Engine, clock: &ManualClock) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    let store = &world.store;
    let cw = &world.connectwise;
    let auditor = &world.auditor;

    // §8.1: one Password Reset, then a ticket with workstation, account and time. How long it took
    // is shown, not checked: speed is the benchmarks' business, not a pass/fail of the demo.
    let first_when = clock.now();
    let rid = add_reset(auditor, "ACME\\j.doe", "ACME-WS02", first_when);
    let started = Instant::now();
    accept(store, netwrix_alert("a7f3c2d1-0001", &rid, clock.now())).await?;
    engine
        .run_until_idle()
        .await
        .context("processing the password reset")?;
    let took = started.elapsed();
    let ticket = find_ticket(cw, 250, "[mspbridge] Password Reset")
        .ok_or_else(|| anyhow!("no Password Reset ticket was created"))?;
    let ticket_id = id_of(&ticket);
    let description = first_note(cw, ticket_id);
    let mentions_all = [
        "ACME-WS02",
        "ACME\\j.doe",
        &first_when.format("%Y-%m-%d").to_string(),
    ]
    .iter()
    .all(|needle| description.contains(needle));
    checks.push(Check::new(
        "8.1 password reset ticket",
        ticket_id > 0 && mentions_all,
        format!("ticket #{ticket_id} \"[mspbridge] Password Reset\" on Acme's board in {} ms; description names the workstation, the account and the time", took.as_millis()),
    ));
    println!("\nTicket #{ticket_id} description (as ConnectWise stored it):");
    for line in description.lines() {
        println!("    {line}");
    }

    // Twenty more resets in ten minutes: one consolidated update at the end of the window.
    let notes_before = cw.state().notes(ticket_id).len();
    let documents_before = documents_of(cw, ticket_id);
    for n in 1..=20 {
        clock.advance(Duration::from_secs(30));
        let rid = add_reset(
            auditor,
            &format!("ACME\\user{n:02}"),
            "ACME-WS02",
            clock.now(),
        );
        accept(
            store,
            netwrix_alert(&format!("a7f3c2d1-{n:04}"), &rid, clock.now()),
        )
        .await?;
        engine.run_until_idle().await?;
    }
    let during_window = cw.state().notes(ticket_id).len() - notes_before;
    clock.advance(world.consolidation_interval());
    engine
        .run_until_idle()
        .await
        .context("flushing the consolidated update")?;
    let notes_added = cw.state().notes(ticket_id).len() - notes_before;
    let documents_added = documents_of(cw, ticket_id) - documents_before;
    checks.push(Check::new(
        "8.1 twenty resets, one update",
        during_window == 0 && notes_added == 1 && documents_added == 1,
        format!("{notes_added} note and {documents_added} attachment on #{ticket_id} for 20 alerts in 10 simulated minutes"),
    ));

    // Flood: Globex gets more new alert types in an hour than ticket_flood_limit allows.
    let limit = world.flood_limit();
    for n in 0..limit + 3 {
        clock.advance(Duration::from_secs(20));
        accept(
            store,
            webhook_alert(
                "Globex",
                &format!("Suspicious Activity {n:02}"),
                &format!("storm-globex-{n}"),
                clock.now(),
            ),
        )
        .await?;
    }
    engine.run_until_idle().await?;
    let globex = tickets_of_company(cw, 251);
    let flood_tickets = globex
        .iter()
        .filter(|t| summary(t).to_lowercase().contains("flood"))
        .count();
    checks.push(Check::new(
        "flood limit",
        globex.len() == limit + 1 && flood_tickets == 1,
        format!(
            "Globex: {} standalone tickets, then 1 flood ticket for the other {} alerts",
            globex.len() - flood_tickets,
            3
        ),
    ));

    // Reopen: the technician closes the Password Reset ticket; a repeat reopens it.
    let closed_status = world.closed_status_id(3).await?;
    world
        .cw_client
        .set_ticket_status(ticket_id, closed_status)
        .await
        .map_err(|err| anyhow!("closing ticket #{ticket_id}: {err}"))?;
    clock.advance(Duration::from_secs(3600));
    let rid = add_reset(auditor, "ACME\\j.doe", "ACME-WS02", clock.now());
    accept(store, netwrix_alert("a7f3c2d1-0100", &rid, clock.now())).await?;
    engine.run_until_idle().await?;
    clock.advance(world.consolidation_interval());
    engine.run_until_idle().await?;
    let reopened = cw
        .state()
        .ticket(ticket_id)
        .ok_or_else(|| anyhow!("ticket #{ticket_id} vanished"))?;
    checks.push(Check::new(
        "reopen",
        reopened["closedFlag"] == Value::Bool(false) && status_name(&reopened) == "New",
        format!("#{ticket_id} closed by a technician, reopened to \"{}\" by the next reset, then updated", status_name(&reopened)),
    ));

    // Correlation: a day later the same alert type opens a new ticket that points at the old one.
    clock.advance(world.update_interval() + Duration::from_secs(60));
    let rid = add_reset(auditor, "ACME\\k.smith", "ACME-WS01", clock.now());
    accept(store, netwrix_alert("a7f3c2d1-0200", &rid, clock.now())).await?;
    engine.run_until_idle().await?;
    let acme_resets: Vec<Value> = tickets_of_company(cw, 250)
        .into_iter()
        .filter(|t| summary(t) == "[mspbridge] Password Reset")
        .collect();
    let newest = acme_resets.iter().map(id_of).max().unwrap_or(0);
    let correlated = first_note(cw, newest).contains(&format!("Id: {ticket_id}"));
    checks.push(Check::new(
        "correlation",
        acme_resets.len() == 2 && correlated,
        format!("a reset after update_interval opened #{newest}, whose description references #{ticket_id}"),
    ));
    Ok(checks)
}

async fn accept(store: &Arc<dyn Store>, alert: Alert) -> Result<()> {
    let now = alert.received_at;
    engine::accept(store, alert, now)
        .await
        .map_err(|err| anyhow!("{err}"))?;
    Ok(())
}

/// What Auditor's response action hands over for the "Password Reset" alert: the two ids.
fn netwrix_alert(alert_id: &str, rid: &str, now: DateTime<Utc>) -> Alert {
    Alert::netwrix(AUDITOR_SOURCE, alert_id, rid, Some("Password Reset"), now)
}

fn webhook_alert(client: &str, name: &str, id: &str, now: DateTime<Utc>) -> Alert {
    Alert {
        source: WEBHOOK_SOURCE.to_string(),
        source_alert_id: id.to_string(),
        alert_name: name.to_string(),
        client: Some(client.to_string()),
        occurred_at: now,
        received_at: now,
        records: vec![ActivityRecord {
            who: "GLOBEX\\svc-backup".to_string(),
            action: "Modified".to_string(),
            object_type: "Folder".to_string(),
            what: format!("\\\\fs01\\finance\\{id}"),
            when: now.to_rfc3339(),
            where_: "GLOBEX-SRV01".to_string(),
            workstation: Some("GLOBEX-SRV01".to_string()),
            ..ActivityRecord::default()
        }],
        fields: Default::default(),
    }
}

/// Writes a password reset into the Auditor simulator, as Auditor would record it; returns its RID.
fn add_reset(
    auditor: &AuditorSimulator,
    who: &str,
    workstation: &str,
    when: DateTime<Utc>,
) -> String {
    let mut record = SimRecord::new(
        "ACME\\helpdesk.admin",
        "Modified",
        "user",
        format!(
            "\\local\\acme\\Users\\{}",
            who.rsplit('\\').next().unwrap_or(who)
        ),
        when.to_rfc3339(),
        "ACME-DC01",
    );
    record.who = who.to_string();
    record.workstation = Some(workstation.to_string());
    record.data_source = Some("Active Directory".to_string());
    auditor.add_records(vec![record]).pop().unwrap_or_default()
}

fn id_of(ticket: &Value) -> i64 {
    ticket["id"].as_i64().unwrap_or_default()
}

fn summary(ticket: &Value) -> String {
    ticket["summary"].as_str().unwrap_or_default().to_string()
}

fn status_name(ticket: &Value) -> String {
    ticket["status"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn tickets_of_company(cw: &ConnectWiseSimulator, company: i64) -> Vec<Value> {
    cw.state()
        .tickets()
        .into_iter()
        .filter(|t| t["company"]["id"].as_i64() == Some(company))
        .collect()
}

fn find_ticket(cw: &ConnectWiseSimulator, company: i64, wanted: &str) -> Option<Value> {
    tickets_of_company(cw, company)
        .into_iter()
        .filter(|t| summary(t) == wanted)
        .min_by_key(id_of)
}

fn first_note(cw: &ConnectWiseSimulator, ticket_id: i64) -> String {
    cw.state()
        .notes(ticket_id)
        .into_iter()
        .min_by_key(|n| n["id"].as_i64().unwrap_or_default())
        .and_then(|n| n["text"].as_str().map(str::to_string))
        .unwrap_or_default()
}

fn documents_of(cw: &ConnectWiseSimulator, ticket_id: i64) -> usize {
    cw.state()
        .documents()
        .iter()
        .filter(|d| d.record_id == ticket_id)
        .count()
}
