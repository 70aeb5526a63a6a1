//! itglue (being built).
