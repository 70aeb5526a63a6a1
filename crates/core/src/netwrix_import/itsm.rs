//! ITSMSettings.xml: the Auditor connection (which becomes a `[[sources]]` entry) and the ticketing
//! rules (flood limit, consolidation, update/reopen, correlation, retention), which keep their
//! meaning and are written as human durations.

use std::time::Duration;

use super::output::{self, Line, Section};
use super::xml_tree::Element;
use super::{
    parse_bool, with_https, Notes, AUDITOR_PASSWORD_ENV, DEFAULT_CLIENT, ITSM_FILE, SOURCE_NAME,
};
use crate::duration::format_duration;

/// The sections this file produces.
pub struct ItsmSections {
    pub rules: Section,
    pub source: Section,
}

#[derive(Clone, Copy)]
enum Kind {
    Count,
    Seconds,
    Flag,
}

/// Top-level parameters that map one-to-one onto `[rules]` keys.
const RULES: &[Field] = &[
    ("TicketFloodLimit", "ticket_flood_limit", Kind::Count),
    (
        "TicketFloodInterval",
        "ticket_flood_interval",
        Kind::Seconds,
    ),
    (
        "ConsolidationInterval",
        "consolidation_interval",
        Kind::Seconds,
    ),
    (
        "UpdateTicketOnRepetitiveAlerts",
        "update_ticket_on_repetitive_alerts",
        Kind::Flag,
    ),
    (
        "ReopenTicketOnRepetitiveAlerts",
        "reopen_ticket_on_repetitive_alerts",
        Kind::Flag,
    ),
    ("UpdateInterval", "update_interval", Kind::Seconds),
    (
        "EnableTicketCorrelation",
        "enable_ticket_correlation",
        Kind::Flag,
    ),
    ("CorrelationInterval", "correlation_interval", Kind::Seconds),
    (
        "DisplayOnlyFirstActivityRecord",
        "display_only_first_activity_record",
        Kind::Flag,
    ),
];

/// One value: (vendor element, mspbridge key, how to read it).
type Field = (&'static str, &'static str, Kind);

/// Nested groups: (element, rules key, its fields written as an inline table).
const GROUPS: &[(&str, &str, &[Field])] = &[
    (
        "ActivityRecordRequestsRetention",
        "activity_record_requests",
        &[
            ("RequestLimit", "limit", Kind::Count),
            ("RequestLimitInterval", "keep", Kind::Seconds),
        ],
    ),
    (
        "ActivityRecordWebRequests",
        "activity_record_web_requests",
        &[
            ("RequestLimit", "limit", Kind::Count),
            ("RequestTimeout", "timeout", Kind::Seconds),
        ],
    ),
    (
        "TicketRequestsRetention",
        "ticket_requests",
        &[
            ("RequestLimit", "limit", Kind::Count),
            ("RequestLimitInterval", "keep", Kind::Seconds),
        ],
    ),
];

/// The update and reopen switches, whose vendor meanings depend on each other.
const UPDATE_KEY: &str = "update_ticket_on_repetitive_alerts";
const REOPEN_KEY: &str = "reopen_ticket_on_repetitive_alerts";

/// Parameters that only tune the vendor's internal polling.
const INTERNAL: &[&str] = &[
    "CheckAlertQueueInterval",
    "ProcessActivityRecordQueueInterval",
];

