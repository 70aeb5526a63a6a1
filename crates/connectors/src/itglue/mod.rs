//! The IT Glue client: reads organizations, contacts and configurations for auto-mapping, and
//! publishes security reports as flexible assets with attachments and related items.
//!
//! IT Glue speaks a loose JSON:API dialect (string ids, kebab-case attributes, paging in `meta`,
//! error bodies in several shapes) and throttles each account at 3,000 requests per 5 minutes. This
//! module hides both: [`ItGlueClient`] pages through lists, keeps a shared local request budget,
//! honours 429s, and turns every failure into an [`ItGlueError`] with an
//! [`ErrorClass`](crate::ErrorClass) and a message an operator can act on.

mod assets;
mod budget;
mod client;
mod directory;
mod error;
#[cfg(test)]
mod fixture_tests;
mod jsonapi;
mod links;
mod model;
mod publish;
mod retry;
mod settings;

pub use assets::{
    upload_trait, NewFlexibleAsset, NewFlexibleAssetField, NewFlexibleAssetType, ReportAssetType,
    ReportContent, EXPIRY_DATE_FIELD, LARGE_UPLOAD_BYTES, REPORT_FILE_FIELD,
    REPORT_GENERATION_DATE_FIELD, REPORT_NAME_FIELD,
};
pub use budget::{BudgetTracker, RequestBudget};
pub use client::{ItGlueClient, PageRead, JSON_API, MIN_FALLBACK_PAGE_SIZE};
pub use directory::DirectoryPages;
pub use error::{describe_error_body, ItGlueError};
pub use jsonapi::{escape_filter_value, Filters};
pub use links::{ResourceKind, ResourceRef};
pub use model::{
    Attachment, Configuration, ConfigurationInterface, ConnectionCheck, Contact, ContactEmail,
    FieldKind, FlexibleAsset, FlexibleAssetDetails, FlexibleAssetField, FlexibleAssetType,
    Organization, RelatedItem, RelatedItemOutcome,
};
pub use publish::PublishedReport;
pub use retry::{with_retries, RetryPolicy};
pub use settings::{ItGlueBase, ItGlueRegion, ItGlueSettings, DEFAULT_TIMEOUT, MAX_PAGE_SIZE};
