//! connectwise simulator (being built).
