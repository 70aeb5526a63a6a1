//! `/service/tickets`: create, read, replace, patch, delete, count and search.
//!
//! This is the heart of what the product does to ConnectWise: open a ticket per incident, update or
//! reopen it as alerts repeat, and find tickets again by condition. The handlers here only move data in
//! and out of the store; the ticket rules live in `ticket_model`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::Value;

use super::body::parse_object;
use super::context::ApiContext;
use super::error::{json_response, ApiError};
use super::listing::{self, parse_conditions, parse_order_by, ListQuery};
use super::notes::{add_note, NoteFlags};
use super::schema::TICKET_MEMBERS;
use super::state::{Records, SimulatorState};
use super::ticket_model::{apply_patch, build_ticket, TicketWrite};

/// Members of the `FilterValues` body of `POST /service/tickets/search`, spelled as in the spec.
const FILTER_VALUES_MEMBERS: &[&str] = &[
    "conditions",
    "orderBy",
    "childconditions",
    "customfieldconditions",
];

fn ticket_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .map_err(|_| ApiError::not_found("Ticket", raw))
}

fn stored(records: &Records, id: i64) -> Result<Value, ApiError> {
    records
        .tickets
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("Ticket", id))
}

/// Stores a validated write and the notes its `initial*` members asked for.
fn save(ctx: &ApiContext, records: &mut Records, id: i64, write: TicketWrite) -> Value {
    let now = Utc::now();
    for (kind, text) in &write.notes {
        add_note(ctx, records, id, text, NoteFlags::from(*kind), now);
    }
    records.tickets.insert(id, write.ticket.clone());
    write.ticket
}

/// `POST /service/tickets`.
pub fn create(ctx: &ApiContext, state: &SimulatorState, body: &str) -> Result<Response, ApiError> {
    let input = parse_object(body, "Ticket", TICKET_MEMBERS)?;
    let mut records = state.records();
    // The id is only used up once the ticket is valid (the lock is held throughout), so rejected POSTs
    // leave no gaps.
    let id = records.peek_ticket_id();
    let write = build_ticket(ctx, state.seed(), id, input, None, Utc::now())?;
    records.next_ticket_id();
    let ticket = save(ctx, &mut records, id, write);
    let mut response = json_response(StatusCode::CREATED, &ticket);
    if let Ok(location) = ctx.href(&format!("/service/tickets/{id}")).parse() {
        response.headers_mut().insert("location", location);
    }
    Ok(response)
}

/// `GET /service/tickets`, `/count` and `/{id}`.
pub fn read(ctx: &ApiContext, state: &SimulatorState, rest: &[&str]) -> Result<Response, ApiError> {
    match rest {
        [] => listing::list(ctx, state.tickets()),
        ["count"] => listing::count(ctx, state.tickets()),
        [id] => {
            let ticket = stored(&state.records(), ticket_id(id)?)?;
            listing::single(ctx, &ticket)
        }
        _ => Err(ApiError::not_found("Resource", &ctx.path)),
    }
}

/// `PUT /service/tickets/{id}`: replaces the ticket with the body.
pub fn replace(
    ctx: &ApiContext,
    state: &SimulatorState,
    id: &str,
    body: &str,
) -> Result<Response, ApiError> {
    let id = ticket_id(id)?;
    let input = parse_object(body, "Ticket", TICKET_MEMBERS)?;
    let mut records = state.records();
    let existing = stored(&records, id)?;
    let write = build_ticket(ctx, state.seed(), id, input, Some(&existing), Utc::now())?;
    let ticket = save(ctx, &mut records, id, write);
    Ok(json_response(StatusCode::OK, &ticket))
}

/// `PATCH /service/tickets/{id}`.
pub fn patch(
    ctx: &ApiContext,
    state: &SimulatorState,
    id: &str,
    body: &str,
) -> Result<Response, ApiError> {
    let id = ticket_id(id)?;
    let mut records = state.records();
    let existing = stored(&records, id)?;
    let draft = apply_patch(state.seed(), &existing, body)?;
    let write = build_ticket(ctx, state.seed(), id, draft, Some(&existing), Utc::now())?;
    let ticket = save(ctx, &mut records, id, write);
    Ok(json_response(StatusCode::OK, &ticket))
}

/// `DELETE /service/tickets/{id}`: 204, and the ticket's notes go with it.
pub fn delete(state: &SimulatorState, id: &str) -> Result<Response, ApiError> {
    let id = ticket_id(id)?;
    let mut records = state.records();
    if records.tickets.remove(&id).is_none() {
        return Err(ApiError::not_found("Ticket", id));
    }
    records
        .notes
        .retain(|_, note| note.get("ticketId").and_then(Value::as_i64) != Some(id));
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /service/tickets/search` with a `FilterValues` body; paging still comes from the query.
pub fn search(ctx: &ApiContext, state: &SimulatorState, body: &str) -> Result<Response, ApiError> {
    let filter = if body.trim().is_empty() {
        serde_json::Map::new()
    } else {
        parse_object(body, "FilterValues", FILTER_VALUES_MEMBERS)?
    };
    let text = |name: &str| -> Result<String, ApiError> {
        match filter.get(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(ApiError::bad_body(format!(
                "{name} must be a string, not {other}"
            ))),
        }
    };
    let mut query = ListQuery::from_request(ctx)?;
    query.conditions = parse_conditions(&text("conditions")?)?;
    let order_by = text("orderBy")?;
    if !order_by.is_empty() {
        query.order_by = parse_order_by(&order_by)?;
    }
    Ok(listing::list_with(ctx, &query, state.tickets()))
}
