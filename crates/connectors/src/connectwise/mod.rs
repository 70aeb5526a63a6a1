//! The ConnectWise Manage REST client (`apis/3.0`): service tickets, notes, attachments and the
//! setup lists (boards, statuses, teams, priorities, companies) that routing needs.
//!
//! It exists so the rest of mspbridge deals in typed records and classified errors instead of
//! URLs, headers and status codes. The facts it encodes (codebase discovery, the `clientId` header,
//! the conditions language, `Link` paging, the `{code,message,errors}` error body) come from the API
//! notes; the client sends each request once (apart from one retry after a codebase change) and
//! leaves retry policy to its callers.

mod client;
pub mod conditions;
pub mod error;
pub mod lookups;
mod operations;
pub mod paging;
pub mod retry;
pub mod settings;
pub mod ticket;

pub use client::{ConnectWiseClient, MAX_PAGE_SIZE};
pub use conditions::{CondOp, CondValue, Conditions};
pub use error::{ApiError, CwError, FieldError};
pub use lookups::{
    Board, BoardStatus, BoardTeam, Company, CompanyInfo, DocumentInfo, LicenseBit, Priority,
    SystemInfo,
};
pub use operations::{EXTERNAL_XREF_MAX_UNITS, MAX_CONDITIONS_IN_URL, SUMMARY_MAX_UNITS};
pub use retry::{with_retries, RetryPolicy};
pub use settings::{ConnectWiseSettings, DEFAULT_ACCEPT_VERSION};
pub use ticket::{
    truncate_utf16, Impact, InfoMap, NewNote, NewTicket, PatchOp, RecordRef, Reference,
    ServiceNote, Severity, Ticket,
};
