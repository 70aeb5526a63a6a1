//! One module per `mspbridge` command; each exposes its clap arguments and a `run` function.

pub mod check;
pub mod clients;
pub mod demo;
pub mod import_netwrix;
pub mod init;
pub mod itglue;
pub mod migrate;
pub mod report;
pub mod simulate;
pub mod systems;
pub mod test_ticket;
