//! The setup data a ConnectWise Manage instance already holds before the product talks to it.
//!
//! Boards with their statuses and teams, priorities, companies, severities, impacts and the system
//! information are configured by an MSP's administrators, not created through the API, so the simulator
//! is seeded with them: from `SeedData::demo()` for the demo, or from a JSON file (`--data FILE`) for
//! tests and trials against a particular layout.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Everything the simulator starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedData {
    pub system_info: SystemInfoSeed,
    pub boards: Vec<BoardSeed>,
    pub priorities: Vec<PrioritySeed>,
    pub companies: Vec<CompanySeed>,
    pub severities: Vec<LevelSeed>,
    pub impacts: Vec<LevelSeed>,
}

/// What `/system/info` and `/login/companyinfo/{company}` report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SystemInfoSeed {
    /// Full product version, for example `v2025.1.10431`; `api-current-version` is derived from it.
    pub version: String,
    pub is_cloud: bool,
    pub server_time_zone: String,
    pub cloud_region: String,
    /// The MSP's company name shown by `/login/companyinfo`.
    pub company_name: String,
    pub license_bits: Vec<LicenseBitSeed>,
}

/// One licensed module reported in `/system/info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LicenseBitSeed {
    pub name: String,
    pub active_flag: bool,
}

/// A service board with its statuses and teams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BoardSeed {
    pub id: i64,
    pub name: String,
    pub location: String,
    pub department: String,
    #[serde(default)]
    pub inactive_flag: bool,
    pub statuses: Vec<StatusSeed>,
    pub teams: Vec<TeamSeed>,
}

/// A board status; `closedStatus` statuses close a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusSeed {
    pub id: i64,
    pub name: String,
    pub sort_order: i64,
    pub closed_status: bool,
    #[serde(default)]
    pub default_flag: bool,
    #[serde(default)]
    pub inactive: bool,
}

/// A board team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamSeed {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub default_flag: bool,
}

/// A ticket priority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrioritySeed {
    pub id: i64,
    pub name: String,
    pub color: String,
    pub sort_order: i64,
    #[serde(default)]
    pub default_flag: bool,
    pub level: String,
}

/// A company (an MSP client, or the MSP itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompanySeed {
    pub id: i64,
    pub identifier: String,
    pub name: String,
    #[serde(default)]
    pub phone_number: String,
    #[serde(default)]
    pub website: String,
    #[serde(default)]
    pub city: String,
    /// Company type names, for example `Client` or `Owner`.
    #[serde(default)]
    pub types: Vec<String>,
}

/// A severity or impact setup record (`/service/severities`, `/service/impacts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LevelSeed {
    pub id: i64,
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub default_flag: bool,
}

/// Why a seed file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read ConnectWise seed file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("ConnectWise seed file {path} is not valid seed JSON: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("ConnectWise seed file {path} is inconsistent: {problem}")]
    Invalid { path: String, problem: String },
}

