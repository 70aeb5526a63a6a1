//! Tables for the decisions the engine takes from `core::rules` when it schedules a flush, runs a
//! due flush, or opens a flood ticket: each row is the inputs and the expected decision, over a
//! manual clock.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use mspbridge_core::alert::Alert;
use mspbridge_core::clock::{Clock, ManualClock};
use mspbridge_core::config::{defaults, RulesConfig, StatusRef};
use mspbridge_core::rules::content;
use mspbridge_core::rules::flood::{self, FloodDecision, FloodState};
use mspbridge_core::rules::flush::{self, BoardStatus, FlushStep, TicketStatus};
use mspbridge_core::rules::repeat::{self, IncidentState, RepeatDecision};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

fn clock() -> ManualClock {
    ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap())
}

/// The clock's time `offset` later.
fn at(clock: &ManualClock, offset: Duration) -> DateTime<Utc> {
    clock.now() + chrono::Duration::from_std(offset).unwrap()
}

fn rules(consolidation: Duration) -> RulesConfig {
    RulesConfig {
        consolidation_interval: consolidation,
        ..defaults::rules()
    }
}

fn incident(last: DateTime<Utc>, buffered: usize, flush_scheduled: bool) -> IncidentState {
    IncidentState {
        last_alert_at: last,
        buffered,
        flush_scheduled,
    }
}

// ---------------------------------------------------------------- flush scheduling

#[test]
fn flush_time_comes_from_consolidation_interval() {
    let clock = clock();
    let now = clock.now();
    // consolidation_interval, start → flush time
    let rows: [(Duration, DateTime<Utc>, DateTime<Utc>); 3] = [
        (15 * MINUTE, now, at(&clock, 15 * MINUTE)),
        (Duration::ZERO, now, now),
        (HOUR, at(&clock, MINUTE), at(&clock, HOUR + MINUTE)),
    ];
    for (interval, start, expected) in rows {
        assert_eq!(
            flush::flush_at(start, &rules(interval)),
            expected,
            "{interval:?}"
        );
    }
}

#[test]
fn after_a_drain_the_rest_of_the_buffer_gets_one_new_flush() {
    let clock = clock();
    clock.advance(20 * MINUTE);
    let now = clock.now();
    let rules = rules(15 * MINUTE);
    // buffered, drained → next flush
    let rows: [(u64, u64, Option<DateTime<Utc>>); 4] = [
        (5, 5, None),
        (0, 0, None),
        // Alerts that joined while the flush ran wait a whole interval from now.
        (7, 5, Some(at(&clock, 15 * MINUTE))),
        (1, 0, Some(at(&clock, 15 * MINUTE))),
    ];
    for (buffered, drained, expected) in rows {
        assert_eq!(
            flush::after_drain(buffered, drained, now, &rules),
            expected,
            "{buffered} buffered, {drained} drained"
        );
    }
}

#[test]
fn a_repeat_schedules_a_flush_exactly_when_none_is_scheduled() {
    let clock = clock();
    let last = clock.now();
    let rules = rules(15 * MINUTE);
    let when = at(&clock, 2 * MINUTE);
    let flush = Some(at(&clock, 17 * MINUTE));
    // incident → schedule_flush_at of the JoinBuffer decision
    let rows: [(IncidentState, Option<DateTime<Utc>>); 4] = [
        (incident(last, 0, false), flush),
        (incident(last, 3, true), None),
        (incident(last, 0, true), None),
        // A buffer left without a flush (an older version) gets one from the next alert.
        (incident(last, 3, false), flush),
    ];
    for (state, expected) in rows {
        match repeat::decide(Some(&state), when, &rules) {
            RepeatDecision::JoinBuffer {
                schedule_flush_at, ..
            } => assert_eq!(schedule_flush_at, expected, "{state:?}"),
            other => panic!("{state:?}: a repeat joins the buffer, got {other:?}"),
        }
    }
}

