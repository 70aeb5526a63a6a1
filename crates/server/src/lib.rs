//! The mspbridge service: the intake HTTP API, the engine that turns accepted alerts into
//! ConnectWise tickets through durable jobs, the IT Glue mapping and report publishing, and the
//! metrics. `mspbridge serve` composes these; tests start them on port 0 against the simulators.

pub mod allocator;
pub mod api;
pub mod console;
pub mod engine;
pub mod events;
pub mod fuzzing;
pub mod intake;
pub mod itglue;
pub mod jobs;
pub mod metrics;
pub mod reports;
pub mod retention;
pub mod service;
pub mod signal;