impl SeedData {
    /// Reads and checks a seed file in the format of `data/connectwise-demo.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<SeedData, SeedError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SeedError::Read {
            path: shown.clone(),
            source,
        })?;
        let seed: SeedData = serde_json::from_str(&text).map_err(|source| SeedError::Parse {
            path: shown.clone(),
            source,
        })?;
        seed.check().map_err(|problem| SeedError::Invalid {
            path: shown,
            problem,
        })?;
        Ok(seed)
    }

    /// Rejects seeds the simulator could not serve faithfully (duplicate ids, boards without statuses).
    pub fn check(&self) -> Result<(), String> {
        fn unique(kind: &str, ids: impl Iterator<Item = i64>) -> Result<(), String> {
            let mut seen = std::collections::HashSet::new();
            for id in ids {
                if !seen.insert(id) {
                    return Err(format!("{kind} id {id} appears more than once"));
                }
            }
            Ok(())
        }
        unique("board", self.boards.iter().map(|b| b.id))?;
        unique(
            "status",
            self.boards
                .iter()
                .flat_map(|b| b.statuses.iter().map(|s| s.id)),
        )?;
        unique(
            "team",
            self.boards
                .iter()
                .flat_map(|b| b.teams.iter().map(|t| t.id)),
        )?;
        unique("priority", self.priorities.iter().map(|p| p.id))?;
        unique("company", self.companies.iter().map(|c| c.id))?;
        unique("severity", self.severities.iter().map(|s| s.id))?;
        unique("impact", self.impacts.iter().map(|s| s.id))?;
        if let Some(board) = self.boards.iter().find(|b| b.statuses.is_empty()) {
            return Err(format!(
                "board {} ({}) has no statuses",
                board.id, board.name
            ));
        }
        if self.boards.is_empty() {
            return Err("at least one board is needed".into());
        }
        if self.priorities.is_empty() {
            return Err("at least one priority is needed".into());
        }
        Ok(())
    }

    /// A realistic small MSP: two boards, the usual priorities and three clients plus the MSP itself.
    pub fn demo() -> SeedData {
        fn statuses(first_id: i64) -> Vec<StatusSeed> {
            [
                ("New", false),
                ("In Progress", false),
                ("Waiting Customer", false),
                ("Completed", true),
                ("Cancelled", true),
            ]
            .iter()
            .enumerate()
            .map(|(index, (name, closed))| StatusSeed {
                id: first_id + index as i64,
                name: (*name).to_owned(),
                sort_order: index as i64,
                closed_status: *closed,
                default_flag: index == 0,
                inactive: false,
            })
            .collect()
        }
        fn level(id: i64, name: &str, description: &str, default_flag: bool) -> LevelSeed {
            LevelSeed {
                id,
                name: name.into(),
                description: description.into(),
                default_flag,
            }
        }
        fn company(
            id: i64,
            identifier: &str,
            name: &str,
            website: &str,
            kind: &str,
        ) -> CompanySeed {
            CompanySeed {
                id,
                identifier: identifier.into(),
                name: name.into(),
                phone_number: "5555550100".into(),
                website: website.into(),
                city: "Tampa".into(),
                types: vec![kind.into()],
            }
        }
        fn priority(
            id: i64,
            name: &str,
            color: &str,
            sort_order: i64,
            level: &str,
        ) -> PrioritySeed {
            PrioritySeed {
                id,
                name: name.into(),
                color: color.into(),
                sort_order,
                default_flag: id == 4,
                level: level.into(),
            }
        }
        SeedData {
            system_info: SystemInfoSeed {
                version: "v2025.1.10431".into(),
                is_cloud: false,
                server_time_zone: "Eastern Standard Time".into(),
                cloud_region: "NA".into(),
                company_name: "My Sample Company".into(),
                license_bits: ["Service", "Project", "Sales", "Procurement"]
                    .iter()
                    .map(|name| LicenseBitSeed {
                        name: (*name).into(),
                        active_flag: true,
                    })
                    .collect(),
            },
            boards: vec![
                BoardSeed {
                    id: 1,
                    name: "Professional Services".into(),
                    location: "Tampa Office".into(),
                    department: "Professional Services".into(),
                    inactive_flag: false,
                    statuses: statuses(16),
                    teams: vec![TeamSeed {
                        id: 25,
                        name: "Service Team".into(),
                        default_flag: true,
                    }],
                },
                BoardSeed {
                    id: 3,
                    name: "Security Operations".into(),
                    location: "Tampa Office".into(),
                    department: "Managed Services".into(),
                    inactive_flag: false,
                    statuses: statuses(31),
                    teams: vec![TeamSeed {
                        id: 26,
                        name: "SOC".into(),
                        default_flag: true,
                    }],
                },
            ],
            priorities: vec![
                priority(8, "Priority 1 - Emergency Response", "Red", 1, "Critical"),
                priority(15, "Priority 2 - Quick Response", "Orange", 2, "High"),
                priority(4, "Priority 3 - Normal Response", "Green", 3, "Medium"),
                priority(7, "Priority 4 - Schedule Maintenance", "Blue", 4, "Low"),
                priority(6, "Do Not Respond", "Gray", 5, "NotApplicable"),
            ],
            companies: vec![
                company(
                    42,
                    "My.Sample.Company",
                    "My.Sample.Company",
                    "www.mysamplecompany.example",
                    "Owner",
                ),
                company(
                    250,
                    "Acme",
                    "Acme Corporation",
                    "www.acme.example",
                    "Client",
                ),
                company(
                    251,
                    "Globex",
                    "Globex Corporation",
                    "www.globex.example",
                    "Client",
                ),
                company(252, "Initech", "Initech", "www.initech.example", "Client"),
            ],
            severities: vec![
                level(1, "Low", "Low severity", false),
                level(2, "Medium", "Medium severity", true),
                level(3, "High", "High severity", false),
            ],
            impacts: vec![
                level(1, "Low", "Low impact", false),
                level(2, "Medium", "Medium impact", true),
                level(3, "High", "High impact", false),
            ],
        }
    }

    pub(crate) fn board(&self, id: i64) -> Option<&BoardSeed> {
        self.boards.iter().find(|b| b.id == id)
    }

    pub(crate) fn company(&self, id: i64) -> Option<&CompanySeed> {
        self.companies.iter().find(|c| c.id == id)
    }
}

impl Default for SeedData {
    fn default() -> Self {
        SeedData::demo()
    }
}

impl BoardSeed {
    /// The status a new ticket gets when none is given: the default one, else the first by sort order.
    pub(crate) fn default_status(&self) -> Option<&StatusSeed> {
        self.statuses
            .iter()
            .find(|s| s.default_flag)
            .or_else(|| self.statuses.iter().min_by_key(|s| s.sort_order))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_seed_is_consistent_and_matches_the_shipped_file() {
        let demo = SeedData::demo();
        demo.check().unwrap();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/connectwise-demo.json");
        assert_eq!(SeedData::from_file(path).unwrap(), demo);
    }

    #[test]
    fn rejects_duplicate_ids() {
        let mut seed = SeedData::demo();
        seed.boards[1].statuses[0].id = seed.boards[0].statuses[0].id;
        assert!(seed.check().unwrap_err().contains("status id 16"));
    }

    #[test]
    fn from_file_names_the_file_and_problem() {
        let error = SeedData::from_file("/nonexistent/cw.json").unwrap_err();
        assert!(error.to_string().contains("/nonexistent/cw.json"));
    }
}
