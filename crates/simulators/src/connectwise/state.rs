//! The simulator's configuration and its in-memory records.
//!
//! Everything a ConnectWise instance would persist (tickets, notes, documents) lives here behind one
//! lock, with increasing ids, together with the log of requests that arrived. Tests and the `simulate`
//! command read the same state through `SimulatorState`'s accessors; clients see it only through the API.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use super::faults::Faults;
use super::seed::SeedData;

/// How a simulated ConnectWise site is set up.
#[derive(Clone)]
pub struct SimulatorConfig {
    /// Login company id, the `{company}` of `companyinfo` and of `company+public:private`.
    pub company_id: String,
    pub public_key: String,
    pub private_key: String,
    /// The registered clientId to demand; `None` accepts any non-empty `clientId` header.
    pub client_id: Option<String>,
    /// The site's current codebase as reported by `companyinfo`, for example `v2025_1/`;
    /// `v4_6_release/` is always served as well.
    pub codebase: String,
    /// Answer failed authentication with 404 instead of 401, as cloud sites sometimes do.
    pub cloud_mode_auth_404: bool,
    /// Largest document upload accepted, in bytes; larger ones get 413.
    pub max_document_bytes: usize,
    pub seed: SeedData,
}

impl fmt::Debug for SimulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatorConfig")
            .field("company_id", &self.company_id)
            .field("public_key", &self.public_key)
            .field("private_key", &"<redacted>")
            .field("client_id", &self.client_id)
            .field("codebase", &self.codebase)
            .field("cloud_mode_auth_404", &self.cloud_mode_auth_404)
            .field("max_document_bytes", &self.max_document_bytes)
            .field("seed", &self.seed)
            .finish()
    }
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            company_id: "demo_msp".into(),
            public_key: "demo-public".into(),
            private_key: "demo-private".into(),
            client_id: None,
            codebase: "v4_6_release/".into(),
            cloud_mode_auth_404: false,
            max_document_bytes: 10 * 1024 * 1024,
            seed: SeedData::demo(),
        }
    }
}

/// The codebase alias every ConnectWise site serves.
pub const LEGACY_CODEBASE: &str = "v4_6_release/";

/// One request as it arrived, without headers (so no credentials); `timestamp` is its arrival time
/// and `status` the answer it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    #[serde(serialize_with = "serialize_time")]
    pub timestamp: DateTime<Utc>,
}

