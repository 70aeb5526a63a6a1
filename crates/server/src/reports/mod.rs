//! Security summary reports and their publishing to IT Glue (DESIGN §4.6, §4.7).
//!
//! mspbridge writes per-client reports itself, from the alerts and ticket events it keeps (alerts by
//! type and per day, top accounts and systems, tickets opened/updated/reopened), as one
//! self-contained HTML file with inline SVG charts, and also accepts external HTML reports. Reports
//! are generated on demand or on the `[[reports]]` schedules, kept in the store, and published to
//! IT Glue by durable jobs as flexible assets linked to the configurations of the systems they
//! talk about.
//!
//! * [`data`] counts what a report shows; [`html`] and [`charts`] render it.
//! * [`generate`] makes and keeps reports, generated or external.
//! * [`publish`] refuses or queues publishing and runs the `publish_report` jobs.
//! * [`schedule`] generates scheduled reports once per cluster.
//! * Failure events (4022) raise their alerts through [`crate::events`].
//! * [`workers`] runs the publish worker and the scheduler inside `serve`.

pub mod charts;
pub mod data;
pub mod generate;
pub mod html;
pub mod mapping;
pub mod publish;
pub mod schedule;
pub mod workers;

use mspbridge_store::{ReportId, StoreError};

pub use data::{ReportData, ReportPeriod};
pub use generate::{
    generate_report, store_external_report, validate_external_html, GenerateRequest,
    DEFAULT_EXPIRES_AFTER, DEFAULT_REPORT_NAME, MAX_EXTERNAL_REPORT_BYTES,
};
pub use publish::{
    request_publish, run_due_publish_jobs, ItGlueClients, PublishDeps, PublishPass, PublishRequest,
};
pub use schedule::{run_due_schedules, run_report_scheduler};
pub use workers::ReportWorkers;

/// Why a report could not be made or handed to publishing.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The client is not in the configuration.
    #[error("client {client:?} is not configured ({known})")]
    UnknownClient {
        /// The name asked for.
        client: String,
        /// The clients that exist, for the message.
        known: String,
    },
    /// An external report was refused.
    #[error("the report is not usable HTML: {0}")]
    InvalidHtml(String),
    /// A request was malformed (empty name, empty period).
    #[error("{0}")]
    InvalidRequest(String),
    /// No report has this id.
    #[error("report {0} does not exist")]
    NotFound(ReportId),
    /// A switched-on failure event could not be raised as an alert.
    #[error("event {code} could not raise its alert: {detail}")]
    RaiseAlert {
        /// The event id.
        code: u32,
        /// What went wrong.
        detail: String,
    },
}
