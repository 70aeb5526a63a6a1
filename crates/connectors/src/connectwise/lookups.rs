//! Wire types for the setup records mspbridge reads to route tickets (boards, statuses, teams,
//! priorities, companies), for attachments, and for the two "who are you" answers (`/system/info`
//! and the unauthenticated `/login/companyinfo`).
//!
//! As with tickets, every member but `id` is optional and unknown members are ignored, so an
//! instance that sends less (or more) than the spec still reads.

use serde::{Deserialize, Serialize};

use super::ticket::{InfoMap, Reference};

/// A service board.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Board {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub location: Option<Reference>,
    #[serde(default)]
    pub department: Option<Reference>,
    #[serde(default)]
    pub inactive_flag: Option<bool>,
    #[serde(default)]
    pub project_flag: Option<bool>,
    #[serde(default, rename = "_info")]
    pub info: Option<InfoMap>,
}

/// A status of one board; `closed_status` says whether moving a ticket there closes it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BoardStatus {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub board: Option<Reference>,
    #[serde(default)]
    pub sort_order: Option<i64>,
    #[serde(default)]
    pub display_on_board: Option<bool>,
    #[serde(default)]
    pub inactive: Option<bool>,
    #[serde(default)]
    pub closed_status: Option<bool>,
    #[serde(default)]
    pub default_flag: Option<bool>,
    #[serde(default)]
    pub escalation_status: Option<String>,
    #[serde(default, rename = "_info")]
    pub info: Option<InfoMap>,
}

impl BoardStatus {
    /// Whether a ticket in this status is closed.
    pub fn is_closed(&self) -> bool {
        self.closed_status.unwrap_or(false)
    }
}

/// A team of one board.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BoardTeam {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub team_leader: Option<Reference>,
    #[serde(default)]
    pub members: Option<Vec<i64>>,
    #[serde(default)]
    pub default_flag: Option<bool>,
    #[serde(default)]
    pub board_id: Option<i64>,
    #[serde(default, rename = "_info")]
    pub info: Option<InfoMap>,
}

/// A ticket priority. Some instances send only `{id, name}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Priority {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub sort_order: Option<i64>,
    #[serde(default)]
    pub default_flag: Option<bool>,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default, rename = "_info")]
    pub info: Option<InfoMap>,
}

/// A company (an MSP client, or the MSP itself).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Company {
    pub id: i64,
    #[serde(default)]
    pub identifier: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<Reference>,
    #[serde(default)]
    pub types: Option<Vec<Reference>>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub deleted_flag: Option<bool>,
    #[serde(default, rename = "_info")]
    pub info: Option<InfoMap>,
}

/// One licensed feature in `/system/info`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseBit {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub active_flag: Option<bool>,
}

/// The answer of `GET /system/info`; a cheap authenticated call that proves the settings work.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemInfo {
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub is_cloud: Option<bool>,
    #[serde(default)]
    pub server_time_zone: Option<String>,
    #[serde(default)]
    pub license_bits: Option<Vec<LicenseBit>>,
    #[serde(default)]
    pub cloud_region: Option<String>,
}

/// An attachment (`/system/documents`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentInfo {
    pub id: i64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub server_file_name: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub link_flag: Option<bool>,
    #[serde(default)]
    pub image_flag: Option<bool>,
    #[serde(default)]
    pub public_flag: Option<bool>,
    #[serde(default)]
    pub read_only_flag: Option<bool>,
    #[serde(default)]
    pub size: Option<i64>,
    #[serde(default)]
    pub url_flag: Option<bool>,
    #[serde(default)]
    pub created_on_date: Option<String>,
    #[serde(default)]
    pub document_type: Option<Reference>,
    #[serde(default)]
    pub guid: Option<String>,
    #[serde(default, rename = "_info")]
    pub info: Option<InfoMap>,
}

/// The unauthenticated answer of `GET /login/companyinfo/{company}` (PascalCase on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompanyInfo {
    #[serde(default)]
    pub company_name: Option<String>,
    /// The path segment of the API, ending in `/`, e.g. `v2025_1/`.
    #[serde(default)]
    pub codebase: Option<String>,
    #[serde(default)]
    pub version_code: Option<String>,
    #[serde(default)]
    pub version_number: Option<String>,
    #[serde(default, rename = "CompanyID")]
    pub company_id: Option<String>,
    #[serde(default)]
    pub is_cloud: Option<bool>,
    #[serde(default)]
    pub site_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn company_info_reads_pascal_case() {
        let info: CompanyInfo = serde_json::from_value(json!({
            "CompanyName": "foobar", "Codebase": "v2017_3/", "VersionCode": "v2017.3",
            "VersionNumber": "v4.6.47174", "CompanyID": "CW", "IsCloud": true, "Extra": 1
        }))
        .unwrap();
        assert_eq!(info.codebase.as_deref(), Some("v2017_3/"));
        assert_eq!(info.company_id.as_deref(), Some("CW"));
        assert_eq!(info.is_cloud, Some(true));
    }

    #[test]
    fn board_status_reads_the_fixture() {
        let status: BoardStatus = serde_json::from_value(json!({
            "id": 1, "name": "New", "board": {"id": 1}, "sortOrder": 0, "displayOnBoard": true,
            "inactive": false, "closedStatus": false, "timeEntryNotAllowed": false
        }))
        .unwrap();
        assert!(!status.is_closed());
        assert_eq!(status.board.unwrap().id, 1);
    }

    #[test]
    fn priority_with_only_id_and_name_reads() {
        let priority: Priority = serde_json::from_value(json!({"id": 4, "name": "P4"})).unwrap();
        assert_eq!(priority.name.as_deref(), Some("P4"));
        assert_eq!(priority.color, None);
    }
}
