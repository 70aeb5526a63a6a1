//! The alert-to-ticket rules of DESIGN §3, one module per rule.
//!
//! Each rule is a pure function of its inputs and the time it is given, returning a decision that
//! carries a human reason (shown in events and the console, asserted in tests). The engine gathers
//! the inputs from the store and ConnectWise, asks the rule, and carries out the decision; nothing
//! here does I/O or reads a clock.

pub mod content;
pub mod correlation;
pub mod flood;
pub mod flush;
pub mod intake;
pub mod naming;
pub mod repeat;
pub mod resolution;
pub mod retention;
pub mod routing;
