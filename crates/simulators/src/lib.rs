//! Faithful simulators of ConnectWise Manage, IT Glue and Netwrix Auditor.
//!
//! They are product features (`mspbridge simulate`, `mspbridge demo`) as much as test fixtures: they
//! validate requests as strictly as the real services and can inject faults at run time.

pub mod auditor;
pub mod connectwise;
pub mod itglue;