#[test]
fn the_flood_ticket_takes_alerts_without_the_update_interval_check() {
    let clock = clock();
    let rules = rules(15 * MINUTE);
    let long_ago = clock.now();
    // Far beyond update_interval after the flood ticket's last alert: still its alert.
    let when = at(&clock, rules.update_interval + HOUR);
    let flush = Some(flush::flush_at(when, &rules));
    // flood incident → flush scheduled by the alert
    let rows: [(Option<IncidentState>, Option<DateTime<Utc>>); 4] = [
        (Some(incident(long_ago, 0, false)), flush),
        (Some(incident(long_ago, 4, true)), None),
        (Some(incident(long_ago, 2, false)), flush),
        (None, flush),
    ];
    for (state, expected) in rows {
        assert_eq!(
            flood::flood_ticket_flush_at(state.as_ref(), when, &rules),
            expected,
            "{state:?}"
        );
    }
    // The same incident as a repeat would have opened a new ticket.
    assert!(matches!(
        repeat::decide(Some(&incident(long_ago, 0, false)), when, &rules),
        RepeatDecision::NewTicket { .. }
    ));
}

// ---------------------------------------------------------------- flood limit over a client

#[test]
fn flood_decisions_for_a_client_and_the_state_they_leave() {
    let clock = clock();
    let rules = RulesConfig {
        ticket_flood_limit: 2,
        ticket_flood_interval: HOUR,
        ..defaults::rules()
    };
    let t0 = clock.now();
    let now = at(&clock, 30 * MINUTE);
    let two_used = vec![t0, at(&clock, 10 * MINUTE)];
    let idle = incident(t0, 0, false);
    // state, flood incident tracked → standalone counted, decision, standalone times kept,
    // flood opened at
    type Row = (
        FloodState,
        Option<IncidentState>,
        u32,
        &'static str,
        usize,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = vec![
        (FloodState::default(), None, 0, "standalone", 1, None),
        (
            FloodState {
                standalone: two_used.clone(),
                flood_opened_at: None,
            },
            None,
            2,
            "open",
            2,
            Some(now),
        ),
        (
            FloodState {
                standalone: two_used.clone(),
                flood_opened_at: Some(at(&clock, 20 * MINUTE)),
            },
            Some(idle),
            2,
            "use",
            2,
            Some(at(&clock, 20 * MINUTE)),
        ),
        // The flood ticket is current by its time, but its incident is gone: opened again.
        (
            FloodState {
                standalone: two_used.clone(),
                flood_opened_at: Some(at(&clock, 20 * MINUTE)),
            },
            None,
            2,
            "open",
            2,
            Some(now),
        ),
        // Standalone tickets older than the flood interval are forgotten.
        (
            FloodState {
                standalone: vec![t0 - chrono::Duration::hours(2), t0],
                flood_opened_at: None,
            },
            None,
            1,
            "standalone",
            2,
            None,
        ),
    ];
    for (state, flood_incident, counted, expected, kept, opened) in rows {
        let flood::ClientFlood {
            decision,
            state: next,
            standalone_in_window,
        } = flood::decide_for_client(&state, flood_incident.as_ref(), now, &rules);
        assert_eq!(standalone_in_window, counted, "{state:?}");
        let got = match &decision {
            FloodDecision::Standalone { .. } => "standalone",
            FloodDecision::OpenFloodTicket { .. } => "open",
            FloodDecision::UseFloodTicket { .. } => "use",
        };
        assert_eq!(got, expected, "{state:?}: {decision:?}");
        assert_eq!(next.standalone.len(), kept, "{state:?} → {next:?}");
        assert_eq!(next.flood_opened_at, opened, "{state:?} → {next:?}");
    }
}

// ---------------------------------------------------------------- closed status and reopen

fn status(id: i64, name: Option<&str>) -> TicketStatus {
    TicketStatus {
        closed_flag: false,
        status: Some((id, name.map(str::to_string))),
    }
}

fn board_status(id: i64, name: &str, closed: bool, default: bool, sort: i64) -> BoardStatus {
    BoardStatus {
        id,
        name: Some(name.to_string()),
        closed,
        inactive: false,
        default,
        sort_order: Some(sort),
    }
}

fn board() -> Vec<BoardStatus> {
    vec![
        board_status(1, "New", false, false, 1),
        board_status(2, "In Progress", false, true, 2),
        board_status(5, "Resolved", true, false, 5),
        board_status(6, "Closed by tech", false, false, 6),
        BoardStatus {
            inactive: true,
            ..board_status(7, "Old open", false, false, 0)
        },
    ]
}

#[test]
fn which_tickets_count_as_closed() {
    let by_name = [StatusRef::Name("closed BY tech".to_string())];
    let by_id = [StatusRef::Id(6)];
    let flagged = TicketStatus {
        closed_flag: true,
        status: Some((5, None)),
    };
    // ticket, reopen_closed_statuses, board read → closed
    let rows: Vec<(TicketStatus, &[StatusRef], Vec<BoardStatus>, bool)> = vec![
        (flagged, &[], Vec::new(), true),
        (status(1, Some("New")), &by_name, Vec::new(), false),
        (
            status(6, Some("Closed by tech")),
            &by_name,
            Vec::new(),
            true,
        ),
        (status(6, None), &by_id, Vec::new(), true),
        // Named in the config, nameless on the ticket: the board tells.
        (status(6, None), &by_name, Vec::new(), false),
        (status(6, None), &by_name, board(), true),
        (
            TicketStatus {
                closed_flag: false,
                status: None,
            },
            &by_id,
            board(),
            false,
        ),
    ];
    for (ticket, closed_statuses, board, expected) in rows {
        assert_eq!(
            flush::is_closed(&ticket, closed_statuses, &board),
            expected,
            "{ticket:?} with {closed_statuses:?}"
        );
    }
}

#[test]
fn which_status_a_reopen_sets() {
    let name = |text: &str| StatusRef::Name(text.to_string());
    // reopen_new_status, board → status id
    let rows: Vec<(Option<StatusRef>, Vec<BoardStatus>, Option<i64>)> = vec![
        (Some(StatusRef::Id(31)), Vec::new(), Some(31)),
        (Some(name("new")), board(), Some(1)),
        (Some(name("Missing")), board(), None),
        // The board's default open status first, else the first active open one.
        (None, board(), Some(2)),
        (
            None,
            board()
                .into_iter()
                .map(|s| BoardStatus {
                    default: false,
                    ..s
                })
                .collect(),
            Some(1),
        ),
        (None, vec![board_status(5, "Resolved", true, true, 1)], None),
    ];
    for (status, board, expected) in rows {
        assert_eq!(
            flush::reopen_status_id(status.as_ref(), &board),
            expected,
            "{status:?}"
        );
    }
    assert_eq!(flush::status_id_by_name(&board(), "RESOLVED"), Some(5));
    assert_eq!(flush::status_id_by_name(&board(), "Gone"), None);
}

#[test]
fn a_due_flush_steps_from_the_ticket_to_its_action() {
    let reopen = defaults::rules();
    let no_reopen = RulesConfig {
        reopen_ticket_on_repetitive_alerts: false,
        ..defaults::rules()
    };
    let by_name = vec![StatusRef::Name("Closed by tech".to_string())];
    let by_id = vec![StatusRef::Id(6)];
    let board = board();
    let flagged = TicketStatus {
        closed_flag: true,
        status: Some((5, Some("Resolved".to_string()))),
    };
    struct Row {
        ticket: TicketStatus,
        board: Option<Vec<BoardStatus>>,
        closed: Vec<StatusRef>,
        reopen_to: Option<StatusRef>,
        rules: RulesConfig,
        expected: &'static str,
    }
    let row = |ticket: &TicketStatus,
               board: Option<&Vec<BoardStatus>>,
               closed: &Vec<StatusRef>,
               reopen_to: Option<StatusRef>,
               rules: &RulesConfig,
               expected| Row {
        ticket: ticket.clone(),
        board: board.cloned(),
        closed: closed.clone(),
        reopen_to,
        rules: rules.clone(),
        expected,
    };
    let rows = vec![
        // Open and named: one update, no board read.
        row(
            &status(1, Some("New")),
            None,
            &by_name,
            None,
            &reopen,
            "update",
        ),
        // A closed status named in the config, the ticket's status nameless: read the board.
        row(
            &status(6, None),
            None,
            &by_name,
            None,
            &reopen,
            "read board",
        ),
        row(
            &status(6, None),
            Some(&board),
            &by_name,
            None,
            &reopen,
            "reopen 2",
        ),
        row(
            &status(1, None),
            Some(&board),
            &by_name,
            None,
            &reopen,
            "update",
        ),
        // Closed by id, reopened to an id: no board read at all.
        row(
            &status(6, None),
            None,
            &by_id,
            Some(StatusRef::Id(31)),
            &reopen,
            "reopen 31",
        ),
        // Reopened to a name or the board's default: the board is read once.
        row(
            &flagged,
            None,
            &by_id,
            Some(StatusRef::Name("New".into())),
            &reopen,
            "read board",
        ),
        row(
            &flagged,
            Some(&board),
            &by_id,
            Some(StatusRef::Name("New".into())),
            &reopen,
            "reopen 1",
        ),
        row(
            &flagged,
            Some(&board),
            &by_id,
            Some(StatusRef::Name("Nope".into())),
            &reopen,
            "cannot",
        ),
        row(&flagged, Some(&Vec::new()), &by_id, None, &reopen, "cannot"),
        // Closed and reopening switched off: a new ticket, whatever the board.
        row(&flagged, None, &by_id, None, &no_reopen, "new ticket"),
        row(
            &status(6, None),
            None,
            &by_id,
            None,
            &no_reopen,
            "new ticket",
        ),
    ];
    for row in rows {
        let step = flush::step(
            42,
            &row.ticket,
            row.board.as_deref(),
            &row.closed,
            row.reopen_to.as_ref(),
            &row.rules,
        );
        let got = match &step {
            FlushStep::ReadBoardStatuses => "read board".to_string(),
            FlushStep::Update { .. } => "update".to_string(),
            FlushStep::Reopen { status_id, .. } => format!("reopen {status_id}"),
            FlushStep::NewTicket { .. } => "new ticket".to_string(),
            FlushStep::CannotReopen { problem } => {
                assert!(problem.contains("ticket 42"), "{problem}");
                assert!(problem.contains("reopen_new_status"), "{problem}");
                "cannot".to_string()
            }
        };
        assert_eq!(
            got, row.expected,
            "{:?} board {:?} closed {:?} reopen to {:?}: {step:?}",
            row.ticket, row.board, row.closed, row.reopen_to
        );
    }
    assert!(matches!(
        flush::ticket_gone(42),
        FlushStep::NewTicket { ref reason } if reason.contains("ticket 42 no longer exists")
    ));
}

// ---------------------------------------------------------------- summary and flood text

#[test]
fn one_summary_cut() {
    let emoji = "🔥".repeat(60);
    let spaced = format!("{} tail", "x".repeat(99));
    // text → summary
    let rows: Vec<(String, String)> = vec![
        ("  short  ".into(), "short".into()),
        ("two\nlines\r\nhere".into(), "two lines  here".into()),
        // 100 UTF-16 units, cut on a character boundary (each emoji is two units).
        (emoji.clone(), "🔥".repeat(50)),
        // A cut that ends on a space loses the space.
        (spaced, "x".repeat(99)),
        ("zero\u{200b}width".into(), "zerowidth".into()),
    ];
    for (text, expected) in rows {
        let cut = content::cut_summary(&text);
        assert_eq!(cut, expected, "{text:?}");
        assert!(cut.encode_utf16().count() <= 100);
        assert_eq!(
            content::cut_summary(&cut),
            cut,
            "cutting twice changes nothing"
        );
    }
}

#[test]
fn flood_ticket_text() {
    let clock = clock();
    let rules = RulesConfig {
        ticket_flood_limit: 10,
        ticket_flood_interval: HOUR,
        ..defaults::rules()
    };
    let alert = Alert {
        source: "auditor".to_string(),
        source_alert_id: "1".to_string(),
        alert_name: "Mass deletion".to_string(),
        client: Some("Acme".to_string()),
        occurred_at: clock.now(),
        received_at: clock.now(),
        records: Vec::new(),
        fields: Default::default(),
    };
    assert_eq!(
        content::flood_summary("Acme"),
        "[mspbridge] Ticket flood: Acme"
    );
    let long = "C".repeat(200);
    assert_eq!(content::flood_summary(&long).encode_utf16().count(), 100);
    let description = content::flood_description(&rules, "Acme", &alert, "Who: alice");
    assert_eq!(
        description,
        "The ticket flood limit of 10 standalone tickets per 1h was reached for Acme. New alerts \
         for Acme are added to this ticket until 2026-11-23T09:00:00+00:00.\n\nFirst alert: Mass \
         deletion\n\nWho: alice"
    );
    let huge = content::flood_description(&rules, "Acme", &alert, &"x".repeat(40_000));
    assert!(huge.encode_utf16().count() <= content::NOTE_MAX_UTF16_UNITS);
    assert!(huge.ends_with(content::TRUNCATION_MARK));
}
