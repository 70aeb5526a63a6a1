//! The API operations mspbridge uses, one method each, on top of the request machinery in
//! [`super::client`]. Paths, verbs and bodies follow the API reference (NOTES §3).

use reqwest::Method;
use serde_json::json;

use super::client::{ApiRequest, ConnectWiseClient, RequestBody};
use super::conditions::Conditions;
use super::error::CwError;
use super::lookups::{Board, BoardStatus, BoardTeam, Company, DocumentInfo, Priority, SystemInfo};
use super::ticket::{truncate_utf16, NewNote, NewTicket, PatchOp, ServiceNote, Ticket};

/// The longest `summary` ConnectWise accepts, in UTF-16 units.
pub const SUMMARY_MAX_UNITS: usize = mspbridge_core::template::SUMMARY_MAX_UTF16_UNITS;

/// The longest `externalXRef` ConnectWise accepts.
pub const EXTERNAL_XREF_MAX_UNITS: usize = 100;

/// Condition strings longer than this go in the body of `POST …/search` instead of the URL.
pub const MAX_CONDITIONS_IN_URL: usize = 1500;

impl ConnectWiseClient {
    /// `GET /system/info`: a cheap authenticated call that proves site, keys and client id work.
    pub async fn system_info(&self) -> Result<SystemInfo, CwError> {
        self.execute_json(&ApiRequest::get("system/info")).await
    }

    /// `POST /service/tickets`. A summary longer than 100 UTF-16 units is cut on a character
    /// boundary; an `externalXRef` that is too long is refused, because cutting it would break the
    /// duplicate check that relies on it.
    pub async fn create_ticket(&self, ticket: &NewTicket) -> Result<Ticket, CwError> {
        if let Some(key) = &ticket.external_x_ref {
            if key.encode_utf16().count() > EXTERNAL_XREF_MAX_UNITS {
                return Err(CwError::InvalidRequest {
                    problem: format!(
                        "externalXRef is longer than {EXTERNAL_XREF_MAX_UNITS} characters"
                    ),
                });
            }
        }
        if ticket.summary.trim().is_empty() {
            return Err(CwError::InvalidRequest {
                problem: "a ticket needs a summary".to_string(),
            });
        }
        let mut body = ticket.clone();
        body.summary = truncate_utf16(&ticket.summary, SUMMARY_MAX_UNITS).to_string();
        let request = ApiRequest::json(Method::POST, "service/tickets", &body);
        let created: Ticket = self.execute_json(&request).await?;
        tracing::info!(ticket_id = created.id, "ConnectWise ticket created");
        Ok(created)
    }

    /// Creates the ticket unless one with the same `externalXRef` already exists; returns the
    /// ticket and whether it was created now. This is the safe way to repeat a create whose first
    /// attempt ended with [`CwError::is_unknown_outcome`]: the earlier attempt may have succeeded.
    pub async fn find_or_create_ticket(
        &self,
        ticket: &NewTicket,
    ) -> Result<(Ticket, bool), CwError> {
        let Some(key) = ticket.external_x_ref.as_deref() else {
            return Err(CwError::InvalidRequest {
                problem: "find_or_create_ticket needs a ticket with an externalXRef".to_string(),
            });
        };
        if let Some(existing) = self.find_ticket_by_external_xref(key).await? {
            tracing::info!(
                ticket_id = existing.id,
                "ConnectWise ticket already exists for this externalXRef"
            );
            return Ok((existing, false));
        }
        Ok((self.create_ticket(ticket).await?, true))
    }

    /// Moves a ticket to another status of its board (a status with `closedStatus` closes it,
    /// one without reopens it); returns the updated ticket.
    pub async fn set_ticket_status(
        &self,
        ticket_id: i64,
        status_id: i64,
    ) -> Result<Ticket, CwError> {
        self.patch_ticket(
            ticket_id,
            &[PatchOp::replace("status", json!({ "id": status_id }))],
        )
        .await
    }

    /// `GET /service/tickets/{id}`.
    pub async fn get_ticket(&self, ticket_id: i64) -> Result<Ticket, CwError> {
        self.execute_json(&ApiRequest::get(format!("service/tickets/{ticket_id}")))
            .await
    }

    /// `PATCH /service/tickets/{id}` with a JSON-Patch-like array; returns the updated ticket.
    pub async fn patch_ticket(&self, ticket_id: i64, ops: &[PatchOp]) -> Result<Ticket, CwError> {
        if ops.is_empty() {
            return Err(CwError::InvalidRequest {
                problem: format!("nothing to change on ticket {ticket_id}"),
            });
        }
        let request = ApiRequest::json(Method::PATCH, format!("service/tickets/{ticket_id}"), &ops);
        self.execute_json(&request).await
    }

