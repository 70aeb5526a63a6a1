//! Clients for the outside systems mspbridge speaks to, one module per system.
//!
//! Each client turns every failure into an error that carries an [`ErrorClass`], so the durable job
//! runner decides to retry, wait, or give up by matching on the class, never on message text.

pub mod backoff;
pub mod connectwise;
pub mod error;
pub mod itglue;
pub mod netwrix;

pub use backoff::Backoff;
pub use error::ErrorClass;
