//! Converts the vendor add-on's ConnectWiseSettings.xml and ITSMSettings.xml into an mspbridge config.

/// The generated config and what could not be carried over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    /// The generated TOML.
    pub toml: String,
    /// Settings not carried over, each with its path and why.
    pub not_carried: Vec<String>,
}

/// Why the vendor files could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ImportError {
    /// `connectwise-settings` or `itsm-settings`.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}
