//! The rule decisions each alert keeps, with their reasons: why it was merged, consolidated,
//! flooded, reopened, left unrouted or discarded, written with its decision and its flush.

use std::sync::Arc;

use mspbridge_core::alert::Alert;
use mspbridge_core::clock::Clock;
use mspbridge_server::engine;
use mspbridge_store::{AlertId, DecisionRule, RuleDecision};

use crate::harness::{id, Harness, MINUTE, SOURCE};

async fn decisions(h: &Harness, alert: AlertId) -> Vec<RuleDecision> {
    h.store.alert_decisions(alert).await.unwrap()
}

/// The one decision of `rule` the alert has; fails naming all it has otherwise.
fn one(decisions: &[RuleDecision], rule: DecisionRule) -> RuleDecision {
    let found: Vec<_> = decisions.iter().filter(|d| d.rule == rule).collect();
    assert_eq!(
        found.len(),
        1,
        "one {rule} decision expected: {decisions:#?}"
    );
    found[0].clone()
}

fn rules(decisions: &[RuleDecision]) -> Vec<DecisionRule> {
    decisions.iter().map(|decision| decision.rule).collect()
}

#[tokio::test]
async fn a_new_ticket_then_a_merged_repeat_and_its_consolidation_record_their_reasons() {
    let h = Harness::new("").await;
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.run().await;
    let ticket = id(&h.only_ticket());

    let first = decisions(&h, 1).await;
    assert_eq!(
        rules(&first),
        [
            DecisionRule::Enrichment,
            DecisionRule::Routing,
            DecisionRule::Repeat,
            DecisionRule::Flood
        ],
        "{first:#?}"
    );
    assert_eq!(first[0].outcome, "record fetched");
    assert!(first[0].reason.contains(SOURCE), "{}", first[0].reason);
    assert_eq!(first[1].outcome, "routed to Acme");
    assert_eq!(
        first[1].incident_key.as_deref(),
        Some("Acme/Password Reset")
    );
    assert_eq!(first[2].outcome, "new ticket");
    assert!(
        first[2].reason.contains("no incident is tracked"),
        "{}",
        first[2].reason
    );
    assert_eq!(first[3].outcome, "standalone ticket");
    assert!(
        first[3]
            .reason
            .starts_with("client \"Acme\": 0 of 10 standalone tickets used in the last 1h"),
        "{}",
        first[3].reason
    );

    h.advance(MINUTE);
    h.fire("Password Reset", "a2", &h.password_reset("ACME\\bob"))
        .await;
    h.run().await;
    let merged = one(&decisions(&h, 2).await, DecisionRule::Repeat);
    assert_eq!(merged.outcome, "merged");
    assert!(
        merged.reason.starts_with(
            "repeat of incident \"Acme/Password Reset\" within update_interval 24h (its last \
             alert at "
        ) && merged
            .reason
            .contains(&format!("merged into ticket #{ticket}; ")),
        "{}",
        merged.reason
    );
    assert_eq!(merged.ticket_id, Some(ticket));
    assert!(
        !rules(&decisions(&h, 2).await).contains(&DecisionRule::Consolidation),
        "nothing is consolidated before the flush"
    );

    h.advance(15 * MINUTE);
    h.run().await;
    let after = decisions(&h, 2).await;
    let consolidated = one(&after, DecisionRule::Consolidation);
    assert_eq!(
        after.last(),
        Some(&consolidated),
        "appended after the decisions of the page"
    );
    assert_eq!(consolidated.outcome, "consolidated");
    assert_eq!(consolidated.ticket_id, Some(ticket));
    assert!(
        consolidated.reason.contains(&format!(
            "consolidation_interval 15m ended: the 1 alert(s) buffered for incident \
             \"Acme/Password Reset\" are carried by one note on ticket #{ticket}"
        )),
        "{}",
        consolidated.reason
    );
    assert!(
        !rules(&decisions(&h, 1).await).contains(&DecisionRule::Consolidation),
        "the alert that opened the ticket was not in the buffer"
    );
}

#[tokio::test]
async fn a_reopened_ticket_is_recorded_on_the_alerts_the_flush_carried() {
    let h = Harness::new("").await;
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.run().await;
    let ticket = id(&h.only_ticket());
    h.connectwise().set_ticket_status(ticket, 34).await.unwrap();
    h.advance(MINUTE);
    h.fire("Password Reset", "a2", &h.password_reset("ACME\\bob"))
        .await;
    h.run().await;
    h.advance(15 * MINUTE);
    h.run().await;

    let carried = decisions(&h, 2).await;
    let reopened = one(&carried, DecisionRule::Reopen);
    assert_eq!(reopened.outcome, "reopened");
    assert_eq!(reopened.ticket_id, Some(ticket));
    assert!(
        reopened
            .reason
            .starts_with(&format!("ticket #{ticket} was closed (status ")),
        "{}",
        reopened.reason
    );
    assert!(
        reopened
            .reason
            .contains("and reopen_ticket_on_repetitive_alerts is on: reopened to status id 31"),
        "{}",
        reopened.reason
    );
    let order = rules(&carried);
    assert_eq!(
        &order[order.len() - 2..],
        [DecisionRule::Reopen, DecisionRule::Consolidation],
        "{carried:#?}"
    );
}

