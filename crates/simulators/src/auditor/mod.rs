//! auditor simulator (being built).
