//! `mspbridge alert ALERT_ID RECORD_ID [--source NAME] [--name ALERT_NAME]`: the Netwrix Auditor
//! alert response action.
//!
//! Auditor appends `{AlertID} {RecordID}` to the command line and retries up to 200 times while the
//! exit code is not 0. So this command exits 0 only once the alert is durably queued: first by
//! handing it to the running service over loopback HTTP (`server.listen`, the first API token);
//! if the service cannot be reached, by writing it straight into the store through the same intake
//! function the service uses. Anything else exits non-zero with a one-line cause, and Auditor tries
//! again later. The ids are not interpreted here: a *Test run*'s sample ids are queued like any
//! others and the engine records that no activity record matches them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use mspbridge_core::config::{self, Config, SourceKind};
use mspbridge_server::api::intake::{
    accept_netwrix, resolve_source, Accepted, NetwrixAlertRequest,
};
use mspbridge_server::api::ErrorBody;

#[derive(Debug, Args)]
pub struct AlertArgs {
    /// Auditor's AlertID.
    #[arg(allow_hyphen_values = true)]
    alert_id: String,
    /// Auditor's RecordID (the activity record's RID).
    #[arg(allow_hyphen_values = true)]
    record_id: String,
    /// The netwrix-auditor source (default: the only one configured).
    #[arg(long, value_name = "NAME")]
    source: Option<String>,
    /// The alert's name, for the ticket summary and the alert key (default: the AlertID). Auditor
    /// sets up a response action per alert, so its command line can carry the name, e.g.
    /// `mspbridge alert --name "Password Reset"`, and Auditor appends the two ids.
    #[arg(long, value_name = "ALERT_NAME")]
    name: Option<String>,
}

/// How a request to the running service ended.
pub(crate) enum ServiceAnswer<T> {
    /// The service answered with success.
    Done(T),
    /// The service could not be reached (not running, or not answering in time).
    Unreachable(String),
}

/// The loopback URL of the running service for `path`.
pub(crate) fn service_url(config: &Config, path: &str) -> String {
    let listen = config.server.listen;
    let host = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}{path}", SocketAddr::new(host, listen.port()))
}

/// POSTs `body` to the running service with the first API token. `Unreachable` when there is no
/// token or no answer; an error when the service answered with a refusal.
pub(crate) async fn post_to_service<T: serde::de::DeserializeOwned>(
    config: &Config,
    path: &str,
    body: &serde_json::Value,
) -> Result<ServiceAnswer<T>> {
    let Some(token) = config.server.api_tokens.first() else {
        return Ok(ServiceAnswer::Unreachable(
            "no server.api_tokens configured".to_string(),
        ));
    };
    let url = service_url(config, path);
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")?;
    let response = match http
        .post(&url)
        .bearer_auth(token.expose())
        .json(body)
        .send()
        .await
    {
        Ok(response) => response,
        Err(err) => {
            return Ok(ServiceAnswer::Unreachable(format!(
                "{url}: {}",
                root_cause(&err)
            )))
        }
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if status.is_success() {
        let value = serde_json::from_str(&text)
            .with_context(|| format!("reading the answer of {url} ({status})"))?;
        return Ok(ServiceAnswer::Done(value));
    }
    let message = serde_json::from_str::<ErrorBody>(&text)
        .map(|body| format!("{} ({})", body.error.message, body.error.code))
        .unwrap_or_else(|_| text.chars().take(200).collect());
    if status.is_server_error() {
        // The service is up but cannot store; the direct path will say why.
        return Ok(ServiceAnswer::Unreachable(format!(
            "{url} answered {status}: {message}"
        )));
    }
    bail!("the service refused the request ({status}): {message}")
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if cause.to_string() == err.to_string() {
        err.to_string()
    } else {
        format!("{err}: {cause}")
    }
}

pub async fn run(config_path: &Path, args: AlertArgs) -> Result<ExitCode> {
    let config = config::load(config_path).map_err(|err| anyhow!("{err}"))?;
    let source = resolve_source(
        &config,
        args.source.as_deref(),
        Some(SourceKind::NetwrixAuditor),
        "--source",
    )
    .map_err(|err| anyhow!("{}", err.message))?;
    let request = NetwrixAlertRequest {
        alert_id: args.alert_id,
        record_id: args.record_id,
        source: Some(source.name.clone()),
        alert_name: args.name,
    };
    let body = serde_json::to_value(&request).context("encoding the alert")?;
    let (accepted, how) = match post_to_service::<Accepted>(
        &config,
        "/api/v1/alerts/netwrix",
        &body,
    )
    .await?
    {
        ServiceAnswer::Done(accepted) => (accepted, "by the service".to_string()),
        ServiceAnswer::Unreachable(why) => {
            tracing::debug!(reason = %why, "service not reachable; writing the alert to the store");
            let accepted = accept_directly(&config, request)
                .await
                .with_context(|| format!("the service is not reachable ({why})"))?;
            (
                accepted,
                "in the store (the service was not reachable)".to_string(),
            )
        }
    };
    if accepted.duplicate {
        eprintln!("alert already queued as #{} ({how})", accepted.id);
    } else {
        eprintln!("alert queued as #{} ({how})", accepted.id);
    }
    println!("{}", accepted.id);
    Ok(ExitCode::SUCCESS)
}

async fn accept_directly(config: &Config, request: NetwrixAlertRequest) -> Result<Accepted> {
    let store = mspbridge_store::open_store(config.server.database.expose())
        .await
        .with_context(|| format!("opening the store {}", config.server.database))?;
    let outcome = accept_netwrix(&store, config, request, chrono::Utc::now()).await;
    store.close().await;
    outcome.map_err(|err| anyhow!("the store did not take the alert: {}", err.message))
}