pub fn import(root: &Element, notes: &mut Notes) -> ItsmSections {
    let root_path = format!("/{}", root.name);
    let mut rules = Section::new("[rules]");
    let mut source = Section::new("[[sources]]");
    source
        .comments_above
        .push("The Netwrix Auditor Integration API the add-on read activity records from.".into());
    source.push(Line::new("name", output::string(SOURCE_NAME)));
    source.push(Line::new("kind", output::string("netwrix-auditor")));

    let mut seen: Vec<String> = Vec::new();
    let mut host: Option<String> = None;
    let mut username: Option<(String, usize)> = None;
    let mut password_line: Option<usize> = None;
    let mut update: Option<(bool, usize)> = None;
    let mut reopen: Option<(bool, usize, String)> = None;

    for child in &root.children {
        let path = format!("{root_path}/{}", child.name);
        let lower = child.name.to_ascii_lowercase();
        if seen.contains(&lower) {
            notes.add(
                ITSM_FILE,
                child.line,
                &path,
                "given twice; the first value is used",
            );
            continue;
        }
        seen.push(lower.clone());
        let text = child.text.trim();
        if let Some((_, key, kind)) = RULES
            .iter()
            .find(|(name, _, _)| name.eq_ignore_ascii_case(&lower))
        {
            if let Some(value) = value(*kind, text, child.line, &path, notes) {
                match *key {
                    UPDATE_KEY => update = Some((value == "true", child.line)),
                    REOPEN_KEY => reopen = Some((value == "true", child.line, path.clone())),
                    _ => {}
                }
                rules.push(Line::new(key, value));
            }
            continue;
        }
        if let Some((_, key, fields)) = GROUPS
            .iter()
            .find(|(name, _, _)| name.eq_ignore_ascii_case(&lower))
        {
            let mut parts = Vec::new();
            let mut carried: Vec<&str> = Vec::new();
            for field in &child.children {
                let field_path = format!("{path}/{}", field.name);
                match fields
                    .iter()
                    .find(|(name, _, _)| name.eq_ignore_ascii_case(&field.name))
                {
                    // A field written twice would repeat its key in the inline table (not TOML).
                    Some((_, inline_key, _)) if carried.contains(inline_key) => notes.add(
                        ITSM_FILE,
                        field.line,
                        &field_path,
                        "given twice; the first value is used",
                    ),
                    Some((_, inline_key, kind)) => {
                        carried.push(inline_key);
                        if let Some(value) =
                            value(*kind, field.text.trim(), field.line, &field_path, notes)
                        {
                            parts.push(format!("{inline_key} = {value}"));
                        }
                    }
                    None => notes.add(
                        ITSM_FILE,
                        field.line,
                        &field_path,
                        "not a setting of this group",
                    ),
                }
            }
            if !parts.is_empty() {
                rules.push(Line::new(key, format!("{{ {} }}", parts.join(", "))));
            }
            continue;
        }
        match lower.as_str() {
            "netwrixauditorhost" => host = Some(text.to_string()).filter(|host| !host.is_empty()),
            "netwrixauditorusername" => {
                username = Some((text.to_string(), child.line)).filter(|(name, _)| !name.is_empty());
            }
            "netwrixauditorpassword" => password_line = Some(child.line),
            _ if INTERNAL.iter().any(|name| name.eq_ignore_ascii_case(&lower)) => notes.add(
                ITSM_FILE,
                child.line,
                &path,
                format!("value \"{text}\": internal queue polling of the add-on; mspbridge processes alerts as they arrive"),
            ),
            _ => notes.add(ITSM_FILE, child.line, &path, format!("value \"{text}\": not a setting mspbridge knows (ServiceNow-only or unknown)")),
        }
    }

    // The add-on reopens a closed ticket only to update it: with updates off, its reopen switch
    // (true by default) does nothing. mspbridge refuses that contradiction, so the import writes
    // what the add-on did.
    if let Some((false, update_line)) = update {
        let why = "has no effect while UpdateTicketOnRepetitiveAlerts is false (the add-on reopens \
                   a closed ticket only to update it); written as reopen_ticket_on_repetitive_alerts = false";
        match reopen {
            Some((true, line, path)) => {
                for rule in rules.lines.iter_mut().filter(|rule| rule.key == REOPEN_KEY) {
                    rule.value = "false".to_string();
                }
                notes.add(ITSM_FILE, line, &path, format!("true {why}"));
            }
            Some((false, _, _)) => {}
            None => {
                rules.push(Line::new(REOPEN_KEY, "false".to_string()).with_above(
                    "The add-on's default (true) means nothing without updates: reopening is part of updating.",
                ));
                notes.add(
                    ITSM_FILE,
                    update_line,
                    &format!("{root_path}/ReopenTicketOnRepetitiveAlerts"),
                    format!("absent, so the add-on's default true applies, which {why}"),
                );
            }
        }
    }

    let url = match host {
        Some(host) => with_https(&host),
        None => {
            notes.add(
                ITSM_FILE,
                root.line,
                &format!("{root_path}/NetwrixAuditorHost"),
                "missing; the vendor default https://localhost:9699 is used",
            );
            "https://localhost:9699".to_string()
        }
    };
    source.push(Line::new("url", output::string(&url)));
    match username {
        Some((name, _)) if !name.eq_ignore_ascii_case("LocalSystem") => {
            source.push(Line::new("username", output::string(&name)));
            source.push(
                Line::new("password", output::string(&format!("env:{AUDITOR_PASSWORD_ENV}")))
                    .with_above(&format!("The password is not copied into this file: export it as {AUDITOR_PASSWORD_ENV}.")),
            );
            notes.add(
                ITSM_FILE,
                password_line.unwrap_or(root.line),
                &format!("{root_path}/NetwrixAuditorPassword"),
                format!("not written to the config; export the Auditor password as the environment variable {AUDITOR_PASSWORD_ENV} (sources[0].password = \"env:{AUDITOR_PASSWORD_ENV}\")"),
            );
        }
        other => {
            let line = other.map_or(root.line, |(_, line)| line);
            notes.add(
                ITSM_FILE,
                line,
                &format!("{root_path}/NetwrixAuditorUserName"),
                "the add-on ran as LocalSystem; mspbridge needs an account with Global reviewer rights: set sources[0].username and password",
            );
            source.push(
                Line::new("# username", "\"DOMAIN\\\\user\"".to_string())
                    .with_above("Fill in an Auditor account with Global reviewer rights:"),
            );
            source.push(Line::new(
                "# password",
                output::string(&format!("env:{AUDITOR_PASSWORD_ENV}")),
            ));
        }
    }
    source.push(Line::new("client", output::string(DEFAULT_CLIENT)));
    ItsmSections { rules, source }
}

/// The TOML text of one value, or a note saying why it was not carried.
fn value(kind: Kind, text: &str, line: usize, path: &str, notes: &mut Notes) -> Option<String> {
    let parsed = match kind {
        Kind::Count => text
            .parse::<u32>()
            .ok()
            .filter(|count| *count > 0)
            .map(|count| count.to_string()),
        Kind::Seconds => text
            .parse::<u64>()
            .ok()
            .map(|seconds| output::string(&format_duration(Duration::from_secs(seconds)))),
        Kind::Flag => parse_bool(text).map(|flag| flag.to_string()),
    };
    if parsed.is_none() {
        let expected = match kind {
            Kind::Count => "a positive whole number",
            Kind::Seconds => "a number of seconds",
            Kind::Flag => "true or false",
        };
        notes.add(
            ITSM_FILE,
            line,
            path,
            format!("\"{text}\" is not {expected}; the default applies"),
        );
    }
    parsed
}
