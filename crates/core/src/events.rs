//! Integration event ids (DESIGN §7): one numbered catalogue shared by the service, the store, the
//! console, the API and the metrics, so an id means the same thing everywhere it is shown.
//!
//! 4018, 4019, 4021 and 4022 keep the numbers the Open XDR integration guide gives them. The ticketing
//! events use the 41xx range and the operational ones the 42xx range.

/// IT Glue auto-map failed for a client: duplicated or unmatched email domain.
pub const ITGLUE_CLIENT_AUTOMAP_FAILED: u32 = 4018;
/// IT Glue auto-map failed for a system: no MAC, no configuration with that MAC, or the MAC on
/// several configurations.
pub const ITGLUE_SYSTEM_AUTOMAP_FAILED: u32 = 4019;
/// A report was published to IT Glue.
pub const REPORT_PUBLISHED: u32 = 4021;
/// Publishing a report to IT Glue failed.
pub const REPORT_PUBLISH_FAILED: u32 = 4022;

/// A ConnectWise ticket was created for an incident.
pub const TICKET_CREATED: u32 = 4100;
/// An open ticket was updated with consolidated alerts.
pub const TICKET_UPDATED: u32 = 4101;
/// A closed ticket was reopened by a repeated alert.
pub const TICKET_REOPENED: u32 = 4102;
/// A client reached its ticket flood limit; its flood ticket was opened.
pub const FLOOD_TICKET_OPENED: u32 = 4103;
/// An alert matched no client and is kept as unrouted.
pub const ALERT_UNROUTED: u32 = 4104;
/// An attachment upload failed and the file was written to the missing-attachments folder.
pub const ATTACHMENT_DUMPED: u32 = 4105;
/// An attachment upload failed and will be retried.
pub const ATTACHMENT_UPLOAD_FAILED: u32 = 4106;
/// The activity record of a Netwrix alert could not be fetched.
pub const ENRICHMENT_FAILED: u32 = 4107;

/// A connection to an outside system (ConnectWise, IT Glue, Auditor) failed.
pub const CONNECTION_FAILED: u32 = 4200;
/// A job exhausted its retries and was dead-lettered.
pub const JOB_DEAD_LETTERED: u32 = 4201;
/// A dead-lettered job was queued again by hand.
pub const JOB_RETRIED: u32 = 4202;

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventInfo {
    /// The id.
    pub code: u32,
    /// A short stable name for metrics labels and the API (`ticket_created`).
    pub name: &'static str,
    /// What it means, for the console.
    pub description: &'static str,
    /// Whether it reports a failure (failure events can be switched on to raise an alert).
    pub failure: bool,
}

/// Every event id, in numeric order.
pub const CATALOGUE: &[EventInfo] = &[
    info(ITGLUE_CLIENT_AUTOMAP_FAILED, "itglue_client_automap_failed", "IT Glue auto-map failed for a client: duplicated or unmatched email domain", true),
    info(ITGLUE_SYSTEM_AUTOMAP_FAILED, "itglue_system_automap_failed", "IT Glue auto-map failed for a system: no MAC, no configuration with that MAC, or the MAC on several configurations", true),
    info(REPORT_PUBLISHED, "report_published", "report published to IT Glue", false),
    info(REPORT_PUBLISH_FAILED, "report_publish_failed", "report publish to IT Glue failed", true),
    info(TICKET_CREATED, "ticket_created", "ConnectWise ticket created", false),
    info(TICKET_UPDATED, "ticket_updated", "ConnectWise ticket updated with consolidated alerts", false),
    info(TICKET_REOPENED, "ticket_reopened", "closed ConnectWise ticket reopened by a repeated alert", false),
    info(FLOOD_TICKET_OPENED, "flood_ticket_opened", "ticket flood limit reached; flood ticket opened", false),
    info(ALERT_UNROUTED, "alert_unrouted", "alert matched no client and is kept as unrouted", true),
    info(ATTACHMENT_DUMPED, "attachment_dumped", "attachment upload failed; file written to the missing-attachments folder", true),
    info(ATTACHMENT_UPLOAD_FAILED, "attachment_upload_failed", "attachment upload failed; it will be retried", true),
    info(ENRICHMENT_FAILED, "enrichment_failed", "activity record of a Netwrix alert could not be fetched", true),
    info(CONNECTION_FAILED, "connection_failed", "connection to an outside system failed", true),
    info(JOB_DEAD_LETTERED, "job_dead_lettered", "job exhausted its retries and was dead-lettered", true),
    info(JOB_RETRIED, "job_retried", "dead-lettered job queued again by hand", false),
];

const fn info(
    code: u32,
    name: &'static str,
    description: &'static str,
    failure: bool,
) -> EventInfo {
    EventInfo {
        code,
        name,
        description,
        failure,
    }
}

/// The catalogue entry of `code`.
pub fn describe(code: u32) -> Option<&'static EventInfo> {
    CATALOGUE.iter().find(|event| event.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique_and_ordered() {
        for pair in CATALOGUE.windows(2) {
            assert!(pair[0].code < pair[1].code, "{pair:?}");
        }
        let mut names: Vec<&str> = CATALOGUE.iter().map(|event| event.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len());
    }

    #[test]
    fn design_ids_are_kept() {
        assert_eq!(describe(4018).unwrap().name, "itglue_client_automap_failed");
        assert_eq!(describe(4019).unwrap().name, "itglue_system_automap_failed");
        assert_eq!(describe(4021).unwrap().name, "report_published");
        assert_eq!(describe(4022).unwrap().name, "report_publish_failed");
        assert!(describe(4020).is_none());
    }
}
