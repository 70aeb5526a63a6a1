//! Per-client daily roll-ups: what a security summary report counts, kept after retention has
//! forgotten the raw alerts and events.
//!
//! A store writes them itself, in the transaction that takes an alert off the queue as
//! `processed` (one `type` row for its alert name, one `account` per activity record's Who, one
//! `system` per distinct Workstation / Where of a record) or appends an event with a client (one
//! `event` row named by its code). Reports add the rows of the days they cover. The counting rules
//! live here so every store and the report's own reading of raw alerts count alike.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::StoreError;
use crate::model::{AlertId, AlertOutcome, AlertState, NewEvent};
use crate::sqlite::from_micros;

mod scan;

/// What a roll-up row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollupKind {
    /// Alerts per alert name.
    Type,
    /// Activity records per account (Who).
    Account,
    /// Activity records per system (Workstation or Where).
    System,
    /// Events per code (the name is the code in decimal).
    Event,
}

impl RollupKind {
    /// The stored spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            RollupKind::Type => "type",
            RollupKind::Account => "account",
            RollupKind::System => "system",
            RollupKind::Event => "event",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "type" => Some(RollupKind::Type),
            "account" => Some(RollupKind::Account),
            "system" => Some(RollupKind::System),
            "event" => Some(RollupKind::Event),
            _ => None,
        }
    }
}

impl fmt::Display for RollupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stored roll-up count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollupRow {
    /// Client.
    pub client: String,
    /// The UTC day counted.
    pub day: NaiveDate,
    /// What is counted.
    pub kind: RollupKind,
    /// The alert name, account, system or event code.
    pub name: String,
    /// How many.
    pub count: u64,
}

/// The stored spelling of a day (`YYYY-MM-DD`).
pub fn day_text(at: DateTime<Utc>) -> String {
    at.date_naive().format("%Y-%m-%d").to_string()
}

/// Where a payload keeps its activity records, in the order they are looked for.
const RECORD_KEYS: [&str; 3] = ["records", "activity_records", "ActivityRecords"];

/// A record's account, by its spellings in the order they are read.
const WHO_KEYS: &[&str] = &["who", "Who"];

/// A record's systems: the workstation, then the place (`Where`), each by its spellings.
const SYSTEM_KEYS: [&[&str]; 2] = [
    &["workstation", "Workstation"],
    &["where", "where_", "Where"],
];

/// The (kind, name) counts one decided alert adds to its day: its alert name once, and per
/// activity record its account and its systems (a record naming the same system as Workstation
/// and Where counts it once).
pub fn alert_counts(alert_name: &str, payload: &Value) -> Vec<(RollupKind, String)> {
    count_records(alert_name, activity_records(payload))
}

/// [`alert_counts`] of a stored payload, read from its JSON text without building a `Value`
/// (a payload that is not JSON counts its alert only, as a `Value` of `null` would).
pub fn alert_counts_in_text(alert_name: &str, payload: &str) -> Vec<(RollupKind, String)> {
    match scan::activity_records(payload) {
        Some(records) => count_records(alert_name, &records),
        None => alert_counts(
            alert_name,
            &serde_json::from_str(payload).unwrap_or(Value::Null),
        ),
    }
}

/// An activity record as the counts read it: a field's value when it is a string.
trait Fields {
    fn string(&self, key: &str) -> Option<&str>;

    /// The first non-blank string among `keys`, trimmed.
    fn text(&self, keys: &[&str]) -> Option<String> {
        keys.iter()
            .filter_map(|key| self.string(key))
            .map(str::trim)
            .find(|value| !value.is_empty())
            .map(str::to_string)
    }
}

impl Fields for Value {
    fn string(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }
}

/// The counts of an alert named `alert_name` with `records`.
fn count_records<'r, R: Fields + 'r>(
    alert_name: &str,
    records: impl IntoIterator<Item = &'r R>,
) -> Vec<(RollupKind, String)> {
    let mut counts = vec![(RollupKind::Type, alert_name.to_string())];
    for record in records {
        if let Some(who) = record.text(WHO_KEYS) {
            counts.push((RollupKind::Account, who));
        }
        let mut seen = BTreeSet::new();
        for keys in SYSTEM_KEYS {
            if let Some(system) = record.text(keys) {
                if seen.insert(system.to_lowercase()) {
                    counts.push((RollupKind::System, system));
                }
            }
        }
    }
    counts
}

/// The activity records of a stored alert payload. Intakes store them under `records` (native and
/// Netwrix alerts) or `activity_records`; a payload that is itself one record counts as one.
pub fn activity_records(payload: &Value) -> Vec<&Value> {
    for key in RECORD_KEYS {
        if let Some(Value::Array(records)) = payload.get(key) {
            return records.iter().filter(|record| record.is_object()).collect();
        }
    }
    if payload.is_object() {
        vec![payload]
    } else {
        Vec::new()
    }
}

