//! itglue simulator (being built).
