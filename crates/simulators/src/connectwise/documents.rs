//! `/system/documents`: multipart attachment upload, listing per record, and download.
//!
//! The product attaches evidence files to tickets (`test-ticket` sends `TestAttachment.txt`). The real
//! service only takes `multipart/form-data` here (a JSON body gets 415), matches form field names
//! loosely, ties each document to an existing record and serves it back with a `Content-Disposition`
//! file name; the simulator enforces the same, plus a configurable size limit.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{json, Value};

use super::context::ApiContext;
use super::error::{json_response, ApiError, FieldError};
use super::listing;
use super::state::{timestamp, DocumentRecord, SimulatorState};
use super::ticket_model::API_MEMBER;

const FORM_FIELDS: &str =
    "file, recordType, recordId, title, url, privateFlag, readOnlyFlag, isAvatar";

fn parse_flag(name: &str, raw: &str, errors: &mut Vec<FieldError>) -> bool {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => true,
        "false" | "0" | "" => false,
        _ => {
            errors.push(FieldError::invalid(
                name,
                format!("{name} must be true or false, not '{raw}'"),
            ));
            false
        }
    }
}

fn multipart_error(error: impl std::fmt::Display) -> ApiError {
    ApiError::bad_body(format!(
        "The multipart/form-data body could not be read: {error}"
    ))
}

struct Upload {
    file_name: Option<String>,
    content_type: String,
    content: Vec<u8>,
    has_file: bool,
    texts: Vec<(String, String)>,
}

async fn read_form(request: Request, max_bytes: usize) -> Result<Upload, ApiError> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(multipart_error)?;
    let mut upload = Upload {
        file_name: None,
        content_type: "application/octet-stream".into(),
        content: Vec::new(),
        has_file: false,
        texts: Vec::new(),
    };
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_ascii_lowercase();
        match name.as_str() {
            "file" => {
                upload.has_file = true;
                upload.file_name = field.file_name().map(str::to_owned);
                if let Some(content_type) = field.content_type() {
                    upload.content_type = content_type.to_owned();
                }
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    if upload.content.len() + chunk.len() > max_bytes {
                        return Err(ApiError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "RequestEntityTooLarge",
                            format!("The uploaded file is larger than the {max_bytes} bytes this site accepts"),
                        ));
                    }
                    upload.content.extend_from_slice(&chunk);
                }
            }
            "recordtype" | "recordid" | "title" | "url" | "privateflag" | "readonlyflag"
            | "readonlyflay" | "isavatar" => {
                let text = field.text().await.map_err(multipart_error)?;
                upload.texts.push((name, text));
            }
            _ => {
                return Err(ApiError::bad_body(format!(
                    "Unknown form field '{}'; documents take {FORM_FIELDS}",
                    field.name().unwrap_or_default()
                )))
            }
        }
    }
    Ok(upload)
}

