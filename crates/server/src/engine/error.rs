//! The engine's error type: what can stop a pipeline step, as opposed to a ConnectWise failure
//! inside a job, which is classified, retried and finally dead-lettered instead of surfacing here.

use mspbridge_store::StoreError;

/// A pipeline step that could not run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The durable store failed; the step is retried on the next wake-up, nothing is lost.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// An incident kept changing under the step (more concurrent writers than retries).
    #[error("incident {key:?} kept changing concurrently; the alert stays queued and is retried")]
    Contended {
        /// The incident key.
        key: String,
    },
}
