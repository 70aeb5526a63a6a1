//! mspbridge core: the configuration, templates, durations, secrets and the importer of the vendor's
//! settings files. Everything here is pure (no network, no async runtime) so it compiles and tests in
//! seconds and every other crate can depend on it.

pub mod alert;
pub mod clock;
pub mod config;
pub mod duration;
pub mod events;
pub mod itglue_map;
pub mod netwrix_import;
pub mod rules;
pub mod secret;
pub mod template;
pub mod text;
