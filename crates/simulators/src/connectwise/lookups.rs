//! The setup endpoints (boards, statuses, teams, priorities, severities, impacts, companies, system
//! info) and the reference objects tickets point at.
//!
//! The product's `init` wizard picks company, board, team and priority from these lists, and tickets
//! carry `{id, name, _info: {x_href}}` references to the same records, so both are rendered here from the
//! seed in the shapes of the spec's `Board`, `BoardStatus`, `BoardTeam`, `Priority`, `Company`, `Severity`,
//! `Impact` and `Info` schemas.

use axum::response::Response;
use serde_json::{json, Value};

use super::context::ApiContext;
use super::error::ApiError;
use super::listing;
use super::seed::{
    BoardSeed, CompanySeed, LevelSeed, PrioritySeed, SeedData, StatusSeed, TeamSeed,
};
use super::state::SimulatorState;

const SETUP_DATE: &str = "2024-01-15T14:00:00Z";

fn setup_info(extra: Value) -> Value {
    let mut info = json!({"lastUpdated": SETUP_DATE, "updatedBy": "admin1"});
    if let (Some(info), Value::Object(extra)) = (info.as_object_mut(), extra) {
        info.extend(extra);
    }
    info
}

pub fn board_ref(ctx: &ApiContext, board: &BoardSeed) -> Value {
    json!({"id": board.id, "name": board.name,
           "_info": {"board_href": ctx.href(&format!("/service/boards/{}", board.id))}})
}

pub fn status_ref(ctx: &ApiContext, board: &BoardSeed, status: &StatusSeed) -> Value {
    json!({"id": status.id, "name": status.name, "sort": status.sort_order,
           "_info": {"status_href": ctx.href(&format!("/service/boards/{}/statuses/{}", board.id, status.id))}})
}

pub fn team_ref(ctx: &ApiContext, board: &BoardSeed, team: &TeamSeed) -> Value {
    json!({"id": team.id, "name": team.name,
           "_info": {"team_href": ctx.href(&format!("/service/boards/{}/teams/{}", board.id, team.id))}})
}

pub fn priority_ref(ctx: &ApiContext, priority: &PrioritySeed) -> Value {
    json!({"id": priority.id, "name": priority.name, "sort": priority.sort_order, "level": priority.level,
           "_info": {"priority_href": ctx.href(&format!("/service/priorities/{}", priority.id)),
                     "image_href": ctx.href(&format!("/service/priorities/{}/image?lm={SETUP_DATE}", priority.id))}})
}

pub fn company_ref(ctx: &ApiContext, company: &CompanySeed) -> Value {
    json!({"id": company.id, "identifier": company.identifier, "name": company.name,
           "_info": {"company_href": ctx.href(&format!("/company/companies/{}", company.id)),
                     "mobileGuid": mobile_guid(company.id)}})
}

/// A stable GUID per company, so repeated GETs agree.
fn mobile_guid(id: i64) -> String {
    format!("6f2c1e2a-0000-4000-8000-{id:012}")
}

fn board_json(ctx: &ApiContext, board: &BoardSeed) -> Value {
    json!({
        "id": board.id,
        "name": board.name,
        "location": {"id": 2, "name": board.location,
                     "_info": {"location_href": ctx.href("/system/locations/2")}},
        "department": {"id": 10, "identifier": board.department.replace(' ', ""), "name": board.department,
                       "_info": {"department_href": ctx.href("/system/departments/10")}},
        "inactiveFlag": board.inactive_flag,
        "projectFlag": false,
        "sendToContactFlag": false,
        "sendToResourceFlag": false,
        "showDependenciesFlag": false,
        "showEstimatesFlag": false,
        "billTime": "Billable",
        "billExpense": "Billable",
        "billProduct": "Billable",
        "autoAssignNewTicketsFlag": false,
        "discussionsLockedFlag": false,
        "timeEntryLockedFlag": false,
        "closedLoopDiscussionsFlag": false,
        "closedLoopResolutionFlag": false,
        "closedLoopInternalAnalysisFlag": false,
        "markFirstNoteIssueFlag": false,
        "restrictBoardByDefaultFlag": false,
        "sendToBundledFlag": false,
        "_info": setup_info(json!({
            "statuses_href": ctx.href(&format!("/service/boards/{}/statuses", board.id)),
            "teams_href": ctx.href(&format!("/service/boards/{}/teams", board.id)),
        })),
    })
}

