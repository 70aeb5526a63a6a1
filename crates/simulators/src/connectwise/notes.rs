//! Ticket notes: `/service/tickets/{parentId}/notes` and the merged `/allNotes` view.
//!
//! The product writes alert details as notes (and as a ticket's `initialDescription`, which the service
//! turns into the first note), choosing between customer-visible discussion and MSP-internal analysis.
//! The flags therefore have to come back exactly as the service sets them, so operators can check what
//! a client would see.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::body::{canonical, invalid_path, parse_object, parse_patch, PatchOperation};
use super::context::ApiContext;
use super::error::{json_response, ApiError, FieldError};
use super::listing;
use super::schema::SERVICE_NOTE_MEMBERS;
use super::state::{timestamp, Records, SimulatorState};
use super::ticket_model::{NoteKind, API_MEMBER};

/// The flags a note is created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoteFlags {
    pub detail_description: bool,
    pub internal_analysis: bool,
    pub resolution: bool,
}

impl From<NoteKind> for NoteFlags {
    fn from(kind: NoteKind) -> Self {
        NoteFlags {
            detail_description: kind == NoteKind::Description,
            internal_analysis: kind == NoteKind::InternalAnalysis,
            resolution: kind == NoteKind::Resolution,
        }
    }
}

/// Stores a new note on `ticket_id` and returns its `ServiceNote` JSON.
pub fn add_note(
    ctx: &ApiContext,
    records: &mut Records,
    ticket_id: i64,
    text: &str,
    flags: NoteFlags,
    now: DateTime<Utc>,
) -> Value {
    let id = records.next_note_id();
    let now = timestamp(now);
    let note = json!({
        "id": id,
        "ticketId": ticket_id,
        "text": text,
        "detailDescriptionFlag": flags.detail_description,
        "internalAnalysisFlag": flags.internal_analysis,
        "resolutionFlag": flags.resolution,
        "issueFlag": false,
        "member": {"id": 190, "identifier": API_MEMBER, "name": "API User",
                   "_info": {"member_href": ctx.href("/system/members/190")}},
        "customerUpdatedFlag": false,
        "dateCreated": now,
        "createdBy": API_MEMBER,
        "internalFlag": flags.internal_analysis,
        "externalFlag": !flags.internal_analysis,
        "_info": {"lastUpdated": now, "updatedBy": API_MEMBER},
    });
    records.notes.insert(id, note.clone());
    note
}

fn flag(object: &serde_json::Map<String, Value>, name: &str, errors: &mut Vec<FieldError>) -> bool {
    match object.get(name) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            errors.push(FieldError::invalid(
                name,
                format!("{name} must be true or false, not {other}"),
            ));
            false
        }
    }
}

fn ticket_must_exist(records: &Records, ticket_id: i64) -> Result<(), ApiError> {
    if records.tickets.contains_key(&ticket_id) {
        Ok(())
    } else {
        Err(ApiError::not_found("Ticket", ticket_id))
    }
}

/// Checks a note's text and flags; at least one of the three section flags must be set, as the
/// service needs to know where the note goes.
fn checked(object: &Map<String, Value>) -> Result<(String, NoteFlags), ApiError> {
    let mut errors = Vec::new();
    let text = match object.get("text") {
        Some(Value::String(text)) if !text.trim().is_empty() => text.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            errors.push(FieldError::missing("text"));
            String::new()
        }
        Some(other) => {
            errors.push(FieldError::invalid(
                "text",
                format!("text must be a string, not {other}"),
            ));
            String::new()
        }
    };
    let flags = NoteFlags {
        detail_description: flag(object, "detailDescriptionFlag", &mut errors),
        internal_analysis: flag(object, "internalAnalysisFlag", &mut errors),
        resolution: flag(object, "resolutionFlag", &mut errors),
    };
    if errors.is_empty()
        && !(flags.detail_description || flags.internal_analysis || flags.resolution)
    {
        errors.push(FieldError::invalid(
            "detailDescriptionFlag",
            "at least one of detailDescriptionFlag, internalAnalysisFlag or resolutionFlag must be true",
        ));
    }
    if errors.is_empty() {
        Ok((text, flags))
    } else {
        Err(ApiError::invalid_object("serviceNote", errors))
    }
}

/// `POST /service/tickets/{parentId}/notes`.
pub fn create(
    ctx: &ApiContext,
    state: &SimulatorState,
    ticket_id: i64,
    body: &str,
) -> Result<Response, ApiError> {
    let object = parse_object(body, "ServiceNote", SERVICE_NOTE_MEMBERS)?;
    let mut records = state.records();
    ticket_must_exist(&records, ticket_id)?;
    let (text, flags) = checked(&object)?;
    let note = add_note(ctx, &mut records, ticket_id, &text, flags, Utc::now());
    Ok(json_response(StatusCode::CREATED, &note))
}

/// Members of a note the service sets itself; a PATCH may not name them.
const NOTE_READ_ONLY: [&str; 8] = [
    "id",
    "ticketId",
    "dateCreated",
    "createdBy",
    "internalFlag",
    "externalFlag",
    "member",
    "_info",
];

fn stored_note(records: &Records, ticket_id: i64, raw: &str) -> Result<Value, ApiError> {
    ticket_must_exist(records, ticket_id)?;
    let id: i64 = raw.parse().map_err(|_| ApiError::not_found("Note", raw))?;
    records
        .notes
        .get(&id)
        .filter(|n| n.get("ticketId").and_then(Value::as_i64) == Some(ticket_id))
        .cloned()
        .ok_or_else(|| ApiError::not_found("Note", id))
}

