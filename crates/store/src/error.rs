//! The one error type of the storage port.
//!
//! Callers branch on the variant, never on the message: `Conflict` and `SettingChanged`
//! mean "reload and retry the rule", `LeaseLost` means "another worker owns this job now,
//! drop the result", `NotFound` and `InvalidTransition` are caller bugs or races worth an
//! event. Messages
//! name the record and what was attempted, and never carry connection strings (a
//! PostgreSQL URL may hold a password).

/// Everything that can go wrong talking to the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or created.
    #[error("cannot open the database {location}: {source}")]
    Open {
        /// A secret-free description of what was opened (a file path, `in-memory`).
        location: String,
        #[source]
        source: sqlx::Error,
    },

    /// The database URL is not one this build understands.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),

    /// The requested backend or feature is not available in this build.
    #[error("unsupported: {0}")]
    Unsupported(String),

    /// Applying the embedded schema migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// A query failed; `action` says what the store was doing.
    #[error("database error while {action}: {source}")]
    Database {
        /// What the store was doing, e.g. "accepting an alert".
        action: &'static str,
        #[source]
        source: sqlx::Error,
    },

    /// The record does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// The kind of record ("alert", "job", "ticket request").
        what: &'static str,
        /// Its identifier.
        id: String,
    },

    /// An optimistic update lost a race: the stored incident changed since it was read.
    #[error("incident {key:?} was changed concurrently (expected version {expected}, stored version {actual:?}); reload and retry")]
    Conflict {
        /// Incident key.
        key: String,
        /// The version the caller based its update on.
        expected: i64,
        /// The version in the store, `None` if the incident does not exist.
        actual: Option<i64>,
    },

    /// A conditional key-value write lost a race: the stored value changed since it was read.
    #[error("setting {key:?} was changed concurrently; reload and retry")]
    SettingChanged {
        /// The key-value key.
        key: String,
    },

    /// The caller's lease on a job expired or was taken over by another worker.
    #[error("job {id}: lease lost (it expired or another worker claimed the job); the result must be discarded")]
    LeaseLost {
        /// Job id.
        id: i64,
    },

    /// A state change that the record's current state does not allow.
    #[error("{what} {id}: cannot change state from {from} to {to}")]
    InvalidTransition {
        /// The kind of record.
        what: &'static str,
        /// Its identifier.
        id: String,
        /// Current state.
        from: String,
        /// Requested state.
        to: String,
    },

    /// The caller passed a value the store cannot represent (e.g. a lease too long).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A stored value could not be decoded; the database was changed outside mspbridge.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Wraps a query error with what the store was doing.
    pub(crate) fn db(action: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Database { action, source }
    }
}
