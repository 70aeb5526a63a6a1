//! connectwise client (being built).
