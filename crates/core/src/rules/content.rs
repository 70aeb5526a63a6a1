//! Rule 6 and the content half of rule 4: the text mspbridge writes into ConnectWise.
//!
//! With `display_only_first_activity_record` (the vendor default) a new ticket's description shows
//! the first activity record through the description template, further records of that alert go
//! into an attachment, and a consolidated update is one note that counts and summarises the
//! buffered alerts plus one attachment holding all their activity records. Without the flag,
//! everything is written inline: the description lists every record and the update note lists
//! every record of every buffered alert. Every value is cut to what ConnectWise accepts, on a
//! character boundary.

use std::collections::BTreeMap;

use crate::alert::{
    ActivityRecord, Alert, FIELD_GENERATOR_URL, FIELD_GROUP_INSTANCES, FIELD_SILENCE_URL,
};
use crate::config::{RulesConfig, TicketSettings};
use crate::template::{truncate_utf16, SUMMARY_MAX_UTF16_UNITS};

/// Longest note or description mspbridge writes, in UTF-16 units. ConnectWise documents no limit
/// for note text; this keeps a storm of records from producing megabyte notes (the attachment
/// holds everything).
pub const NOTE_MAX_UTF16_UNITS: usize = 16_000;

/// What is appended when text had to be cut.
pub const TRUNCATION_MARK: &str = "\n… (cut to ConnectWise's field limit)";

/// A file to attach to a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// File name shown in ConnectWise.
    pub file_name: String,
    /// Text content (UTF-8).
    pub content: String,
}

/// The ticket summary: the summary template over the alert, through [`cut_summary`].
pub fn summary(settings: &TicketSettings, alert: &Alert, host: &str) -> String {
    cut_summary(&alert.render(&settings.summary, host))
}

/// The one summary cut: cleaned ([`crate::text::clean_line`]), on one line, trimmed, and cut to
/// ConnectWise's 100 UTF-16 units on a character boundary. Cutting a cut summary changes nothing.
pub fn cut_summary(text: &str) -> String {
    let single_line = crate::text::clean_line(&text.replace(['\r', '\n'], " "));
    truncate_utf16(single_line.trim(), SUMMARY_MAX_UTF16_UNITS)
        .trim_end()
        .to_string()
}

/// The summary of `client`'s flood ticket.
pub fn flood_summary(client: &str) -> String {
    cut_summary(&format!("[mspbridge] Ticket flood: {client}"))
}

/// The description of `client`'s flood ticket opened by `alert`: why it exists, until when it
/// takes the client's new alerts, then the first alert's own description.
pub fn flood_description(
    rules: &RulesConfig,
    client: &str,
    alert: &Alert,
    alert_description: &str,
) -> String {
    let until = crate::clock::add(alert.received_at, rules.ticket_flood_interval);
    cap(&format!(
        "The ticket flood limit of {} standalone tickets per {} was reached for {client}. \
         New alerts for {client} are added to this ticket until {}.\n\nFirst alert: {}\n\n{}",
        rules.ticket_flood_limit,
        crate::duration::format_duration(rules.ticket_flood_interval),
        until.to_rfc3339(),
        alert.alert_name,
        alert_description
    ))
}

/// The description of a new ticket for `alert`: the description template (first record), every
/// further record inline when `display_only_first` is off, then one line per correlated earlier
/// ticket.
pub fn description(
    settings: &TicketSettings,
    alert: &Alert,
    host: &str,
    correlation_lines: &[String],
    display_only_first: bool,
) -> String {
    let mut text = alert.render(&settings.description, host);
    if let Some(why) = alert.record_unavailable() {
        text.push_str("\n\n");
        text.push_str(&record_unavailable_line(alert, why));
    }
    let links = links(alert);
    if !links.is_empty() {
        text.push_str("\n\n");
        text.push_str(&links);
    }
    if !display_only_first && alert.records.len() > 1 {
        text.push_str("\n\nFurther activity records:");
        for record in &alert.records[1..] {
            text.push_str("\n\n");
            text.push_str(&record.to_text());
        }
    }
    if !correlation_lines.is_empty() {
        text.push_str("\n\n");
        text.push_str(&correlation_lines.join("\n"));
    }
    cap(&text)
}

