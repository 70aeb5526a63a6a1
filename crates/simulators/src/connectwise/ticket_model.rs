//! Ticket validation, reference resolution and the close/reopen rules.
//!
//! POST, PUT and PATCH all end in the same place: an input object (what the client sent, or the stored
//! ticket with the patch applied) is checked against the spec's rules and the seeded setup, references
//! are resolved into full `{id, name, _info}` objects, and `closedFlag`/`closedDate`/`closedBy` are
//! derived from whether the status is a closed one. Keeping that in one function makes the three verbs
//! agree, as they do on the real service.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::body::{canonical, invalid_path, parse_patch, PatchOperation};
use super::context::ApiContext;
use super::error::{ApiError, FieldError};
use super::lookups::{board_ref, company_ref, priority_ref, status_ref, team_ref};
use super::schema::{TICKET_ENUMS, TICKET_MAX_LENGTHS, TICKET_MEMBERS, TICKET_REFERENCE_MEMBERS};
use super::seed::{BoardSeed, SeedData};
use super::state::timestamp;

/// The API member every write is attributed to.
pub const API_MEMBER: &str = "ApiUser";

/// Which note an `initial*` member turns into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    Description,
    InternalAnalysis,
    Resolution,
}

/// A validated ticket and the notes its `initial*` members asked for.
#[derive(Debug)]
pub struct TicketWrite {
    pub ticket: Value,
    pub notes: Vec<(NoteKind, String)>,
}

const INITIAL_NOTE_MEMBERS: [(&str, NoteKind); 3] = [
    ("initialDescription", NoteKind::Description),
    ("initialInternalAnalysis", NoteKind::InternalAnalysis),
    ("initialResolution", NoteKind::Resolution),
];

/// References resolved against the seeded setup into full reference objects.
const RESOLVED_REFERENCES: [&str; 5] = ["board", "status", "company", "priority", "team"];

/// Members the client may send but the service computes.
const COMPUTED_MEMBERS: [&str; 6] = [
    "id",
    "_info",
    "closedFlag",
    "closedDate",
    "closedBy",
    "dateResolved",
];

fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// What a reference object asks for: an id, or a name/identifier to look up.
enum RefKey<'a> {
    Id(i64),
    Name(&'a str),
}

fn ref_key<'a>(field: &str, value: &'a Value) -> Result<RefKey<'a>, FieldError> {
    let Value::Object(object) = value else {
        return Err(FieldError::invalid(
            field,
            format!("{field} must be a reference object such as {{\"id\": 1}}, not {value}"),
        ));
    };
    let get = |name: &str| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    match get("id") {
        Some(Value::Number(n)) => {
            return n.as_i64().map(RefKey::Id).ok_or_else(|| {
                FieldError::invalid(field, format!("{field}/id must be a whole number"))
            })
        }
        Some(Value::Null) | None => {}
        Some(other) => {
            return Err(FieldError::invalid(
                field,
                format!("{field}/id must be a whole number, not {other}"),
            ))
        }
    }
    for key in ["identifier", "name"] {
        if let Some(Value::String(name)) = get(key) {
            return Ok(RefKey::Name(name));
        }
    }
    Err(FieldError::invalid(
        field,
        format!("{field} needs an id (or a name/identifier) to find the record"),
    ))
}

fn find<'a, T>(
    field: &str,
    items: &'a [T],
    key: &RefKey<'_>,
    id: impl Fn(&T) -> i64,
    names: impl Fn(&T) -> Vec<&str>,
    scope: &str,
) -> Result<&'a T, FieldError> {
    let found = match key {
        RefKey::Id(wanted) => items.iter().find(|item| id(item) == *wanted),
        RefKey::Name(wanted) => items
            .iter()
            .find(|item| names(item).iter().any(|n| n.eq_ignore_ascii_case(wanted))),
    };
    found.ok_or_else(|| {
        let shown = match key {
            RefKey::Id(wanted) => format!("id {wanted}"),
            RefKey::Name(wanted) => format!("'{wanted}'"),
        };
        FieldError::invalid(field, format!("{field} {shown} was not found{scope}"))
    })
}

/// Finds the board an input names, or the first board when it names none.
fn resolve_board<'a>(
    seed: &'a SeedData,
    input: &Map<String, Value>,
) -> Result<&'a BoardSeed, FieldError> {
    match input.get("board") {
        None | Some(Value::Null) => seed
            .boards
            .first()
            .ok_or_else(|| FieldError::invalid("board", "no service board is set up")),
        Some(value) => {
            let key = ref_key("board", value)?;
            find(
                "board",
                &seed.boards,
                &key,
                |b| b.id,
                |b| vec![b.name.as_str()],
                "",
            )
        }
    }
}

