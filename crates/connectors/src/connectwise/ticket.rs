//! Wire types for service tickets and their notes, as the API sends and accepts them.
//!
//! Responses are read leniently: unknown members are ignored and every member but `id` is optional,
//! because instances differ (some send references as only `{id, name}`, NOTES gotcha 11). Request
//! types are strict the other way round: they hold only members the API accepts on POST, because an
//! unknown or response-only member makes ConnectWise reject the whole body (gotcha 3).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `_info` member: `dateEntered`, `lastUpdated`, `*_href` links and the like.
pub type InfoMap = BTreeMap<String, Value>;

/// A reference to another record as found in responses (`board`, `status`, `company`, …).
///
/// Only `id` is guaranteed; the rest depends on the kind of reference and on the instance. Never
/// derive ids from the `_info` links (gotcha 7).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    #[serde(default, rename = "_info", skip_serializing_if = "Option::is_none")]
    pub info: Option<InfoMap>,
}

/// A reference in a request body: by id (what clients normally send), or by identifier or name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl RecordRef {
    /// `{"id": id}`.
    pub fn id(id: i64) -> RecordRef {
        RecordRef {
            id: Some(id),
            identifier: None,
            name: None,
        }
    }

    /// `{"identifier": "…"}`, the way companies are often named.
    pub fn identifier(identifier: impl Into<String>) -> RecordRef {
        RecordRef {
            id: None,
            identifier: Some(identifier.into()),
            name: None,
        }
    }

    /// `{"name": "…"}`.
    pub fn name(name: impl Into<String>) -> RecordRef {
        RecordRef {
            id: None,
            identifier: None,
            name: Some(name.into()),
        }
    }
}

macro_rules! low_medium_high {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            Low,
            Medium,
            High,
        }

        impl $name {
            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $name::Low => "Low",
                    $name::Medium => "Medium",
                    $name::High => "High",
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text.trim().to_ascii_lowercase().as_str() {
                    "low" => Ok($name::Low),
                    "medium" => Ok($name::Medium),
                    "high" => Ok($name::High),
                    _ => Err(format!(
                        "'{text}' is not a ConnectWise {}; use Low, Medium or High",
                        $what
                    )),
                }
            }
        }
    };
}

low_medium_high!(
    /// A ticket's severity.
    Severity,
    "severity"
);
low_medium_high!(
    /// A ticket's impact.
    Impact,
    "impact"
);

/// A service ticket as returned by the API.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    pub id: i64,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub record_type: Option<String>,
    #[serde(default)]
    pub board: Option<Reference>,
    #[serde(default)]
    pub status: Option<Reference>,
    #[serde(default)]
    pub company: Option<Reference>,
    #[serde(default)]
    pub contact: Option<Reference>,
    #[serde(default)]
    pub team: Option<Reference>,
    #[serde(default)]
    pub owner: Option<Reference>,
    #[serde(default)]
    pub priority: Option<Reference>,
    #[serde(default, rename = "type")]
    pub ticket_type: Option<Reference>,
    #[serde(default)]
    pub sub_type: Option<Reference>,
    #[serde(default)]
    pub item: Option<Reference>,
    #[serde(default)]
    pub source: Option<Reference>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub impact: Option<String>,
    #[serde(default, rename = "externalXRef")]
    pub external_x_ref: Option<String>,
    #[serde(default)]
    pub site_name: Option<String>,
    #[serde(default)]
    pub contact_name: Option<String>,
    #[serde(default)]
    pub contact_email_address: Option<String>,
    #[serde(default)]
    pub required_date: Option<String>,
    #[serde(default)]
    pub budget_hours: Option<f64>,
    #[serde(default)]
    pub closed_flag: Option<bool>,
    #[serde(default)]
    pub closed_date: Option<String>,
    #[serde(default)]
    pub closed_by: Option<String>,
    #[serde(default)]
    pub date_resolved: Option<String>,
    #[serde(default)]
    pub parent_ticket_id: Option<i64>,
    #[serde(default)]
    pub customer_updated_flag: Option<bool>,
    #[serde(default)]
    pub is_in_sla: Option<bool>,
    #[serde(default, rename = "_info")]
    pub info: Option<InfoMap>,
}