/// The sentence a ticket carries for an alert whose activity record could not be fetched.
pub fn record_unavailable_line(alert: &Alert, why: &str) -> String {
    let rid = alert.netwrix_record_id().unwrap_or("?");
    format!("The activity record {rid} could not be fetched from Netwrix Auditor: {why}")
}

/// The attachment a new ticket gets: with `display_only_first`, the alert's records after the
/// first (which the description shows); `None` when there are none or the flag is off.
pub fn attachment_for_new_ticket(alert: &Alert, display_only_first: bool) -> Option<Attachment> {
    if !display_only_first || alert.records.len() < 2 {
        return None;
    }
    let mut content = format!(
        "Alert \"{}\" from {} at {}: activity records 2 to {}\n",
        alert.alert_name,
        alert.source,
        alert.occurred_at.to_rfc3339(),
        alert.records.len()
    );
    for (index, record) in alert.records.iter().enumerate().skip(1) {
        content.push_str(&format!(
            "\n--- record {}\n{}\n",
            index + 1,
            record.to_text()
        ));
    }
    Some(Attachment {
        file_name: format!("ActivityRecords-{}.txt", file_stamp(alert)),
        content,
    })
}

/// The single note of a consolidated update for the buffered `alerts` (oldest first).
pub fn note_for_buffer(alerts: &[Alert], display_only_first: bool) -> String {
    let mut text = buffer_headline(alerts);
    if display_only_first {
        let summary = summarise(alerts);
        if !summary.is_empty() {
            text.push('\n');
            text.push_str(&summary);
        }
        if let Some(attachment) = attachment_for_buffer(alerts, true) {
            text.push_str(&format!(
                "\nThe activity records are attached as {}.",
                attachment.file_name
            ));
        }
    } else {
        for (index, alert) in alerts.iter().enumerate() {
            text.push_str(&format!(
                "\n\nAlert {} of {} at {}:",
                index + 1,
                alerts.len(),
                alert.occurred_at.to_rfc3339()
            ));
            if let Some(why) = alert.record_unavailable() {
                text.push(' ');
                text.push_str(&record_unavailable_line(alert, why));
            } else if alert.records.is_empty() {
                text.push_str(" no activity record");
            }
            for record in &alert.records {
                text.push('\n');
                text.push_str(&record.to_text());
            }
        }
    }
    cap(&text)
}

/// The one attachment of a consolidated update: every activity record of the buffered alerts.
/// `None` without `display_only_first` (the note holds them) or when no alert has a record.
pub fn attachment_for_buffer(alerts: &[Alert], display_only_first: bool) -> Option<Attachment> {
    if !display_only_first || alerts.iter().all(|alert| alert.records.is_empty()) {
        return None;
    }
    let first = alerts.first()?;
    let mut content = format!("{}\n", buffer_headline(alerts));
    for (index, alert) in alerts.iter().enumerate() {
        content.push_str(&format!(
            "\n=== alert {} of {}: \"{}\" ({}) at {}\n",
            index + 1,
            alerts.len(),
            alert.alert_name,
            alert.source_alert_id,
            alert.occurred_at.to_rfc3339()
        ));
        for record in &alert.records {
            content.push_str(&record.to_text());
            content.push('\n');
        }
    }
    Some(Attachment {
        file_name: format!("ActivityRecords-{}.txt", file_stamp(first)),
        content,
    })
}

/// The description of a new ticket that carries buffered alerts (a closed ticket that may not be
/// reopened): the first alert through the template, then the summary of the whole buffer.
pub fn description_for_buffer(
    settings: &TicketSettings,
    alerts: &[Alert],
    host: &str,
    correlation_lines: &[String],
    display_only_first: bool,
) -> String {
    let Some(first) = alerts.first() else {
        return String::new();
    };
    let mut text = description(settings, first, host, correlation_lines, true);
    if alerts.len() > 1 || !display_only_first {
        text.push_str("\n\n");
        text.push_str(&note_for_buffer(alerts, display_only_first));
    }
    cap(&text)
}