/// Whether the `member` reference an input names (by id or name) is one of `items` (true when it
/// names none).
fn reference_fits<T>(
    items: &[T],
    member: &str,
    input: &Map<String, Value>,
    key_of: impl Fn(&T) -> (i64, &String),
) -> bool {
    match input.get(member) {
        None | Some(Value::Null) => true,
        Some(value) => ref_key(member, value).is_ok_and(|key| {
            find(
                member,
                items,
                &key,
                |item| key_of(item).0,
                |item| vec![key_of(item).1.as_str()],
                "",
            )
            .is_ok()
        }),
    }
}

fn check_strings(input: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    match input.get("summary") {
        None | Some(Value::Null) => errors.push(FieldError::missing("summary")),
        Some(Value::String(s)) if s.trim().is_empty() => {
            errors.push(FieldError::missing("summary"))
        }
        _ => {}
    }
    for (field, max) in TICKET_MAX_LENGTHS {
        match input.get(*field) {
            Some(Value::String(text)) if utf16_len(text) > *max => {
                errors.push(FieldError::invalid(
                    field,
                    format!(
                        "{field} must be {max} characters or fewer; it has {}",
                        utf16_len(text)
                    ),
                ))
            }
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(other) => errors.push(FieldError::invalid(
                field,
                format!("{field} must be a string, not {other}"),
            )),
        }
    }
}

fn normalise_enums(input: &mut Map<String, Value>, errors: &mut Vec<FieldError>) {
    for (field, allowed) in TICKET_ENUMS {
        let Some(value) = input.get(*field) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        match value
            .as_str()
            .and_then(|text| allowed.iter().find(|a| a.eq_ignore_ascii_case(text)))
        {
            Some(canonical) => {
                input.insert((*field).to_owned(), Value::String((*canonical).to_owned()));
            }
            None => errors.push(FieldError::invalid(
                field,
                format!("{field} must be one of {}, not {value}", allowed.join(", ")),
            )),
        }
    }
}