#[tokio::test]
async fn a_closed_ticket_left_closed_is_recorded_with_the_new_ticket() {
    let h = Harness::new("reopen_ticket_on_repetitive_alerts = false").await;
    h.fire("Password Reset", "a1", &h.password_reset("ACME\\anna"))
        .await;
    h.run().await;
    let first = id(&h.only_ticket());
    h.connectwise().set_ticket_status(first, 35).await.unwrap();
    h.advance(MINUTE);
    h.fire("Password Reset", "a2", &h.password_reset("ACME\\bob"))
        .await;
    h.run().await;
    h.advance(15 * MINUTE);
    h.run().await;
    assert_eq!(h.tickets().len(), 2);

    let refused = one(&decisions(&h, 2).await, DecisionRule::Reopen);
    assert_eq!(refused.outcome, "new ticket");
    assert!(
        refused.reason.starts_with(&format!(
            "ticket #{first} is not reopened: the ticket is closed and \
             reopen_ticket_on_repetitive_alerts is off"
        )) && refused.reason.contains(
            "the 1 buffered alert(s) of incident \"Acme/Password Reset\" open a new ticket"
        ),
        "{}",
        refused.reason
    );
}

#[tokio::test]
async fn flooded_alerts_record_the_limit_and_the_flood_ticket() {
    let h = Harness::new("ticket_flood_limit = 2\nticket_flood_interval = \"1h\"").await;
    for i in 0..4 {
        h.advance(MINUTE);
        let rid = h.password_reset("ACME\\anna");
        h.fire(&format!("Alert type {i}"), &format!("t{i}"), &rid)
            .await;
        h.run().await;
    }
    let tickets = h.tickets();
    assert_eq!(tickets.len(), 3, "2 standalone + the flood ticket");
    let flood_ticket = id(&tickets[2]);

    let second = one(&decisions(&h, 2).await, DecisionRule::Flood);
    assert_eq!(second.outcome, "standalone ticket");
    let opened = one(&decisions(&h, 3).await, DecisionRule::Flood);
    assert_eq!(opened.outcome, "opened flood ticket");
    assert!(
        opened.reason.starts_with(
            "client \"Acme\" has 2 standalone ticket(s) in the last 1h (ticket_flood_limit 2): \
             opens the client's flood ticket (incident \"flood:Acme\")"
        ),
        "{}",
        opened.reason
    );
    let joined = one(&decisions(&h, 4).await, DecisionRule::Flood);
    assert_eq!(joined.outcome, "joined flood ticket");
    assert_eq!(joined.ticket_id, Some(flood_ticket));
    assert!(
        joined.reason.starts_with(&format!(
            "client \"Acme\" has 2 standalone ticket(s) in the last 1h (ticket_flood_limit 2): \
             joins ticket #{flood_ticket} of flood incident"
        )),
        "{}",
        joined.reason
    );
    let repeat = one(&decisions(&h, 4).await, DecisionRule::Repeat);
    assert_eq!(repeat.outcome, "new ticket", "a new alert type");
}

#[tokio::test]
async fn an_unrouted_alert_records_what_it_carried_and_its_reroute_appends() {
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
    let unrouted = decisions(&h, 1).await;
    assert_eq!(rules(&unrouted), [DecisionRule::Unrouted], "{unrouted:#?}");
    assert_eq!(unrouted[0].outcome, "unrouted");
    assert!(
        unrouted[0]
            .reason
            .starts_with("no client matched (source \"hook\", client \"Initech\"): ")
            && unrouted[0]
                .reason
                .contains("\"Initech\", which is not a configured client"),
        "{}",
        unrouted[0].reason
    );

    let mut changed = (*h.config).clone();
    let mut initech = changed.clients[0].clone();
    initech.name = "Initech".to_string();
    initech.connectwise.company_id = Some(252);
    changed.clients.push(initech);
    h.engine()
        .reroute_unrouted(Arc::new(changed))
        .await
        .unwrap();
    h.run().await;
    let routed = decisions(&h, 1).await;
    assert_eq!(routed[0], unrouted[0], "earlier decisions are kept");
    assert_eq!(routed[1].rule, DecisionRule::Routing, "{routed:#?}");
    assert_eq!(routed[1].outcome, "routed to Initech");
}

#[tokio::test]
async fn a_test_run_alert_records_why_it_opened_no_ticket() {
    let h = Harness::new("").await;
    let rid = "20160215110503420B9451771F5964A9EAC0A5F35307EA155";
    h.fire("Test Alert", "sample-alert", rid).await;
    h.run().await;
    assert!(h.tickets().is_empty());
    let discarded = decisions(&h, 1).await;
    assert_eq!(
        rules(&discarded),
        [DecisionRule::Discarded],
        "{discarded:#?}"
    );
    assert_eq!(discarded[0].outcome, "discarded (test record)");
    assert_eq!(
        discarded[0].reason,
        format!(
            "the Netwrix Auditor of source \"{SOURCE}\" has no activity record \"{rid}\" (an \
             Auditor test run): no ticket"
        )
    );
}