fn status_json(ctx: &ApiContext, board: &BoardSeed, status: &StatusSeed) -> Value {
    json!({
        "id": status.id,
        "name": status.name,
        "board": board_ref(ctx, board),
        "sortOrder": status.sort_order,
        "displayOnBoard": true,
        "inactive": status.inactive,
        "closedStatus": status.closed_status,
        "timeEntryNotAllowed": false,
        "roundRobinCatchall": false,
        "defaultFlag": status.default_flag,
        "escalationStatus": if status.closed_status { "Resolved" } else { "NotResponded" },
        "customerPortalDescription": status.name,
        "customerPortalFlag": true,
        "saveTimeAsNote": false,
        "_info": setup_info(json!({})),
    })
}

fn team_json(ctx: &ApiContext, board: &BoardSeed, team: &TeamSeed) -> Value {
    json!({
        "id": team.id,
        "name": team.name,
        "teamLeader": {"id": 176, "identifier": "dispatch", "name": "Dispatch Lead",
                       "_info": {"member_href": ctx.href("/system/members/176")}},
        "members": [176],
        "defaultFlag": team.default_flag,
        "notifyOnTicketDelete": false,
        "defaultRoundRobinFlag": false,
        "roundRobinFlag": false,
        "boardId": board.id,
        "locationId": 2,
        "businessUnitId": 10,
        "_info": setup_info(json!({})),
    })
}

fn priority_json(ctx: &ApiContext, priority: &PrioritySeed) -> Value {
    json!({
        "id": priority.id,
        "name": priority.name,
        "color": priority.color,
        "sortOrder": priority.sort_order,
        "defaultFlag": priority.default_flag,
        "imageLink": ctx.href(&format!("/service/priorities/{}/image", priority.id)),
        "urgencySortOrder": priority.sort_order.to_string(),
        "level": priority.level,
        "_info": setup_info(json!({
            "image_href": ctx.href(&format!("/service/priorities/{}/image?lm={SETUP_DATE}", priority.id)),
        })),
    })
}

fn level_json(level: &LevelSeed) -> Value {
    json!({
        "id": level.id,
        "name": level.name,
        "description": level.description,
        "defaultFlag": level.default_flag,
        "_info": setup_info(json!({})),
    })
}

fn company_json(ctx: &ApiContext, company: &CompanySeed) -> Value {
    json!({
        "id": company.id,
        "identifier": company.identifier,
        "name": company.name,
        "status": {"id": 1, "name": "Active", "_info": {"status_href": ctx.href("/company/companies/statuses/1")}},
        "addressLine1": "100 Main Street",
        "city": company.city,
        "state": "FL",
        "zip": "33602",
        "country": {"id": 1, "name": "United States", "_info": {"country_href": ctx.href("/company/countries/1")}},
        "phoneNumber": company.phone_number,
        "faxNumber": "",
        "website": company.website,
        "territory": {"id": 2, "name": "Tampa Office", "_info": {"location_href": ctx.href("/system/locations/2")}},
        "accountNumber": "",
        "dateAcquired": SETUP_DATE,
        "leadFlag": false,
        "unsubscribeFlag": false,
        "deletedFlag": false,
        "mobileGuid": mobile_guid(company.id),
        "isVendorFlag": false,
        "types": company.types.iter().enumerate().map(|(i, name)| json!({
            "id": i + 1, "name": name, "_info": {"type_href": ctx.href(&format!("/company/companies/types/{}", i + 1))}
        })).collect::<Vec<_>>(),
        "site": {"id": company.id * 10, "name": "Main", "_info": {"site_href":
            ctx.href(&format!("/company/companies/{}/sites/{}", company.id, company.id * 10))}},
        "integratorTags": [],
        "customFields": [],
        "_info": setup_info(json!({
            "contacts_href": ctx.href(&format!("/company/contacts?conditions=company/id={}", company.id)),
            "sites_href": ctx.href(&format!("/company/companies/{}/sites", company.id)),
        })),
    })
}

