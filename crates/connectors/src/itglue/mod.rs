//! itglue client (being built).
