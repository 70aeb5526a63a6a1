//! The alert every intake produces and every rule reads.
//!
//! Netwrix Auditor response actions, the native webhook and Alertmanager all describe an alert
//! differently; each intake maps its input onto this one shape (DESIGN §1) so the rules, the
//! templates and the engine deal with a single type. The activity record mirrors the Netwrix Auditor
//! record, which is the richest of the three and the one the ticket templates are written for.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::template::{Template, TICKET_PLACEHOLDERS};

/// `name=value` lines.
fn lines(pairs: Vec<(&str, &str)>) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Free field holding a Netwrix alert's AlertID (the first id of the response action).
pub const FIELD_NETWRIX_ALERT_ID: &str = "AlertID";
/// Free field holding a Netwrix alert's RecordID (the RID of the activity record to fetch).
pub const FIELD_NETWRIX_RECORD_ID: &str = "RecordID";

/// Free field set when a Netwrix alert went on without its activity record: why the record
/// could not be fetched. Its ticket says so instead of showing blank record fields.
pub const FIELD_RECORD_UNAVAILABLE: &str = "RecordUnavailable";

/// Free field holding whether an Alertmanager alert is `firing` or `resolved`.
pub const FIELD_STATUS: &str = "status";

/// Free fields an intake adds about the delivery itself; they are fields, not labels, so
/// `%Labels%` leaves them out.
pub const DELIVERY_FIELDS: &[&str] = &[
    FIELD_STATUS,
    FIELD_NETWRIX_ALERT_ID,
    FIELD_NETWRIX_RECORD_ID,
    "fingerprint",
    FIELD_GENERATOR_URL,
    FIELD_SILENCE_URL,
    FIELD_GROUP_INSTANCES,
    "receiver",
];

/// Free field with the Alertmanager link that opens a silence for the alert's labels.
pub const FIELD_SILENCE_URL: &str = "silence_url";
/// Free field with the link to the alert's expression (Alertmanager's `generatorURL`).
pub const FIELD_GENERATOR_URL: &str = "generator_url";
/// Free field listing the instances of an Alertmanager group that fired in one notification.
pub const FIELD_GROUP_INSTANCES: &str = "group_instances";

/// Prefix of free fields holding annotations (`annotations.summary`).
pub const ANNOTATION_PREFIX: &str = "annotations.";
/// Prefix a sender may give label fields (`labels.customer`); a plain `customer` field is a label
/// too.
pub const LABEL_PREFIX: &str = "labels.";

/// One alert occurrence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Configured source name.
    pub source: String,
    /// The source's own id for this occurrence; `(source, source_alert_id)` is unique.
    pub source_alert_id: String,
    /// The alert's type, e.g. `Password Reset`.
    pub alert_name: String,
    /// Client, when the intake already knows it.
    #[serde(default)]
    pub client: Option<String>,
    /// When it happened, per the source.
    pub occurred_at: DateTime<Utc>,
    /// When mspbridge received it.
    pub received_at: DateTime<Utc>,
    /// Activity records, possibly none (Netwrix alerts get theirs at enrichment).
    #[serde(default)]
    pub records: Vec<ActivityRecord>,
    /// Free fields (labels, annotations, the Netwrix ids).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// The Netwrix Auditor activity record shape every intake maps onto.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ActivityRecord {
    /// Account that acted (`DOMAIN\user` or UPN).
    #[serde(default)]
    pub who: String,
    /// What it did (`Modified`, `Failed Logon`, …).
    #[serde(default)]
    pub action: String,
    /// Kind of object (`user`, `Mailbox`, …).
    #[serde(default)]
    pub object_type: String,
    /// The object's path.
    #[serde(default)]
    pub what: String,
    /// When, as the source wrote it.
    #[serde(default)]
    pub when: String,
    /// Server, DC or host where it happened.
    #[serde(default, rename = "where")]
    pub where_: String,
    /// Workstation it came from.
    #[serde(default)]
    pub workstation: Option<String>,
    /// Changed properties.
    #[serde(default)]
    pub details: Vec<Detail>,
    /// Data source (`Active Directory`, …).
    #[serde(default)]
    pub data_source: Option<String>,
    /// Monitoring plan name.
    #[serde(default)]
    pub monitoring_plan: Option<String>,
    /// Item name, e.g. `acme.example (Domain)`.
    #[serde(default)]
    pub item: Option<String>,
}

/// One changed property of an activity record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Detail {
    /// Property name.
    pub property: String,
    /// Value before the change.
    #[serde(default)]
    pub before: Option<String>,
    /// Value after the change.
    #[serde(default)]
    pub after: Option<String>,
}

impl Detail {
    /// `Property: before -> after`, with `(none)` for a missing side.
    pub fn flattened(&self) -> String {
        format!(
            "{}: {} -> {}",
            self.property,
            self.before.as_deref().unwrap_or("(none)"),
            self.after.as_deref().unwrap_or("(none)")
        )
    }
}