/// Checks `input` and builds the stored ticket. `existing` is the stored ticket on PUT/PATCH.
pub fn build_ticket(
    ctx: &ApiContext,
    seed: &SeedData,
    id: i64,
    mut input: Map<String, Value>,
    existing: Option<&Value>,
    now: DateTime<Utc>,
) -> Result<TicketWrite, ApiError> {
    let mut errors = Vec::new();
    let mut notes = Vec::new();
    for (member, kind) in INITIAL_NOTE_MEMBERS {
        match input.remove(member) {
            Some(Value::String(text)) if !text.trim().is_empty() => notes.push((kind, text)),
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(other) => errors.push(FieldError::invalid(
                member,
                format!("{member} must be a string, not {other}"),
            )),
        }
    }
    for member in COMPUTED_MEMBERS {
        input.remove(member);
    }
    check_strings(&input, &mut errors);
    normalise_enums(&mut input, &mut errors);
    // The five resolved references report their own, more specific problems below.
    for member in TICKET_REFERENCE_MEMBERS
        .iter()
        .filter(|m| !RESOLVED_REFERENCES.contains(m))
    {
        if let Some(value) = input.get(*member) {
            if !value.is_null() && !value.is_object() {
                errors.push(FieldError::invalid(
                    member,
                    format!(
                        "{member} must be a reference object such as {{\"id\": 1}}, not {value}"
                    ),
                ));
            }
        }
    }

    let company = match input.get("company") {
        None | Some(Value::Null) => {
            errors.push(FieldError::missing("company"));
            None
        }
        Some(value) => ref_key("company", value)
            .and_then(|key| {
                find(
                    "company",
                    &seed.companies,
                    &key,
                    |c| c.id,
                    |c| vec![c.identifier.as_str(), c.name.as_str()],
                    "",
                )
            })
            .map_err(|e| errors.push(e))
            .ok(),
    };
    let board = resolve_board(seed, &input).map_err(|e| errors.push(e)).ok();
    let scope = |board: &BoardSeed| format!(" on board {} ({})", board.id, board.name);
    let status = board.and_then(|board| match input.get("status") {
        None | Some(Value::Null) => board.default_status(),
        Some(value) => ref_key("status", value)
            .and_then(|key| {
                find(
                    "status",
                    &board.statuses,
                    &key,
                    |s| s.id,
                    |s| vec![s.name.as_str()],
                    &scope(board),
                )
            })
            .map_err(|e| errors.push(e))
            .ok(),
    });
    let team = board.and_then(|board| match input.get("team") {
        None | Some(Value::Null) => None,
        Some(value) => ref_key("team", value)
            .and_then(|key| {
                find(
                    "team",
                    &board.teams,
                    &key,
                    |t| t.id,
                    |t| vec![t.name.as_str()],
                    &scope(board),
                )
            })
            .map_err(|e| errors.push(e))
            .ok(),
    });
    let priority = match input.get("priority") {
        None | Some(Value::Null) => seed
            .priorities
            .iter()
            .find(|p| p.default_flag)
            .or_else(|| seed.priorities.first()),
        Some(value) => ref_key("priority", value)
            .and_then(|key| {
                find(
                    "priority",
                    &seed.priorities,
                    &key,
                    |p| p.id,
                    |p| vec![p.name.as_str()],
                    "",
                )
            })
            .map_err(|e| errors.push(e))
            .ok(),
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid_object("ticket", errors));
    }
    let (Some(company), Some(board), Some(status), Some(priority)) =
        (company, board, status, priority)
    else {
        return Err(ApiError::invalid_object(
            "ticket",
            vec![FieldError::invalid(
                "status",
                "the board has no status to give the ticket",
            )],
        ));
    };

    let mut ticket = Map::new();
    ticket.insert("id".into(), json!(id));
    for (member, default) in [
        ("recordType", json!("ServiceTicket")),
        ("severity", json!("Medium")),
        ("impact", json!("Medium")),
        ("billTime", json!("NoDefault")),
        ("billExpenses", json!("NoDefault")),
        ("billProducts", json!("NoDefault")),
        ("allowAllClientsPortalView", json!(false)),
        ("customerUpdatedFlag", json!(false)),
        ("automaticEmailContactFlag", json!(false)),
        ("automaticEmailResourceFlag", json!(false)),
        ("automaticEmailCcFlag", json!(false)),
        ("approved", json!(true)),
        ("hasChildTicket", json!(false)),
        ("hasMergedChildTicketFlag", json!(false)),
        ("isInSla", json!(true)),
        ("requestForChangeFlag", json!(false)),
        ("customFields", json!([])),
        ("integratorTags", json!([])),
    ] {
        let value = input
            .remove(member)
            .filter(|v| !v.is_null())
            .unwrap_or(default);
        ticket.insert(member.into(), value);
    }
    ticket.insert("board".into(), board_ref(ctx, board));
    ticket.insert("status".into(), status_ref(ctx, board, status));
    ticket.insert("company".into(), company_ref(ctx, company));
    ticket.insert("priority".into(), priority_ref(ctx, priority));
    match team {
        Some(team) => ticket.insert("team".into(), team_ref(ctx, board, team)),
        None => ticket.insert("team".into(), Value::Null),
    };
    for member in RESOLVED_REFERENCES {
        input.remove(member);
    }
    for (member, value) in input {
        ticket.entry(member).or_insert(value);
    }
    let existing_field = |name: &str| {
        existing
            .and_then(|t| t.get(name))
            .filter(|v| !v.is_null())
            .cloned()
    };
    let now_text = timestamp(now);
    if status.closed_status {
        let was_closed = existing
            .and_then(|t| t.get("closedFlag"))
            .and_then(Value::as_bool)
            == Some(true);
        let closed_date = if was_closed {
            existing_field("closedDate")
        } else {
            None
        };
        let closed_date = closed_date.unwrap_or_else(|| json!(now_text));
        let closed_by = if was_closed {
            existing_field("closedBy")
        } else {
            None
        };
        ticket.insert("closedFlag".into(), json!(true));
        ticket.insert("dateResolved".into(), closed_date.clone());
        ticket.insert("closedDate".into(), closed_date);
        ticket.insert(
            "closedBy".into(),
            closed_by.unwrap_or_else(|| json!(API_MEMBER)),
        );
    } else {
        ticket.insert("closedFlag".into(), json!(false));
    }
    let mobile_guid =
        existing_field("mobileGuid").unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
    ticket.insert("mobileGuid".into(), mobile_guid);
    let existing_info = |name: &str| {
        existing
            .and_then(|t| t.pointer(&format!("/_info/{name}")))
            .cloned()
    };
    let href = |what: &str| ctx.href(&format!("/service/tickets/{id}/{what}"));
    ticket.insert(
        "_info".into(),
        json!({
            "lastUpdated": now_text,
            "updatedBy": API_MEMBER,
            "dateEntered": existing_info("dateEntered").unwrap_or_else(|| json!(now_text)),
            "enteredBy": existing_info("enteredBy").unwrap_or_else(|| json!(API_MEMBER)),
            "activities_href": ctx.href(&format!("/sales/activities?conditions=ticket/id={id}")),
            "scheduleentries_href": ctx.href(&format!("/schedule/entries?conditions=type/id=4 AND objectId={id}")),
            "documents_href": ctx.href(&format!("/system/documents?recordType=Ticket&recordId={id}")),
            "configurations_href": href("configurations"),
            "tasks_href": href("tasks"),
            "notes_href": href("notes"),
            "products_href": ctx.href(&format!("/procurement/products?conditions=chargeToType='Ticket' AND chargeToId={id}")),
            "timeentries_href": ctx.href(&format!("/time/entries?conditions=(chargeToType='ServiceTicket' OR chargeToType='ProjectTicket') AND chargeToId={id}")),
            "expenseEntries_href": ctx.href(&format!("/expense/entries?conditions=(chargeToType='ServiceTicket' OR chargeToType='ProjectTicket') AND chargeToId={id}")),
        }),
    );
    Ok(TicketWrite {
        ticket: Value::Object(ticket),
        notes,
    })
}