/// Rewrites a stored note from a checked input, keeping who created it and when.
fn rewrite(
    existing: &Value,
    input: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Value, ApiError> {
    let (text, flags) = checked(input)?;
    let mut note = existing.clone();
    if let Value::Object(fields) = &mut note {
        for (member, value) in input {
            if !NOTE_READ_ONLY.contains(&member.as_str()) {
                fields.insert(member.clone(), value.clone());
            }
        }
        fields.insert("text".into(), json!(text));
        fields.insert(
            "detailDescriptionFlag".into(),
            json!(flags.detail_description),
        );
        fields.insert(
            "internalAnalysisFlag".into(),
            json!(flags.internal_analysis),
        );
        fields.insert("resolutionFlag".into(), json!(flags.resolution));
        fields.insert("internalFlag".into(), json!(flags.internal_analysis));
        fields.insert("externalFlag".into(), json!(!flags.internal_analysis));
        fields.insert(
            "_info".into(),
            json!({"lastUpdated": timestamp(now), "updatedBy": API_MEMBER}),
        );
    }
    Ok(note)
}

/// `PUT /service/tickets/{parentId}/notes/{id}`: replaces text and flags.
pub fn replace(
    state: &SimulatorState,
    ticket_id: i64,
    note_id: &str,
    body: &str,
) -> Result<Response, ApiError> {
    let input = parse_object(body, "ServiceNote", SERVICE_NOTE_MEMBERS)?;
    let mut records = state.records();
    let existing = stored_note(&records, ticket_id, note_id)?;
    let note = rewrite(&existing, &input, Utc::now())?;
    records
        .notes
        .insert(note["id"].as_i64().unwrap_or_default(), note.clone());
    Ok(json_response(StatusCode::OK, &note))
}

/// `PATCH /service/tickets/{parentId}/notes/{id}`.
pub fn patch(
    state: &SimulatorState,
    ticket_id: i64,
    note_id: &str,
    body: &str,
) -> Result<Response, ApiError> {
    let operations = parse_patch(body)?;
    let mut records = state.records();
    let existing = stored_note(&records, ticket_id, note_id)?;
    let mut input = existing.as_object().cloned().unwrap_or_default();
    for PatchOperation { path, value } in operations {
        let trimmed = path.trim_start_matches('/');
        let Some(member) = canonical(SERVICE_NOTE_MEMBERS, trimmed) else {
            return Err(invalid_path(&path, "ServiceNote has no such member"));
        };
        if NOTE_READ_ONLY.contains(&member) {
            return Err(invalid_path(&path, "the member is read-only"));
        }
        input.insert(member.to_owned(), value);
    }
    let note = rewrite(&existing, &input, Utc::now())?;
    records
        .notes
        .insert(note["id"].as_i64().unwrap_or_default(), note.clone());
    Ok(json_response(StatusCode::OK, &note))
}

/// `GET` on `/notes`, `/notes/count` and `/notes/{id}`.
pub fn read(
    ctx: &ApiContext,
    state: &SimulatorState,
    ticket_id: i64,
    rest: &[&str],
) -> Result<Response, ApiError> {
    let notes = {
        let records = state.records();
        ticket_must_exist(&records, ticket_id)?;
        records.notes_of(ticket_id)
    };
    match rest {
        [] => listing::list(ctx, notes),
        ["count"] => listing::count(ctx, notes),
        [id] => {
            let id: i64 = id.parse().map_err(|_| ApiError::not_found("Note", id))?;
            let note = notes
                .iter()
                .find(|n| n.get("id").and_then(Value::as_i64) == Some(id))
                .ok_or_else(|| ApiError::not_found("Note", id))?;
            listing::single(ctx, note)
        }
        _ => Err(ApiError::not_found("Resource", &ctx.path)),
    }
}

/// `DELETE /service/tickets/{parentId}/notes/{id}`.
pub fn delete(state: &SimulatorState, ticket_id: i64, note_id: &str) -> Result<Response, ApiError> {
    let mut records = state.records();
    let note = stored_note(&records, ticket_id, note_id)?;
    records
        .notes
        .remove(&note["id"].as_i64().unwrap_or_default());
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /service/tickets/{parentId}/allNotes`: every note as a `ServiceTicketNote`.
pub fn all_notes(
    ctx: &ApiContext,
    state: &SimulatorState,
    ticket_id: i64,
) -> Result<Response, ApiError> {
    let (notes, summary) = {
        let records = state.records();
        ticket_must_exist(&records, ticket_id)?;
        let summary = records.tickets[&ticket_id]
            .get("summary")
            .cloned()
            .unwrap_or(Value::Null);
        (records.notes_of(ticket_id), summary)
    };
    let merged = notes
        .iter()
        .map(|note| {
            json!({
                "id": note["id"],
                "noteType": "TicketNote",
                "ticket": {"id": ticket_id, "summary": summary,
                           "_info": {"ticket_href": ctx.href(&format!("/service/tickets/{ticket_id}"))}},
                "text": note["text"],
                "isMarkdownFlag": false,
                "detailDescriptionFlag": note["detailDescriptionFlag"],
                "internalAnalysisFlag": note["internalAnalysisFlag"],
                "resolutionFlag": note["resolutionFlag"],
                "timeStart": note["dateCreated"],
                "timeEnd": note["dateCreated"],
                "bundledFlag": false,
                "mergedFlag": false,
                "issueFlag": note["issueFlag"],
                "originalAuthor": note["createdBy"],
                "createdByParentFlag": false,
                "member": note["member"],
                "_info": {"lastUpdated": note["_info"]["lastUpdated"], "updatedBy": note["_info"]["updatedBy"],
                          "dateEntered": note["dateCreated"], "enteredBy": note["createdBy"]},
            })
        })
        .collect();
    listing::list(ctx, merged)
}