impl ActivityRecord {
    /// The DetailList as the `%Details%` placeholder shows it: one `Property: before -> after`
    /// line per detail.
    pub fn details_flattened(&self) -> String {
        self.details
            .iter()
            .map(Detail::flattened)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The record as a block of `Name: value` lines, for notes and attachments.
    pub fn to_text(&self) -> String {
        let mut lines = vec![
            format!("Who: {}", self.who),
            format!("Action: {}", self.action),
            format!("Object type: {}", self.object_type),
            format!("What: {}", self.what),
            format!("When: {}", self.when),
            format!("Where: {}", self.where_),
        ];
        let optional = [
            ("Workstation", &self.workstation),
            ("Data source", &self.data_source),
            ("Monitoring plan", &self.monitoring_plan),
            ("Item", &self.item),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                lines.push(format!("{name}: {value}"));
            }
        }
        if !self.details.is_empty() {
            lines.push("Details:".to_string());
            for detail in &self.details {
                lines.push(format!("  {}", detail.flattened()));
            }
        }
        lines.join("\n")
    }
}

impl Alert {
    /// The source alert id of a Netwrix response action: `{AlertID}/{RecordID}`.
    pub fn netwrix_source_alert_id(alert_id: &str, record_id: &str) -> String {
        format!("{alert_id}/{record_id}")
    }

    /// A Netwrix alert as the response action hands it over: only its two ids, the record to be
    /// fetched from the Integration API at enrichment. `alert_name` is the alert's name when the
    /// caller knows it, else the AlertID.
    pub fn netwrix(
        source: &str,
        alert_id: &str,
        record_id: &str,
        alert_name: Option<&str>,
        received_at: DateTime<Utc>,
    ) -> Alert {
        let mut fields = BTreeMap::new();
        fields.insert(FIELD_NETWRIX_ALERT_ID.to_string(), alert_id.to_string());
        fields.insert(FIELD_NETWRIX_RECORD_ID.to_string(), record_id.to_string());
        Alert {
            source: source.to_string(),
            source_alert_id: Alert::netwrix_source_alert_id(alert_id, record_id),
            alert_name: alert_name.unwrap_or(alert_id).to_string(),
            client: None,
            occurred_at: received_at,
            received_at,
            records: Vec::new(),
            fields,
        }
    }

    /// Whether the alert says a condition ended (Alertmanager's `resolved`) rather than that
    /// something happened.
    pub fn is_resolution(&self) -> bool {
        self.fields
            .get(FIELD_STATUS)
            .is_some_and(|status| status == "resolved")
    }

    /// The RID to fetch for a Netwrix alert, if it has one.
    pub fn netwrix_record_id(&self) -> Option<&str> {
        self.fields
            .get(FIELD_NETWRIX_RECORD_ID)
            .map(String::as_str)
            .filter(|rid| !rid.trim().is_empty())
    }

    /// Why the activity record of this alert could not be fetched, when it went on without it.
    pub fn record_unavailable(&self) -> Option<&str> {
        if !self.records.is_empty() {
            return None;
        }
        self.fields
            .get(FIELD_RECORD_UNAVAILABLE)
            .map(String::as_str)
    }

    /// The first activity record, which the templates read.
    pub fn first_record(&self) -> Option<&ActivityRecord> {
        self.records.first()
    }

    /// The value of a template placeholder (DESIGN §3.6) for this alert: alert-level names from
    /// the alert, record-level names from its first record (falling back to a free field of the
    /// same name, so webhook alerts without records still fill templates), `Computer` from `host`.
    /// `None` for a name this alert has no value for.
    pub fn placeholder_value(&self, name: &str, host: &str) -> Option<String> {
        let record = self.first_record();
        let unavailable = self.record_unavailable().is_some();
        let from_record = |pick: fn(&ActivityRecord) -> Option<String>| {
            record
                .and_then(pick)
                .filter(|value| !value.is_empty())
                .or_else(|| self.fields.get(name).cloned())
                // A record that could not be fetched says so in every field it would fill.
                .or_else(|| unavailable.then(|| "(activity record not fetched)".to_string()))
        };
        match name {
            "AlertName" => Some(self.alert_name.clone()),
            "Client" => self.client.clone(),
            "Source" => Some(self.source.clone()),
            "Computer" => Some(host.to_string()),
            "Who" => from_record(|r| Some(r.who.clone())),
            "Action" => from_record(|r| Some(r.action.clone())),
            "ObjectType" => from_record(|r| Some(r.object_type.clone())),
            "What" => from_record(|r| Some(r.what.clone())),
            "When" => from_record(|r| Some(r.when.clone())),
            "Where" => from_record(|r| Some(r.where_.clone())),
            "Workstation" => from_record(|r| r.workstation.clone()),
            "Details" => from_record(|r| Some(r.details_flattened())),
            "DataSource" => from_record(|r| r.data_source.clone()),
            "MonitoringPlanName" => from_record(|r| r.monitoring_plan.clone()),
            "Item" => from_record(|r| r.item.clone()),
            "Labels" => Some(lines(self.labels())),
            "Annotations" => Some(lines(self.annotations())),
            other => {
                if let Some(label) = other.strip_prefix("Label:") {
                    return self.label(label).map(str::to_string);
                }
                if let Some(annotation) = other.strip_prefix("Annotation:") {
                    return self.annotation(annotation).map(str::to_string);
                }
                if let Some(field) = other.strip_prefix("Field:") {
                    return self.field(field, host);
                }
                self.fields.get(other).cloned()
            }
        }
    }

