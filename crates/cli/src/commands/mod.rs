//! One module per `mspbridge` command; each exposes its clap arguments and a `run` function.

pub mod alert;
pub mod check;
pub mod clients;
pub mod demo;
pub mod events;
pub mod import_netwrix;
pub mod init;
pub mod itglue;
pub mod migrate;
pub mod queue;
pub mod report;
pub mod reroute;
pub mod serve;
pub mod simulate;
pub mod systems;
pub mod test_ticket;
pub mod tickets;
