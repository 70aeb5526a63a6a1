//! The engine's bookkeeping inside the store's generic records: what an incident's `details` and
//! `buffer` hold, and the per-client flood state kept in the key-value table.
//!
//! An alert leaves the queue in the same transaction that stores its incident change, the flood
//! state and the jobs it implies (`Store::commit_decisions`), so a crash leaves either all of it or
//! none, and an alert still queued after a restart is simply decided again.

use mspbridge_core::alert::Alert;
use mspbridge_core::rules::resolution::GroupState;
use mspbridge_store::AlertId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Incident status while its ticket is being created.
pub const STATUS_PENDING_CREATE: &str = "pending_create";
/// Incident status once it owns a ticket.
pub const STATUS_OPEN: &str = "open";

/// What `Incident::details` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IncidentDetails {
    /// `externalXRef` of the create in flight, if any.
    #[serde(default)]
    pub pending_xref: Option<String>,
    /// The reason of the last decision, for the console.
    #[serde(default)]
    pub reason: Option<String>,
    /// The group of alerts (Alertmanager instances) the ticket is about, firing and resolved.
    #[serde(default, skip_serializing_if = "GroupState::is_empty")]
    pub group: GroupState,
}

impl IncidentDetails {
    /// Reads stored details; unknown or missing content gives empty details.
    pub fn read(value: &Value) -> IncidentDetails {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }

    /// The stored form.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// One alert in a consolidation buffer: only its id. The alert itself (enriched with its activity
/// records) is in the alerts table, so adding to a buffer of thousands of alerts writes a few bytes,
/// not the whole buffer's records again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BufferedAlert {
    /// Store id of the alert.
    pub alert_id: AlertId,
    /// The alert inline; only entries written by earlier versions carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Alert>,
}

impl BufferedAlert {
    /// The entry of alert `alert_id`.
    pub fn new(alert_id: AlertId) -> BufferedAlert {
        BufferedAlert {
            alert_id,
            alert: None,
        }
    }

    /// The stored form: the bare id, the cheapest JSON value to store, read and copy in a
    /// buffer of thousands (an entry with an inline alert keeps its object form).
    pub fn to_value(&self) -> Value {
        match &self.alert {
            None => Value::from(self.alert_id),
            Some(_) => serde_json::to_value(self).unwrap_or(Value::Null),
        }
    }

    /// Reads a buffer entry, a bare id or an object; `None` for an entry that is neither (left
    /// by a newer version).
    pub fn read(value: &Value) -> Option<BufferedAlert> {
        match value {
            Value::Number(id) => id.as_i64().map(BufferedAlert::new),
            _ => serde_json::from_value(value.clone()).ok(),
        }
    }
}

/// The kv key of a client's flood state.
pub fn flood_kv_key(client: &str) -> String {
    format!("flood:{client}")
}