impl Ticket {
    /// Whether ConnectWise considers the ticket closed (its status has `closedStatus`).
    pub fn is_closed(&self) -> bool {
        self.closed_flag.unwrap_or(false)
    }

    /// The status id, when the ticket carries a status.
    pub fn status_id(&self) -> Option<i64> {
        self.status.as_ref().map(|status| status.id)
    }
}

/// The body of `POST /service/tickets`: only members the API accepts on create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewTicket {
    /// At most 100 UTF-16 units; [`super::ConnectWiseClient::create_ticket`] cuts longer ones.
    pub summary: String,
    pub company: RecordRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board: Option<RecordRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RecordRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<RecordRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<RecordRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<RecordRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<RecordRef>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub ticket_type: Option<RecordRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<RecordRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<Impact>,
    /// The stable key that makes creates idempotent (at most 100 characters).
    #[serde(
        default,
        rename = "externalXRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_x_ref: Option<String>,
    /// Becomes the first discussion note; never returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_description: Option<String>,
    /// Becomes the first internal note; never returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_internal_analysis: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_resolution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_email_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_name: Option<String>,
    /// `false` skips ConnectWise's notification workflow for this create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_notifications: Option<bool>,
}

impl NewTicket {
    /// A service ticket for `company` with nothing else set.
    pub fn new(summary: impl Into<String>, company: RecordRef) -> NewTicket {
        NewTicket {
            summary: summary.into(),
            company,
            record_type: Some("ServiceTicket".to_string()),
            board: None,
            status: None,
            priority: None,
            team: None,
            contact: None,
            owner: None,
            ticket_type: None,
            source: None,
            severity: None,
            impact: None,
            external_x_ref: None,
            initial_description: None,
            initial_internal_analysis: None,
            initial_resolution: None,
            contact_name: None,
            contact_email_address: None,
            site_name: None,
            process_notifications: None,
        }
    }
}

/// One operation of a `PATCH` body (a JSON-Patch-like array).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchOp {
    pub op: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

impl PatchOp {
    /// `{"op":"replace","path":path,"value":value}`; for references pass `json!({"id": n})`.
    pub fn replace(path: impl Into<String>, value: Value) -> PatchOp {
        PatchOp {
            op: "replace".to_string(),
            path: path.into(),
            value: Some(value),
        }
    }

    /// `{"op":"add","path":path,"value":value}`.
    pub fn add(path: impl Into<String>, value: Value) -> PatchOp {
        PatchOp {
            op: "add".to_string(),
            path: path.into(),
            value: Some(value),
        }
    }

    /// `{"op":"remove","path":path}`.
    pub fn remove(path: impl Into<String>) -> PatchOp {
        PatchOp {
            op: "remove".to_string(),
            path: path.into(),
            value: None,
        }
    }
}

/// A ticket note as returned by `/service/tickets/{id}/notes`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceNote {
    pub id: i64,
    #[serde(default)]
    pub ticket_id: Option<i64>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub detail_description_flag: Option<bool>,
    #[serde(default)]
    pub internal_analysis_flag: Option<bool>,
    #[serde(default)]
    pub resolution_flag: Option<bool>,
    #[serde(default)]
    pub issue_flag: Option<bool>,
    #[serde(default)]
    pub member: Option<Reference>,
    #[serde(default)]
    pub contact: Option<Reference>,
    #[serde(default)]
    pub customer_updated_flag: Option<bool>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub internal_flag: Option<bool>,
    #[serde(default)]
    pub external_flag: Option<bool>,
    #[serde(default, rename = "_info")]
    pub info: Option<InfoMap>,
}

