//! `mspbridge test-ticket`: proves the ConnectWise set-up end to end, as the vendor wizard's
//! "Create Test Ticket" did — a ticket on the configured company and board, with the description in
//! the configured field and the attachment `TestAttachment.txt`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use mspbridge_core::config::{self, Config};

use crate::wiring;

/// The summary of every test ticket (DESIGN §2.1).
pub const TEST_SUMMARY: &str = "[mspbridge] Test Alert";
/// The name of the attachment uploaded to every test ticket.
pub const TEST_ATTACHMENT: &str = "TestAttachment.txt";

#[derive(Debug, Args)]
pub struct TestTicketArgs {
    /// Open the ticket with this client's routing (company, board, team, priority) instead of the
    /// defaults of `[connectwise.ticket]`.
    #[arg(long, value_name = "NAME")]
    client: Option<String>,
}

/// What `create` did.
#[derive(Debug)]
pub struct CreatedTestTicket {
    pub ticket_id: i64,
    pub summary: String,
    /// Where the attachment went: uploaded, or dumped to the missing-attachments folder.
    pub attachment: AttachmentOutcome,
}

#[derive(Debug)]
pub enum AttachmentOutcome {
    Uploaded { document_id: i64 },
    Dumped { path: PathBuf },
}

pub async fn run(config_path: &Path, args: TestTicketArgs) -> Result<ExitCode> {
    let config = config::load(config_path).map_err(|err| anyhow!("{err}"))?;
    let created = create(&config, args.client.as_deref()).await?;
    match &created.attachment {
        AttachmentOutcome::Uploaded { document_id } => eprintln!(
            "Created test ticket #{} with {TEST_ATTACHMENT} (document {document_id})",
            created.ticket_id
        ),
        AttachmentOutcome::Dumped { path } => eprintln!(
            "Created test ticket #{}; the attachment could not be uploaded and was written to {}",
            created.ticket_id,
            path.display()
        ),
    }
    println!("{}", created.ticket_id);
    Ok(ExitCode::SUCCESS)
}

/// Creates the test ticket for `client` (or the defaults) and uploads its attachment.
pub async fn create(config: &Config, client: Option<&str>) -> Result<CreatedTestTicket> {
    let connectwise = config.connectwise.as_ref().ok_or_else(|| {
        anyhow!("the configuration has no [connectwise] section; run `mspbridge init`")
    })?;
    if let Some(name) = client {
        if config.client(name).is_none() {
            let known: Vec<&str> = config.clients.iter().map(|c| c.name.as_str()).collect();
            return Err(anyhow!(
                "--client {name:?} is not a configured client (clients: {})",
                known.join(", ")
            ));
        }
    }
    let settings = config.effective_ticket_settings(client);
    let description = format!(
        "This ticket was created by mspbridge on {host} to test the integration with ConnectWise Manage.\n\
         If you can read it, with the attachment {TEST_ATTACHMENT}, tickets for {who} will arrive here.\n\
         It can be closed.",
        host = wiring::host_name(),
        who = client.unwrap_or("the default routing"),
    );
    let external_xref = format!(
        "mspbridge-test-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    );
    let new_ticket = wiring::new_ticket(&settings, TEST_SUMMARY, &description, Some(external_xref))
        .with_context(|| match client {
            Some(name) => format!("routing the test ticket for client {name}"),
            None => "routing the test ticket".to_string(),
        })?;

    let cw = wiring::connectwise_client(connectwise)?;
    let ticket = cw
        .create_ticket(&new_ticket)
        .await
        .map_err(|err| anyhow!("{err}"))
        .context("creating the test ticket")?;

    let body = format!(
        "mspbridge test attachment\nticket: {}\ncreated: {}\n",
        ticket.id,
        chrono::Utc::now().to_rfc3339()
    );
    let attachment = match cw
        .upload_document(ticket.id, TEST_ATTACHMENT, body.clone().into_bytes(), TEST_ATTACHMENT)
        .await
    {
        Ok(document) => AttachmentOutcome::Uploaded { document_id: document.id },
        Err(err) if settings.ignore_upload_attachment_error => {
            tracing::warn!(ticket_id = ticket.id, error = %err, "uploading the test attachment failed");
            let path = mspbridge_server::engine::dump_missing_attachment(
                &config.server.missing_attachments_dir,
                ticket.id,
                TEST_ATTACHMENT,
                body.as_bytes(),
            )
            .map_err(|err| anyhow!("{err}"))?;
            AttachmentOutcome::Dumped { path }
        }
        Err(err) => {
            return Err(anyhow!("{err}")).with_context(|| {
                format!(
                    "uploading {TEST_ATTACHMENT} to ticket #{} (set connectwise.ticket.ignore_upload_attachment_error = true to keep going)",
                    ticket.id
                )
            })
        }
    };
    Ok(CreatedTestTicket {
        ticket_id: ticket.id,
        summary: ticket.summary.unwrap_or_default(),
        attachment,
    })
}