    /// The label `name`: the field `labels.<name>`, else the plain field `<name>` (how the
    /// Alertmanager intake stores labels).
    pub fn label(&self, name: &str) -> Option<&str> {
        self.fields
            .get(&format!("{LABEL_PREFIX}{name}"))
            .or_else(|| {
                (!DELIVERY_FIELDS.contains(&name) && !name.contains('.'))
                    .then(|| self.fields.get(name))
                    .flatten()
            })
            .map(String::as_str)
    }

    /// The annotation `name` (the field `annotations.<name>`).
    pub fn annotation(&self, name: &str) -> Option<&str> {
        self.fields
            .get(&format!("{ANNOTATION_PREFIX}{name}"))
            .map(String::as_str)
    }

    /// The free field `name`, else the placeholder of that name (`Who`, `Action`, …), so a
    /// route or template can reach record values too.
    pub fn field(&self, name: &str, host: &str) -> Option<String> {
        if let Some(value) = self.fields.get(name) {
            return Some(value.clone());
        }
        TICKET_PLACEHOLDERS
            .iter()
            .find(|known| {
                known.eq_ignore_ascii_case(name) && !matches!(**known, "Labels" | "Annotations")
            })
            .and_then(|known| self.placeholder_value(known, host))
    }

    /// Every label as (name, value), by name: the `labels.` fields and the plain fields that are
    /// neither annotations nor delivery fields.
    pub fn labels(&self) -> Vec<(&str, &str)> {
        let mut labels: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, value) in &self.fields {
            if let Some(label) = name.strip_prefix(LABEL_PREFIX) {
                labels.insert(label, value);
            } else if !name.contains('.') && !DELIVERY_FIELDS.contains(&name.as_str()) {
                labels.entry(name).or_insert(value);
            }
        }
        labels.into_iter().collect()
    }

    /// Every annotation as (name, value), by name.
    pub fn annotations(&self) -> Vec<(&str, &str)> {
        self.fields
            .iter()
            .filter_map(|(name, value)| {
                name.strip_prefix(ANNOTATION_PREFIX)
                    .map(|annotation| (annotation, value.as_str()))
            })
            .collect()
    }

    /// The value a route's match or `client_from` names: `source`, `alert_name` (or
    /// `alertname`), `client`, `labels.NAME`, `annotations.NAME` or `fields.NAME`.
    pub fn subject_value(&self, subject: &str) -> Option<String> {
        match subject {
            "source" => Some(self.source.clone()),
            "alert_name" | "alertname" => Some(self.alert_name.clone()),
            "client" => self.client.clone(),
            other => {
                if let Some(label) = other.strip_prefix(LABEL_PREFIX) {
                    return self.label(label).map(str::to_string);
                }
                if let Some(annotation) = other.strip_prefix(ANNOTATION_PREFIX) {
                    return self.annotation(annotation).map(str::to_string);
                }
                other
                    .strip_prefix("fields.")
                    .and_then(|field| self.field(field, ""))
            }
        }
    }

    /// Renders `template` over this alert.
    pub fn render(&self, template: &Template, host: &str) -> String {
        template.render(|name| self.placeholder_value(name, host))
    }
}

/// What makes two alerts "similar" (DESIGN §1): the incident key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AlertKey(String);

impl AlertKey {
    /// The key of `alert` once routed to `client`: `{client}/{alert name}` by default, or
    /// `{client}/{rendered template}` with a source's `alert_key` template. The client is always
    /// part of the key because one incident owns one ticket in one client's company.
    pub fn for_alert(alert: &Alert, client: &str, template: Option<&Template>) -> AlertKey {
        let similar = match template {
            // The host is not part of an alert's identity; render it empty.
            Some(template) => alert.render(template, ""),
            None => alert.alert_name.clone(),
        };
        AlertKey(format!("{client}/{similar}"))
    }

    /// The key of a client's flood ticket incident.
    pub fn flood(client: &str) -> AlertKey {
        AlertKey(format!("flood:{client}"))
    }

    /// Wraps a stored key.
    pub fn from_stored(key: impl Into<String>) -> AlertKey {
        AlertKey(key.into())
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AlertKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