fn serialize_time<S: serde::Serializer>(
    time: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// An uploaded document with its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRecord {
    /// The `DocumentInfo` JSON the API returns.
    pub info: Value,
    pub record_type: String,
    pub record_id: i64,
    pub file_name: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

#[derive(Debug)]
pub(crate) struct Records {
    pub tickets: BTreeMap<i64, Value>,
    /// Notes by note id; each carries its `ticketId`.
    pub notes: BTreeMap<i64, Value>,
    pub documents: BTreeMap<i64, DocumentRecord>,
    pub requests: Vec<RequestRecord>,
    next_ticket_id: i64,
    next_note_id: i64,
    next_document_id: i64,
}

impl Records {
    pub fn peek_ticket_id(&self) -> i64 {
        self.next_ticket_id + 1
    }

    pub fn next_ticket_id(&mut self) -> i64 {
        self.next_ticket_id += 1;
        self.next_ticket_id
    }

    pub fn next_note_id(&mut self) -> i64 {
        self.next_note_id += 1;
        self.next_note_id
    }

    pub fn next_document_id(&mut self) -> i64 {
        self.next_document_id += 1;
        self.next_document_id
    }

    pub fn notes_of(&self, ticket_id: i64) -> Vec<Value> {
        self.notes
            .values()
            .filter(|note| note.get("ticketId").and_then(Value::as_i64) == Some(ticket_id))
            .cloned()
            .collect()
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub config: SimulatorConfig,
    pub faults: Faults,
    pub records: Mutex<Records>,
}

/// Cheap-to-clone handle on one simulator's configuration, records and fault switches.
#[derive(Debug, Clone)]
pub struct SimulatorState {
    pub(crate) shared: Arc<Shared>,
}

impl SimulatorState {
    /// Fresh state: no tickets, ids starting above the seed's so they never collide with setup ids.
    pub fn new(config: SimulatorConfig) -> SimulatorState {
        SimulatorState {
            shared: Arc::new(Shared {
                config,
                faults: Faults::default(),
                records: Mutex::new(Records {
                    tickets: BTreeMap::new(),
                    notes: BTreeMap::new(),
                    documents: BTreeMap::new(),
                    requests: Vec::new(),
                    next_ticket_id: 1000,
                    next_note_id: 0,
                    next_document_id: 0,
                }),
            }),
        }
    }

    pub(crate) fn records(&self) -> MutexGuard<'_, Records> {
        self.shared
            .records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn config(&self) -> &SimulatorConfig {
        &self.shared.config
    }

    pub(crate) fn seed(&self) -> &SeedData {
        &self.shared.config.seed
    }

    /// The fault switches.
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// Every ticket, in id order, as the API would return it.
    pub fn tickets(&self) -> Vec<Value> {
        self.records().tickets.values().cloned().collect()
    }

    /// One ticket.
    pub fn ticket(&self, id: i64) -> Option<Value> {
        self.records().tickets.get(&id).cloned()
    }

    /// The notes of one ticket, in id order.
    pub fn notes(&self, ticket_id: i64) -> Vec<Value> {
        self.records().notes_of(ticket_id)
    }

    /// Every uploaded document, in id order.
    pub fn documents(&self) -> Vec<DocumentRecord> {
        self.records().documents.values().cloned().collect()
    }

    /// The requests that arrived, oldest first (simulator control requests excluded; the most recent
    /// 10,000 at most).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.records().requests.clone()
    }

    /// The codebase clients should use now, with its trailing `/`.
    pub fn current_codebase(&self) -> String {
        self.shared
            .faults
            .changed_codebase()
            .unwrap_or_else(|| normalise_codebase(&self.shared.config.codebase))
    }

    /// Whether `/{codebase}/apis/3.0` is served right now.
    pub(crate) fn serves_codebase(&self, codebase: &str) -> bool {
        let asked = normalise_codebase(codebase);
        match self.shared.faults.changed_codebase() {
            Some(moved) => asked.eq_ignore_ascii_case(&moved),
            None => {
                asked.eq_ignore_ascii_case(LEGACY_CODEBASE)
                    || asked.eq_ignore_ascii_case(&normalise_codebase(&self.shared.config.codebase))
            }
        }
    }

    /// `YYYY.N` for the `api-current-version` header, from the seeded `v2025.1.10431`.
    pub(crate) fn api_version(&self) -> String {
        let version = self.seed().system_info.version.trim_start_matches('v');
        version.split('.').take(2).collect::<Vec<_>>().join(".")
    }
}

/// `v2025_1`, `/v2025_1/` and `v2025_1/` all become `v2025_1/`.
pub(crate) fn normalise_codebase(codebase: &str) -> String {
    format!("{}/", codebase.trim_matches('/'))
}

/// Timestamps as ConnectWise writes them: UTC, seconds precision, `Z`.
pub(crate) fn timestamp(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_private_key() {
        let config = SimulatorConfig {
            private_key: "very-secret-value".into(),
            ..SimulatorConfig::default()
        };
        let shown = format!("{config:?} {:?}", SimulatorState::new(config.clone()));
        assert!(!shown.contains("very-secret-value"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn codebases_are_normalised_and_the_legacy_alias_is_always_served() {
        let state = SimulatorState::new(SimulatorConfig {
            codebase: "/v2025_1".into(),
            ..SimulatorConfig::default()
        });
        assert_eq!(state.current_codebase(), "v2025_1/");
        assert!(state.serves_codebase("v4_6_release"));
        assert!(state.serves_codebase("V2025_1"));
        assert!(!state.serves_codebase("v2024_2"));
        assert_eq!(state.api_version(), "2025.1");
    }
}