/// The body of `POST /service/tickets/{id}/notes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewNote {
    pub text: String,
    pub detail_description_flag: bool,
    pub internal_analysis_flag: bool,
    pub resolution_flag: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_notifications: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_updated_flag: Option<bool>,
}

impl NewNote {
    /// A discussion note, visible to the customer.
    pub fn discussion(text: impl Into<String>) -> NewNote {
        NewNote {
            text: text.into(),
            detail_description_flag: true,
            internal_analysis_flag: false,
            resolution_flag: false,
            process_notifications: None,
            customer_updated_flag: None,
        }
    }

    /// An internal analysis note, visible to the MSP only.
    pub fn internal(text: impl Into<String>) -> NewNote {
        NewNote {
            text: text.into(),
            detail_description_flag: false,
            internal_analysis_flag: true,
            resolution_flag: false,
            process_notifications: None,
            customer_updated_flag: None,
        }
    }
}

/// Cuts text to at most a number of UTF-16 code units on a character boundary: ConnectWise counts
/// lengths the .NET way, so a summary of 100 `chars()` with emoji can still be too long
/// (gotcha 1). The one definition is core's.
pub use mspbridge_core::template::truncate_utf16;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn new_ticket_sends_only_what_is_set() {
        let mut ticket = NewTicket::new("Disk full on SRV01", RecordRef::identifier("XYZCorp"));
        ticket.board = Some(RecordRef::id(1));
        ticket.severity = Some(Severity::Medium);
        ticket.impact = Some(Impact::Low);
        ticket.external_x_ref = Some("mspbridge:abc".into());
        ticket.initial_description = Some("first note".into());
        assert_eq!(
            serde_json::to_value(&ticket).unwrap(),
            json!({
                "summary": "Disk full on SRV01",
                "company": {"identifier": "XYZCorp"},
                "recordType": "ServiceTicket",
                "board": {"id": 1},
                "severity": "Medium",
                "impact": "Low",
                "externalXRef": "mspbridge:abc",
                "initialDescription": "first note"
            })
        );
    }

    #[test]
    fn tickets_with_partial_references_and_unknown_members_are_read() {
        let ticket: Ticket = serde_json::from_value(json!({
            "id": 40789,
            "summary": "Maintenance",
            "board": {"id": 35, "name": "Support", "_info": {"board_href": "https://x/35"}},
            "status": {"id": 784},
            "priority": {"id": 4, "name": "P2", "sort": 2, "level": "Medium"},
            "someFutureMember": {"anything": [1, 2]},
            "closedFlag": false,
            "_info": {"dateEntered": "2024-01-01T00:00:00Z"}
        }))
        .unwrap();
        assert_eq!(ticket.id, 40789);
        assert_eq!(ticket.status_id(), Some(784));
        assert!(!ticket.is_closed());
        assert_eq!(ticket.priority.unwrap().level.as_deref(), Some("Medium"));
    }

    #[test]
    fn patch_ops_serialize_like_json_patch() {
        let ops = [
            PatchOp::replace("status", json!({"id": 17})),
            PatchOp::remove("owner"),
        ];
        assert_eq!(
            serde_json::to_value(ops).unwrap(),
            json!([
                {"op": "replace", "path": "status", "value": {"id": 17}},
                {"op": "remove", "path": "owner"}
            ])
        );
    }

    #[test]
    fn severity_parses_case_insensitively_and_names_the_choices() {
        assert_eq!("high".parse::<Severity>().unwrap(), Severity::High);
        let err = "urgent".parse::<Impact>().unwrap_err();
        assert!(err.contains("Low, Medium or High"), "{err}");
    }

    #[test]
    fn truncation_counts_utf16_units_on_char_boundaries() {
        assert_eq!(truncate_utf16("short", 100), "short");
        assert_eq!(truncate_utf16(&"a".repeat(150), 100).len(), 100);
        let emoji = "😀".repeat(60);
        let cut = truncate_utf16(&emoji, 100);
        assert_eq!(cut.chars().count(), 50);
        assert_eq!(truncate_utf16("ab😀", 3), "ab");
    }
}