    /// Every ticket matching `conditions`, in id order. Long condition strings are sent in the
    /// body of `POST /service/tickets/search` so they cannot overflow the URL.
    pub async fn search_tickets(&self, conditions: &Conditions) -> Result<Vec<Ticket>, CwError> {
        let text = conditions.render();
        let request = if text.len() > MAX_CONDITIONS_IN_URL {
            ApiRequest::json(
                Method::POST,
                "service/tickets/search",
                &json!({ "conditions": text, "orderBy": "id asc" }),
            )
        } else {
            ApiRequest::get("service/tickets")
                .with_query("conditions", text)
                .with_query("orderBy", "id asc")
        };
        self.list_pages(request).await
    }

    /// The ticket whose `externalXRef` is `key` (the oldest, should there be several). This is how
    /// a create whose outcome is unknown is resolved before it is tried again.
    pub async fn find_ticket_by_external_xref(&self, key: &str) -> Result<Option<Ticket>, CwError> {
        let matches = self
            .search_tickets(&Conditions::eq("externalXRef", key))
            .await?;
        if matches.len() > 1 {
            tracing::warn!(
                count = matches.len(),
                ticket_id = matches[0].id,
                "several ConnectWise tickets share one externalXRef; using the oldest"
            );
        }
        Ok(matches.into_iter().min_by_key(|ticket| ticket.id))
    }

    /// `POST /service/tickets/{id}/notes`.
    pub async fn add_note(&self, ticket_id: i64, note: &NewNote) -> Result<ServiceNote, CwError> {
        let request = ApiRequest::json(
            Method::POST,
            format!("service/tickets/{ticket_id}/notes"),
            note,
        );
        self.execute_json(&request).await
    }

    /// Every note of a ticket.
    pub async fn list_notes(&self, ticket_id: i64) -> Result<Vec<ServiceNote>, CwError> {
        self.list_pages(ApiRequest::get(format!(
            "service/tickets/{ticket_id}/notes"
        )))
        .await
    }

    /// Every service board.
    pub async fn list_boards(&self) -> Result<Vec<Board>, CwError> {
        self.list_pages(ApiRequest::get("service/boards")).await
    }

    /// The statuses of one board (`closed_status` tells which ones close a ticket).
    pub async fn board_statuses(&self, board_id: i64) -> Result<Vec<BoardStatus>, CwError> {
        self.list_pages(ApiRequest::get(format!(
            "service/boards/{board_id}/statuses"
        )))
        .await
    }

    /// The teams of one board.
    pub async fn board_teams(&self, board_id: i64) -> Result<Vec<BoardTeam>, CwError> {
        self.list_pages(ApiRequest::get(format!("service/boards/{board_id}/teams")))
            .await
    }

    /// Every ticket priority.
    pub async fn list_priorities(&self) -> Result<Vec<Priority>, CwError> {
        self.list_pages(ApiRequest::get("service/priorities")).await
    }

    /// Companies, all of them or those matching `conditions`.
    pub async fn list_companies(
        &self,
        conditions: Option<&Conditions>,
    ) -> Result<Vec<Company>, CwError> {
        let mut request = ApiRequest::get("company/companies");
        if let Some(conditions) = conditions {
            request = request.with_query("conditions", conditions.render());
        }
        self.list_pages(request).await
    }

    /// Attaches a file to a ticket: `POST /system/documents` as multipart/form-data with
    /// `recordType=Ticket`, `recordId`, `title` and `file` (a JSON body would get 415).
    pub async fn upload_document(
        &self,
        ticket_id: i64,
        file_name: &str,
        bytes: Vec<u8>,
        title: &str,
    ) -> Result<DocumentInfo, CwError> {
        if file_name.trim().is_empty() || file_name.chars().any(char::is_control) {
            return Err(CwError::InvalidRequest {
                problem: format!("'{file_name}' is not a usable attachment file name"),
            });
        }
        let request = ApiRequest {
            method: Method::POST,
            path: "system/documents".to_string(),
            query: Vec::new(),
            body: RequestBody::Document {
                record_type: "Ticket".to_string(),
                record_id: ticket_id,
                title: title.to_string(),
                file_name: file_name.to_string(),
                bytes,
            },
        };
        let document: DocumentInfo = self.execute_json(&request).await?;
        tracing::info!(
            ticket_id,
            document_id = document.id,
            "attachment uploaded to ConnectWise ticket"
        );
        Ok(document)
    }

    /// The attachments of a ticket.
    pub async fn list_documents(&self, ticket_id: i64) -> Result<Vec<DocumentInfo>, CwError> {
        let request = ApiRequest::get("system/documents")
            .with_query("recordType", "Ticket")
            .with_query("recordId", ticket_id.to_string());
        self.list_pages(request).await
    }
}
