//! mspbridge core.