/// The group's instances and the links an Alertmanager alert carries, one per line.
fn links(alert: &Alert) -> String {
    let lines: [(&str, &str); 3] = [
        ("Instances", FIELD_GROUP_INSTANCES),
        ("Source", FIELD_GENERATOR_URL),
        ("Silence", FIELD_SILENCE_URL),
    ];
    lines
        .iter()
        .filter_map(|(label, field)| {
            alert
                .fields
                .get(*field)
                .filter(|value| !value.trim().is_empty())
                .map(|value| format!("{label}: {value}"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn buffer_headline(alerts: &[Alert]) -> String {
    let (Some(first), Some(last)) = (alerts.first(), alerts.last()) else {
        return "No alerts.".to_string();
    };
    let name = &first.alert_name;
    let mut types: Vec<(&str, usize)> = Vec::new();
    for alert in alerts {
        match types.iter_mut().find(|(name, _)| *name == alert.alert_name) {
            Some((_, count)) => *count += 1,
            None => types.push((&alert.alert_name, 1)),
        }
    }
    if types.len() > 1 {
        // A flood ticket carries alerts of many types: name every one with its count.
        let listed: Vec<String> = types
            .iter()
            .map(|(name, count)| format!("\"{name}\" ({count})"))
            .collect();
        return format!(
            "{} more alerts between {} and {}: {}.",
            alerts.len(),
            first.occurred_at.to_rfc3339(),
            last.occurred_at.to_rfc3339(),
            listed.join(", ")
        );
    }
    if alerts.len() == 1 {
        format!(
            "1 more \"{name}\" alert at {}.",
            first.occurred_at.to_rfc3339()
        )
    } else {
        format!(
            "{} more \"{name}\" alerts between {} and {}.",
            alerts.len(),
            first.occurred_at.to_rfc3339(),
            last.occurred_at.to_rfc3339()
        )
    }
}

/// `Accounts: a (3), b (1)` style lines over the records of `alerts`.
fn summarise(alerts: &[Alert]) -> String {
    let records: Vec<&ActivityRecord> = alerts.iter().flat_map(|alert| &alert.records).collect();
    let mut lines = Vec::new();
    let facets: [(&str, RecordFacet); 5] = [
        ("Accounts", |record| Some(record.who.as_str())),
        ("Actions", |record| Some(record.action.as_str())),
        ("Objects", |record| Some(record.what.as_str())),
        ("Instances", |record| Some(record.where_.as_str())),
        ("Workstations", |record| record.workstation.as_deref()),
    ];
    for (label, pick) in facets {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for record in &records {
            if let Some(value) = pick(record).filter(|value| !value.is_empty()) {
                *counts.entry(value).or_default() += 1;
            }
        }
        if counts.is_empty() {
            continue;
        }
        let mut ordered: Vec<(&str, usize)> = counts.into_iter().collect();
        ordered.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let shown: Vec<String> = ordered
            .iter()
            .take(10)
            .map(|(value, count)| format!("{value} ({count})"))
            .collect();
        let more = ordered.len().saturating_sub(10);
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        lines.push(format!("{label}: {}{tail}", shown.join(", ")));
    }
    lines.join("\n")
}

/// Picks one value out of a record, for the summary of a buffer.
type RecordFacet = fn(&ActivityRecord) -> Option<&str>;

/// The time of `alert` and a short fingerprint of its identity (source and source alert id):
/// every alert is carried by exactly one ticket description or update, so a file named after the
/// first alert it carries is unique, and a retry can look for it by name.
fn file_stamp(alert: &Alert) -> String {
    // FNV-1a: stable across versions and platforms, unlike the std hasher.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in alert
        .source
        .bytes()
        .chain([0])
        .chain(alert.source_alert_id.bytes())
    {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{}-{hash:08x}", alert.occurred_at.format("%Y%m%dT%H%M%SZ"))
}

/// Cuts `text` to [`NOTE_MAX_UTF16_UNITS`], marking the cut.
pub fn cap(text: &str) -> String {
    if text.encode_utf16().count() <= NOTE_MAX_UTF16_UNITS {
        return text.to_string();
    }
    let room = NOTE_MAX_UTF16_UNITS - TRUNCATION_MARK.encode_utf16().count();
    format!("{}{TRUNCATION_MARK}", truncate_utf16(text, room))
}
