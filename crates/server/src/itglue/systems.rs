//! The systems inventory's ways in: CSV files (all rows or none), and alerts, whose workstation and
//! where fields name the machines a client has (DESIGN §1 "system").
//!
//! MACs are normalised on the way in with the same rule auto-mapping uses, so what the inventory
//! shows is what matching compares; a MAC that is not one is an error in a CSV row, never a silent
//! drop.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use mspbridge_core::itglue_map::normalize_mac;
use mspbridge_store::inventory::{NewSystem, SystemOrigin};
use mspbridge_store::{Store, StoreError};

/// Every problem of a CSV file, one line each, e.g. `line 3: "zz:zz" is not a MAC address`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the systems CSV has {} problem(s), nothing was imported: {}", .problems.len(), .problems.join("; "))]
pub struct SystemsCsvError {
    /// One sentence per problem, each starting with its line number.
    pub problems: Vec<String>,
}

/// Normalises MAC texts; the error names the first one that is not a MAC.
pub fn normalize_system_macs<S: AsRef<str>>(macs: &[S]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for mac in macs {
        let text = mac.as_ref().trim();
        if text.is_empty() {
            continue;
        }
        let normalized = normalize_mac(text).ok_or_else(|| {
            format!("{text:?} is not a usable MAC address (12 hex digits, not all zero or all ff)")
        })?;
        if !out.contains(&normalized) {
            out.push(normalized);
        }
    }
    Ok(out)
}

/// Splits one CSV line into fields: commas separate, double quotes protect commas and `""` is a
/// quote inside a quoted field.
fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', true) => quoted = false,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".to_string());
    }
    fields.push(field);
    Ok(fields.into_iter().map(|f| f.trim().to_string()).collect())
}

/// Parses a systems CSV file with the header `name,client,macs,sensor` (any order, any case;
/// `sensor` optional; MACs separated by `;`). With `known_clients`, rows naming another client are
/// errors. Returns every row, or every problem with its line number.
pub fn parse_systems_csv(
    text: &str,
    origin: SystemOrigin,
    known_clients: Option<&[String]>,
) -> Result<Vec<NewSystem>, SystemsCsvError> {
    let mut problems = Vec::new();
    let mut lines = text
        .trim_start_matches('\u{feff}')
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim_end_matches('\r')))
        .filter(|(_, line)| !line.trim().is_empty());
    let Some((header_line, header)) = lines.next() else {
        return Err(SystemsCsvError {
            problems: vec![
                "line 1: the file is empty; expected a header name,client,macs,sensor".to_string(),
            ],
        });
    };
    let header = split_csv_line(header).map_err(|problem| SystemsCsvError {
        problems: vec![format!("line {header_line}: {problem}")],
    })?;
    let position = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(name_at), Some(client_at)) = (position("name"), position("client")) else {
        return Err(SystemsCsvError {
            problems: vec![format!(
                "line {header_line}: the header must name the columns name and client (and optionally macs, sensor), got {:?}",
                header.join(",")
            )],
        });
    };
    let macs_at = position("macs");
    let sensor_at = position("sensor");
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut systems = Vec::new();
    for (number, line) in lines {
        let fields = match split_csv_line(line) {
            Ok(fields) => fields,
            Err(problem) => {
                problems.push(format!("line {number}: {problem}"));
                continue;
            }
        };
        if fields.len() > header.len() {
            problems.push(format!(
                "line {number}: {} fields, but the header has {}",
                fields.len(),
                header.len()
            ));
            continue;
        }
        let field = |at: Option<usize>| {
            at.and_then(|at| fields.get(at))
                .map(String::as_str)
                .unwrap_or("")
        };
        let name = field(Some(name_at));
        let client = field(Some(client_at));
        if name.is_empty() {
            problems.push(format!("line {number}: the system name is empty"));
            continue;
        }
        if client.is_empty() {
            problems.push(format!("line {number}: the client of {name:?} is empty"));
            continue;
        }
        if let Some(known) = known_clients {
            if !known.iter().any(|k| k == client) {
                problems.push(format!(
                    "line {number}: client {client:?} is not configured (configured: {})",
                    known.join(", ")
                ));
                continue;
            }
        }
        let macs: Vec<&str> = field(macs_at).split(';').collect();
        let macs = match normalize_system_macs(&macs) {
            Ok(macs) => macs,
            Err(problem) => {
                problems.push(format!("line {number}: {problem}"));
                continue;
            }
        };
        if !seen.insert((client.to_string(), name.to_string())) {
            problems.push(format!(
                "line {number}: system {name:?} of client {client:?} appears twice"
            ));
            continue;
        }
        let sensor = field(sensor_at);
        systems.push(NewSystem {
            client: client.to_string(),
            name: name.to_string(),
            macs,
            sensor: (!sensor.is_empty()).then(|| sensor.to_string()),
            origin,
        });
    }
    if problems.is_empty() {
        Ok(systems)
    } else {
        Err(SystemsCsvError { problems })
    }
}