fn info_json(seed: &SeedData) -> Value {
    let info = &seed.system_info;
    json!({
        "version": info.version,
        "isCloud": info.is_cloud,
        "serverTimeZone": info.server_time_zone,
        "licenseBits": info.license_bits.iter()
            .map(|bit| json!({"name": bit.name, "activeFlag": bit.active_flag}))
            .collect::<Vec<_>>(),
        "cloudRegion": info.cloud_region,
        "maxWorkFlowRecordsAllowed": 10000,
    })
}

/// Which setup collection a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Boards,
    Statuses(i64),
    Teams(i64),
    Priorities,
    Severities,
    Impacts,
    Companies,
}

fn parse_id(kind: &str, raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .map_err(|_| ApiError::not_found(kind, raw))
}

impl Lookup {
    /// The collection for `/service/boards`, `/service/boards/{parentId}/statuses`, … (lower-cased
    /// segments) and how many segments name it, or `None` when the path is not a setup collection.
    pub fn from_segments(segments: &[&str]) -> Result<Option<(Lookup, usize)>, ApiError> {
        Ok(Some(match segments {
            ["service", "boards", ..]
                if segments.len() >= 4 && matches!(segments[3], "statuses" | "teams") =>
            {
                let parent = parse_id("Board", segments[2])?;
                if segments[3] == "statuses" {
                    (Lookup::Statuses(parent), 4)
                } else {
                    (Lookup::Teams(parent), 4)
                }
            }
            ["service", "boards", ..] => (Lookup::Boards, 2),
            ["service", "priorities", ..] => (Lookup::Priorities, 2),
            ["service", "severities", ..] => (Lookup::Severities, 2),
            ["service", "impacts", ..] => (Lookup::Impacts, 2),
            ["company", "companies", ..] => (Lookup::Companies, 2),
            _ => return Ok(None),
        }))
    }

    fn kind(self) -> &'static str {
        match self {
            Lookup::Boards => "Board",
            Lookup::Statuses(_) => "Status",
            Lookup::Teams(_) => "Team",
            Lookup::Priorities => "Priority",
            Lookup::Severities => "Severity",
            Lookup::Impacts => "Impact",
            Lookup::Companies => "Company",
        }
    }

    fn records(self, ctx: &ApiContext, seed: &SeedData) -> Result<Vec<Value>, ApiError> {
        let board = |id: i64| {
            seed.board(id)
                .ok_or_else(|| ApiError::not_found("Board", id))
        };
        Ok(match self {
            Lookup::Boards => seed.boards.iter().map(|b| board_json(ctx, b)).collect(),
            Lookup::Statuses(id) => {
                let board = board(id)?;
                board
                    .statuses
                    .iter()
                    .map(|s| status_json(ctx, board, s))
                    .collect()
            }
            Lookup::Teams(id) => {
                let board = board(id)?;
                board
                    .teams
                    .iter()
                    .map(|t| team_json(ctx, board, t))
                    .collect()
            }
            Lookup::Priorities => seed
                .priorities
                .iter()
                .map(|p| priority_json(ctx, p))
                .collect(),
            Lookup::Severities => seed.severities.iter().map(level_json).collect(),
            Lookup::Impacts => seed.impacts.iter().map(level_json).collect(),
            Lookup::Companies => seed
                .companies
                .iter()
                .map(|c| company_json(ctx, c))
                .collect(),
        })
    }

    /// Serves `GET` on the collection (`rest` empty), its `/count`, or one record by id.
    pub fn serve(
        self,
        ctx: &ApiContext,
        state: &SimulatorState,
        rest: &[&str],
    ) -> Result<Response, ApiError> {
        let records = self.records(ctx, state.seed())?;
        match rest {
            [] => listing::list(ctx, records),
            ["count"] => listing::count(ctx, records),
            [id] => {
                let id = parse_id(self.kind(), id)?;
                let record = records
                    .iter()
                    .find(|r| r.get("id").and_then(Value::as_i64) == Some(id))
                    .ok_or_else(|| ApiError::not_found(self.kind(), id))?;
                listing::single(ctx, record)
            }
            _ => Err(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "NotFound",
                format!("No resource matches {}", ctx.path),
            )),
        }
    }
}

/// `GET /system/info`.
pub fn system_info(state: &SimulatorState) -> Value {
    info_json(state.seed())
}