/// `POST /system/documents`.
pub async fn upload(
    ctx: ApiContext,
    state: SimulatorState,
    request: Request,
) -> Result<Response, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "Documents must be uploaded as multipart/form-data ({FORM_FIELDS}), not '{}'",
                if content_type.is_empty() {
                    "no Content-Type"
                } else {
                    &content_type
                }
            ),
        ));
    }
    let upload = read_form(request, state.config().max_document_bytes).await?;
    let text = |name: &str| {
        upload
            .texts
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
    };
    let mut errors = Vec::new();
    let record_type = text("recordtype").filter(|t| !t.is_empty());
    if record_type.is_none() {
        errors.push(FieldError::missing("recordType"));
    }
    let record_id = match text("recordid").filter(|t| !t.is_empty()) {
        None => {
            errors.push(FieldError::missing("recordId"));
            None
        }
        Some(raw) => raw
            .parse::<i64>()
            .map_err(|_| {
                errors.push(FieldError::invalid(
                    "recordId",
                    format!("recordId must be a whole number, not '{raw}'"),
                ))
            })
            .ok(),
    };
    let url = text("url").filter(|u| !u.is_empty());
    if !upload.has_file && url.is_none() {
        errors.push(FieldError::missing("file"));
    }
    let private = parse_flag(
        "privateFlag",
        &text("privateflag").unwrap_or_default(),
        &mut errors,
    );
    let read_only_raw = text("readonlyflag")
        .or_else(|| text("readonlyflay"))
        .unwrap_or_default();
    let read_only = parse_flag("readOnlyFlag", &read_only_raw, &mut errors);
    parse_flag(
        "isAvatar",
        &text("isavatar").unwrap_or_default(),
        &mut errors,
    );

    let mut records = state.records();
    if let (Some(kind), Some(id)) = (&record_type, record_id) {
        let exists = if kind.eq_ignore_ascii_case("Ticket") {
            Some(records.tickets.contains_key(&id))
        } else if kind.eq_ignore_ascii_case("Company") {
            Some(state.seed().company(id).is_some())
        } else {
            None
        };
        match exists {
            Some(true) => {}
            Some(false) => errors.push(FieldError::invalid(
                "recordId",
                format!("recordId {id} does not name an existing {kind}"),
            )),
            None => errors.push(FieldError::invalid(
                "recordType",
                format!("recordType '{kind}' is not served here; use Ticket or Company"),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid_object("document", errors));
    }
    let (Some(record_type), Some(record_id)) = (record_type, record_id) else {
        return Err(ApiError::invalid_object(
            "document",
            vec![FieldError::missing("recordType")],
        ));
    };
    let record_type = if record_type.eq_ignore_ascii_case("ticket") {
        "Ticket"
    } else {
        "Company"
    };
    let id = records.next_document_id();
    let guid = uuid::Uuid::new_v4().to_string();
    let file_name = upload
        .file_name
        .clone()
        .or_else(|| url.clone())
        .unwrap_or_else(|| format!("document-{id}"));
    let title = text("title")
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| file_name.clone());
    let now = timestamp(Utc::now());
    let info = json!({
        "id": id,
        "title": title,
        "fileName": file_name,
        "serverFileName": format!("{guid}.{}", file_name.rsplit('.').next().unwrap_or("bin")),
        "owner": API_MEMBER,
        "linkFlag": url.is_some(),
        "imageFlag": upload.content_type.starts_with("image/"),
        "publicFlag": !private,
        "htmlTemplateFlag": false,
        "readOnlyFlag": read_only,
        "size": upload.content.len(),
        "urlFlag": url.is_some(),
        "createdOnDate": now,
        "documentType": {"id": 7, "name": "Attachment", "_info": {"documentType_href": ctx.href("/system/documentTypes/7")}},
        "guid": guid,
        "_info": {"lastUpdated": now, "updatedBy": API_MEMBER,
                  "download_href": ctx.href(&format!("/system/documents/{id}/download"))},
    });
    records.documents.insert(
        id,
        DocumentRecord {
            info: info.clone(),
            record_type: record_type.to_owned(),
            record_id,
            file_name,
            content_type: upload.content_type,
            content: upload.content,
        },
    );
    Ok(json_response(StatusCode::CREATED, &info))
}

/// Documents attached to the record the query names (`recordType`/`recordId`), or all of them.
fn matching(
    ctx: &ApiContext,
    state: &SimulatorState,
    fixed: Option<(&str, i64)>,
) -> Result<Vec<Value>, ApiError> {
    let record_type = fixed
        .map(|(t, _)| t.to_owned())
        .or_else(|| ctx.param("recordType").map(str::to_owned));
    let record_id = match fixed {
        Some((_, id)) => Some(id),
        None => match ctx.param("recordId") {
            None => None,
            Some(raw) => Some(raw.trim().parse::<i64>().map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidObject",
                    format!("recordId must be a whole number, not '{raw}'"),
                )
            })?),
        },
    };
    Ok(state
        .records()
        .documents
        .values()
        .filter(|d| {
            record_type
                .as_deref()
                .is_none_or(|t| d.record_type.eq_ignore_ascii_case(t))
        })
        .filter(|d| record_id.is_none_or(|id| d.record_id == id))
        .map(|d| d.info.clone())
        .collect())
}

/// `GET /system/documents`, `/count`, `/{id}` and `/{id}/download`; `ticket` is set for the legacy
/// `/service/tickets/{id}/documents`.
pub fn read(
    ctx: &ApiContext,
    state: &SimulatorState,
    rest: &[&str],
    ticket: Option<i64>,
) -> Result<Response, ApiError> {
    match rest {
        [] => listing::list(ctx, matching(ctx, state, ticket.map(|id| ("Ticket", id)))?),
        ["count"] => listing::count(ctx, matching(ctx, state, ticket.map(|id| ("Ticket", id)))?),
        [id] => listing::single(ctx, &document(state, id)?.info),
        [id, "download"] => {
            let document = document(state, id)?;
            let disposition = format!(
                "attachment; filename=\"{}\"",
                document.file_name.replace('"', "'")
            );
            let mut response = Response::new(Body::from(document.content));
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            if let Ok(value) = HeaderValue::from_str(&disposition) {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            Ok(response)
        }
        _ => Err(ApiError::not_found("Resource", &ctx.path)),
    }
}

fn document(state: &SimulatorState, raw: &str) -> Result<DocumentRecord, ApiError> {
    let id: i64 = raw
        .parse()
        .map_err(|_| ApiError::not_found("Document", raw))?;
    state
        .records()
        .documents
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("Document", id))
}

/// `DELETE /system/documents/{id}`.
pub fn delete(state: &SimulatorState, raw: &str) -> Result<Response, ApiError> {
    let id: i64 = raw
        .parse()
        .map_err(|_| ApiError::not_found("Document", raw))?;
    match state.records().documents.remove(&id) {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(ApiError::not_found("Document", id)),
    }
}