/// Cleans a workstation / where value into a machine name: trims, drops a leading `\\`, and
/// refuses empty values and IP-less placeholders such as `-`.
fn machine_name(text: &str) -> Option<String> {
    let name = text.trim().trim_start_matches('\\').trim();
    (!name.is_empty() && name != "-" && !name.eq_ignore_ascii_case("n/a")).then(|| name.to_string())
}

/// How stale `last_seen` may get before an alert sighting refreshes it.
const LAST_SEEN_RESOLUTION_SECONDS: i64 = 3600;

/// Records the machines an alert names (its activity records' workstation and where fields) as
/// systems of `client`: new ones with origin `alert`, known ones with a fresh last-seen time (their
/// MACs and sensor are kept) when it is over an hour old. Names differing only in case count
/// once. Returns how many systems were written.
pub async fn learn_systems_from_alert(
    store: &dyn Store,
    client: &str,
    names: &[&str],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    if client.trim().is_empty() {
        return Ok(0);
    }
    let known = store.list_systems(Some(client)).await?;
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut systems = Vec::new();
    for name in names.iter().filter_map(|n| machine_name(n)) {
        if !seen.insert(name.to_lowercase()) {
            continue;
        }
        // Keep the spelling the inventory already has; a sighting shortly after the last one
        // changes nothing worth a write (an alert storm must not cost a commit per alert).
        let existing = known
            .iter()
            .find(|system| system.name.eq_ignore_ascii_case(&name));
        if existing.is_some_and(|system| {
            now - system.last_seen < chrono::Duration::seconds(LAST_SEEN_RESOLUTION_SECONDS)
        }) {
            continue;
        }
        let name = existing.map(|system| system.name.clone()).unwrap_or(name);
        systems.push(NewSystem {
            client: client.to_string(),
            name,
            macs: Vec::new(),
            sensor: None,
            origin: SystemOrigin::Alert,
        });
    }
    let count = systems.len();
    if count > 0 {
        store.upsert_systems(systems, now).await?;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_parsed_with_quotes_and_normalised_macs() {
        let text = "Name,Client,MACs,Sensor\n\
                    ws01,Acme,00:1A:2B:3C:4D:5E;001a.2b3c.4d5f,agent\n\
                    \"dc, primary\",Acme,,syslog\n\
                    \n\
                    lap,Globex,00-0C-29-11-22-33\n";
        let systems = parse_systems_csv(text, SystemOrigin::Csv, None).expect("a good file");
        assert_eq!(systems.len(), 3);
        assert_eq!(systems[0].macs, vec!["001a2b3c4d5e", "001a2b3c4d5f"]);
        assert_eq!(systems[1].name, "dc, primary");
        assert_eq!(systems[1].sensor.as_deref(), Some("syslog"));
        assert!(systems[1].macs.is_empty());
        assert_eq!(systems[2].sensor, None);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line_number() {
        let text = "name,client,macs,sensor\n\
                    ok,Acme,00:1a:2b:3c:4d:5e,agent\n\
                    bad-mac,Acme,zz:zz,agent\n\
                    ,Acme,,\n\
                    other,Nobody,,\n\
                    ok,Acme,,\n";
        let known = vec!["Acme".to_string()];
        let error = parse_systems_csv(text, SystemOrigin::Csv, Some(&known)).unwrap_err();
        assert_eq!(error.problems.len(), 4, "{:?}", error.problems);
        assert!(error.problems[0].starts_with("line 3: \"zz:zz\""));
        assert!(error.problems[1].starts_with("line 4: the system name is empty"));
        assert!(error.problems[2].starts_with("line 5: client \"Nobody\""));
        assert!(error.problems[3].starts_with("line 6: system \"ok\""));
    }

    #[test]
    fn a_file_without_the_needed_header_is_refused() {
        let error = parse_systems_csv("host,mac\nx,y\n", SystemOrigin::Csv, None).unwrap_err();
        assert!(error.problems[0].contains("name and client"));
        assert!(parse_systems_csv("", SystemOrigin::Csv, None).is_err());
    }

    #[test]
    fn machine_names_from_alerts_are_cleaned() {
        assert_eq!(machine_name(" \\\\WS01 ").as_deref(), Some("WS01"));
        assert_eq!(machine_name("-"), None);
        assert_eq!(machine_name("  "), None);
    }
}
