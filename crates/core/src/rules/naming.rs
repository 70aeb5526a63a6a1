//! The name of a Netwrix alert, which Auditor's response action does not pass.
//!
//! The action hands over only an AlertID and a RecordID. The name is, in this order: the one the
//! response action gave (`--name`), the source's `alert_names` entry for the AlertID, and once the
//! activity record is known, a name built from it (`Action ObjectType by Who`, e.g. "Reset password
//! user by ACME\helpdesk.jdoe"). A bare AlertID (a GUID) never names a ticket: without any of these
//! the name says that the record is missing.

use std::collections::BTreeMap;

use crate::alert::{ActivityRecord, Alert, FIELD_NETWRIX_ALERT_ID};
use crate::text::clean_line;

/// The name of a Netwrix alert whose record could not be fetched and which has no mapped name.
pub const UNNAMED_NETWRIX_ALERT: &str = "Netwrix Auditor alert (activity record not available)";

/// `Action ObjectType by Who` from a record, leaving out empty parts; `None` when the record has
/// neither an action nor an object type.
pub fn name_from_record(record: &ActivityRecord) -> Option<String> {
    let action = clean_line(record.action.trim());
    let object_type = clean_line(record.object_type.trim());
    let who = clean_line(record.who.trim());
    let what: Vec<&str> = [action.as_str(), object_type.as_str()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect();
    if what.is_empty() {
        return None;
    }
    let mut name = what.join(" ");
    if !who.is_empty() {
        name.push_str(" by ");
        name.push_str(&who);
    }
    Some(name)
}

/// The name `alert` should carry, when it is a Netwrix alert still named by its bare AlertID:
/// the `alert_names` entry (keys lower-cased), else a name built from its first record, else
/// [`UNNAMED_NETWRIX_ALERT`] when `record_settled` (enrichment is over and gave nothing).
/// `None` when the current name is to be kept (a name given with the alert, or no better one yet).
pub fn netwrix_alert_name(
    alert: &Alert,
    alert_names: &BTreeMap<String, String>,
    record_settled: bool,
) -> Option<String> {
    let alert_id = alert.fields.get(FIELD_NETWRIX_ALERT_ID)?;
    if alert.alert_name.trim() != alert_id.trim() {
        return None;
    }
    if let Some(name) = alert_names.get(&alert_id.trim().to_lowercase()) {
        return Some(name.clone());
    }
    if let Some(name) = alert.first_record().and_then(name_from_record) {
        return Some(name);
    }
    record_settled.then(|| UNNAMED_NETWRIX_ALERT.to_string())
}
