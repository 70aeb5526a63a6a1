//! The HTTP API of a real `Service` started on port 0 with a temporary SQLite file, pointed at
//! the ConnectWise and Netwrix Auditor simulators, exercised over loopback HTTP.

#[path = "api/health.rs"]
mod health;
#[path = "api/hygiene.rs"]
mod hygiene;
#[path = "api/intake.rs"]
mod intake;
#[path = "api/manage.rs"]
mod manage;
#[path = "api/support.rs"]
mod support;