/// The counts one transaction adds, keyed (client, day, kind, name): a page of decided alerts
/// adds to each row once, and rows are written in key order (so two PostgreSQL processes adding
/// to the same rows lock them in the same order).
#[derive(Debug, Default)]
pub(crate) struct Increments(BTreeMap<(String, String, RollupKind, String), i64>);

impl Increments {
    /// Adds `counts` (one alert's, decided `processed` for `client`: see [`alert_counts`]) on its
    /// day.
    fn alert(
        &mut self,
        client: &str,
        occurred_at: DateTime<Utc>,
        counts: Vec<(RollupKind, String)>,
    ) {
        let day = day_text(occurred_at);
        for (kind, name) in counts {
            *self
                .0
                .entry((client.to_string(), day.clone(), kind, name))
                .or_default() += 1;
        }
    }

    /// Adds what the alerts a decision statement took off the queue count. `taken` is what the
    /// statement returned for each alert it moved: its id, name, `occurred_at` in microseconds and
    /// stored payload (which may be left out where it does not count, or where the outcome
    /// carries its counts). Only an alert decided `processed` for a client counts, with the
    /// payload the decision gives it, else its outcome's counts of the stored one, else the stored
    /// one (a stored payload that is absent or not JSON still counts as an alert of its type).
    /// Returns the first of `outcomes` the statement did not move, if any: the batch then fails.
    pub(crate) fn taken_off_queue<'o>(
        &mut self,
        outcomes: impl IntoIterator<Item = &'o AlertOutcome>,
        taken: Vec<(AlertId, String, i64, Option<String>)>,
    ) -> Result<Option<&'o AlertOutcome>, StoreError> {
        let mut taken: HashMap<AlertId, (String, i64, Option<String>)> = taken
            .into_iter()
            .map(|(id, name, occurred_at, payload)| (id, (name, occurred_at, payload)))
            .collect();
        for outcome in outcomes {
            let Some((alert_name, occurred_at, stored_payload)) = taken.remove(&outcome.id) else {
                return Ok(Some(outcome));
            };
            let (AlertState::Processed, Some(client)) = (outcome.state, &outcome.client) else {
                continue;
            };
            let occurred_at = from_micros(occurred_at, "alerts.occurred_at")?;
            let counts = match (&outcome.payload, &outcome.counted) {
                (Some(payload), _) => alert_counts(&alert_name, payload),
                (None, Some(counted)) => counted.clone(),
                (None, None) => {
                    alert_counts_in_text(&alert_name, stored_payload.as_deref().unwrap_or("null"))
                }
            };
            self.alert(client, occurred_at, counts);
        }
        Ok(None)
    }

    /// Adds an event of a client on its day (nothing for an event without a client).
    pub(crate) fn event(&mut self, event: &NewEvent) {
        if let Some(client) = &event.client {
            *self
                .0
                .entry((
                    client.clone(),
                    day_text(event.at),
                    RollupKind::Event,
                    event.code.to_string(),
                ))
                .or_default() += 1;
        }
    }

    /// The rows to add to, in key order: (client, day, kind, name, count).
    pub(crate) fn rows(&self) -> impl Iterator<Item = (&str, &str, RollupKind, &str, i64)> {
        self.0.iter().map(|((client, day, kind, name), n)| {
            (client.as_str(), day.as_str(), *kind, name.as_str(), *n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_are_found_under_every_payload_shape() {
        let counts = alert_counts(
            "Password Reset",
            &json!({"records": [{"Who": "CORP\\alice", "Workstation": "WS-01", "Where": "ws-01"}]}),
        );
        assert_eq!(
            counts,
            vec![
                (RollupKind::Type, "Password Reset".to_string()),
                (RollupKind::Account, "CORP\\alice".to_string()),
                (RollupKind::System, "WS-01".to_string()),
            ],
            "a record naming the same system as workstation and where counts it once"
        );
        let counts = alert_counts("Login", &json!({"Who": "  ", "where_": "DC-01"}));
        assert_eq!(
            counts,
            vec![
                (RollupKind::Type, "Login".to_string()),
                (RollupKind::System, "DC-01".to_string()),
            ]
        );
        assert_eq!(alert_counts("Login", &json!("text")).len(), 1);
        for kind in [
            RollupKind::Type,
            RollupKind::Account,
            RollupKind::System,
            RollupKind::Event,
        ] {
            assert_eq!(RollupKind::parse(kind.as_str()), Some(kind));
        }
    }
}
