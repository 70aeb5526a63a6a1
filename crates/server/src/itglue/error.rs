//! The one error type of the IT Glue import and mapping work, naming the instance concerned.

use mspbridge_connectors::itglue::ItGlueError;
use mspbridge_store::StoreError;

/// What can go wrong importing from IT Glue or mapping to it.
#[derive(Debug, thiserror::Error)]
pub enum ItGlueSyncError {
    /// No `[[itglue]]` instance has that name.
    #[error("no IT Glue instance is called {name:?} (configured: {})", if .configured.is_empty() { "none".to_string() } else { .configured.join(", ") })]
    UnknownInstance {
        /// The name asked for.
        name: String,
        /// The configured names.
        configured: Vec<String>,
    },
    /// The configuration has no `[[itglue]]` section at all.
    #[error("no IT Glue instance is configured; add an [[itglue]] section to the configuration")]
    NoInstances,
    /// An organization filter matched nothing.
    #[error("IT Glue instance {instance:?} has no organization {filter}")]
    OrganizationNotFound {
        /// Instance name.
        instance: String,
        /// The filter, as the user wrote it.
        filter: String,
    },
    /// IT Glue failed.
    #[error("IT Glue instance {instance:?}: {source}")]
    Connector {
        /// Instance name.
        instance: String,
        /// The client's error (never carries the key).
        #[source]
        source: ItGlueError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