/// Applies a PATCH operation list to a stored ticket and returns the input to rebuild it from.
pub fn apply_patch(
    seed: &SeedData,
    existing: &Value,
    body: &str,
) -> Result<Map<String, Value>, ApiError> {
    let operations = parse_patch(body)?;
    let mut draft = existing.as_object().cloned().unwrap_or_default();
    let (mut status_patched, mut board_patched, mut team_patched) = (false, false, false);
    let mut closed_flag = None;
    for PatchOperation { path, value } in operations {
        let path = path.as_str();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let Some(member) = canonical(TICKET_MEMBERS, segments[0]) else {
            return Err(invalid_path(path, "Ticket has no such member"));
        };
        if matches!(
            member,
            "id" | "_info" | "closedDate" | "closedBy" | "dateResolved"
        ) {
            return Err(invalid_path(path, "the member is read-only"));
        }
        let is_reference = TICKET_REFERENCE_MEMBERS.contains(&member);
        let new_value = match (&segments[1..], is_reference) {
            ([], true) if value.is_object() || value.is_null() => value,
            ([], true) => {
                return Err(invalid_path(
                    path,
                    "a reference takes an object such as {\"id\": 1}",
                ))
            }
            ([], false) => value,
            ([sub], true)
                if sub.eq_ignore_ascii_case("id") && (value.is_i64() || value.is_null()) =>
            {
                json!({ "id": value })
            }
            ([sub], true) if sub.eq_ignore_ascii_case("id") => {
                return Err(invalid_path(path, "an id must be a whole number"))
            }
            ([sub], true)
                if (sub.eq_ignore_ascii_case("name") || sub.eq_ignore_ascii_case("identifier"))
                    && value.is_string() =>
            {
                json!({ sub.to_ascii_lowercase(): value })
            }
            _ => {
                return Err(invalid_path(
                    path,
                    "only x, x/id, x/name or x/identifier can be patched",
                ))
            }
        };
        match member {
            "status" => status_patched = true,
            "board" => board_patched = true,
            "team" => team_patched = true,
            "closedFlag" => closed_flag = Some(new_value.as_bool().unwrap_or(false)),
            _ => {}
        }
        if member != "closedFlag" {
            draft.insert(member.to_owned(), new_value);
        }
    }
    if let Ok(board) = resolve_board(seed, &draft) {
        // Moving a ticket to another board takes the new board's default status and drops a team of
        // the old board, unless the same patch chose them.
        if board_patched
            && !status_patched
            && !reference_fits(&board.statuses, "status", &draft, |s| (s.id, &s.name))
        {
            draft.remove("status");
        }
        if board_patched
            && !team_patched
            && !reference_fits(&board.teams, "team", &draft, |t| (t.id, &t.name))
        {
            draft.remove("team");
        }
        let was_closed = existing.get("closedFlag").and_then(Value::as_bool) == Some(true);
        match closed_flag {
            Some(true) if !status_patched && !was_closed => {
                if let Some(closed) = board.statuses.iter().find(|s| s.closed_status) {
                    draft.insert("status".into(), json!({ "id": closed.id }));
                }
            }
            Some(false) if !status_patched && was_closed => {
                if let Some(open) = board.default_status() {
                    draft.insert("status".into(), json!({ "id": open.id }));
                }
            }
            _ => {}
        }
    }
    Ok(draft)
}
