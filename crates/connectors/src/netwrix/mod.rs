//! Client for the Netwrix Auditor Integration API.
//!
//! mspbridge enriches every Netwrix alert with the activity record that triggered it (DESIGN §3 rule 2).
//! The Integration API has no get-by-id endpoint, so records are found with a RID search; this module
//! owns the wire model (JSON and XML, tolerant of field order and of the documented optional parts),
//! the HTTP client with Basic auth and certificate pinning for Auditor's self-signed certificate, and the
//! error type whose classification drives the retry policy.

mod client;
mod error;
mod filter;
mod record;
mod retry;
mod settings;
mod tls;
mod xml;

pub use client::AuditorClient;
pub use error::{AuditorError, AuditorErrorEntry};
pub use filter::{FilterField, FilterList, FilterOperator, WhenFilter};
pub use record::{
    parse_error_list, parse_record_page, ActivityRecord, Detail, MonitoringPlan, RecordPage,
    WireFormat,
};
pub use retry::{with_retries, RetryPolicy};
pub use settings::{
    AuditorPassword, AuditorSettings, TlsMode, DEFAULT_RECORDS_PER_REQUEST, DEFAULT_TIMEOUT,
    MAX_RECORDS_PER_REQUEST,
};
