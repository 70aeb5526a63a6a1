//! netwrix client (being built).
