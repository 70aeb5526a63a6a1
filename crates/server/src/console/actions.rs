//! The console's buttons and forms. Each needs an `admin` session and its CSRF token ([`Action`]),
//! does its work through the functions the JSON API uses, and goes back to a page that shows the
//! outcome once.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use mspbridge_store::{JobState, ReportId};
use serde::Deserialize;

use super::imports::{Imports, Recorder};
use super::pages::{login_form, urlencode};
use super::session::{
    same_token, Flash, LoginOutcome, Sessions, LOGIN_COOKIE, MAX_AGE, SESSION_COOKIE,
};
use super::{check_action, cookie, layout, over_tls, set_cookie, Action, Ctx, CSRF_FIELD};
use crate::api::itglue::{MapBody, SystemBody, UnmapQuery};
use crate::api::reports::GenerateBody;
use crate::api::{views, ApiState};
use crate::service::Clients;

/// A form with nothing but its CSRF token.
#[derive(Debug, Deserialize)]
pub struct Nothing {}

fn some(text: Option<String>) -> Option<String> {
    text.map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    password: String,
    #[serde(rename = "_csrf")]
    token: Option<String>,
}

/// `POST /login`.
pub async fn login(
    State(state): State<ApiState>,
    Extension(sessions): Extension<Arc<Sessions>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(form) = serde_urlencoded::from_bytes::<LoginForm>(&body) else {
        return login_form(
            &headers,
            StatusCode::BAD_REQUEST,
            Some("The sign-in form is incomplete."),
        );
    };
    let token_ok = match (cookie(&headers, LOGIN_COOKIE), form.token.as_deref()) {
        (Some(expected), Some(given)) => same_token(expected, given),
        _ => false,
    };
    if !token_ok {
        return login_form(
            &headers,
            StatusCode::FORBIDDEN,
            Some("The sign-in form expired or came from another page; try again."),
        );
    }
    let secure = over_tls(&headers);
    match sessions.login(state.config(), &form.password).await {
        LoginOutcome::Accepted { id, role } => {
            tracing::info!(role = role.as_str(), "console login");
            let mut response = Redirect::to("/").into_response();
            let headers = response.headers_mut();
            headers.append(
                header::SET_COOKIE,
                set_cookie(SESSION_COOKIE, &id, Some(MAX_AGE.as_secs()), secure),
            );
            headers.append(
                header::SET_COOKIE,
                set_cookie(LOGIN_COOKIE, "", Some(0), secure),
            );
            response
        }
        LoginOutcome::Refused { failures } => {
            tracing::warn!(failures, "console login refused: wrong password");
            login_form(
                &headers,
                StatusCode::UNAUTHORIZED,
                Some(&format!(
                    "Wrong password ({failures} wrong in a row; after {} sign-in locks for a while).",
                    super::session::FREE_FAILURES
                )),
            )
        }
        LoginOutcome::Locked { retry_after } => {
            let seconds = retry_after.as_secs().max(1);
            let mut response = login_form(
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                Some(&format!(
                    "Too many wrong passwords: sign-in is locked for {seconds} s."
                )),
            );
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        LoginOutcome::Closed => login_form(
            &headers,
            StatusCode::SERVICE_UNAVAILABLE,
            Some("The console has no password: set server.admin_password in the configuration."),
        ),
    }
}

/// `POST /logout`: ends the session (a viewer may log out too).
pub async fn logout(
    Extension(ctx): Extension<Ctx>,
    Extension(sessions): Extension<Arc<Sessions>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
        .ok()
        .and_then(|fields| {
            fields
                .into_iter()
                .find(|(name, _)| name == CSRF_FIELD)
                .map(|(_, value)| value)
        });
    if !token.is_some_and(|token| same_token(&ctx.session.csrf, &token)) {
        return layout::refusal(
            StatusCode::FORBIDDEN,
            "This form has no valid CSRF token; reload the page and try again.",
        );
    }
    sessions.logout(&ctx.id);
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", Some(0), over_tls(&headers)),
    );
    response
}

/// `POST /queue/{id}/retry`.
pub async fn retry(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    action: Action<Nothing>,
) -> Response {
    match views::retry_job(state.store(), id, state.now()).await {
        Ok(job) => {
            state.wake();
            action.done(
                "/queue",
                true,
                format!("Job {} ({}) is queued again.", job.id, job.kind),
            )
        }
        Err(error) => action.done("/queue", false, error.message),
    }
}

/// `POST /alerts/reroute`: every unrouted alert routed again under the configuration in force,
/// as `POST /api/v1/alerts/reroute` does.
pub async fn reroute(State(state): State<ApiState>, action: Action<Nothing>) -> Response {
    match crate::engine::reroute_unrouted_alerts(
        state.store().as_ref(),
        state.config(),
        state.now(),
    )
    .await
    {
        Ok(outcome) => {
            if outcome.routed > 0 {
                state.wake();
            }
            action.done(
                "/clients",
                true,
                format!(
                    "{} of {} unrouted alert(s) found a client and are queued again.",
                    outcome.routed, outcome.unrouted
                ),
            )
        }
        Err(error) => action.done(
            "/clients",
            false,
            crate::api::ApiError::store("routing the unrouted alerts again", &error).message,
        ),
    }
}

/// `POST /queue/retry-all`: every dead job back in the queue.
pub async fn retry_all(State(state): State<ApiState>, action: Action<Nothing>) -> Response {
    let queue = match views::queue(state.store(), Some(views::MAX_LIMIT)).await {
        Ok(queue) => queue,
        Err(error) => return action.done("/queue", false, error.message),
    };
    let mut retried = 0;
    let mut problems = Vec::new();
    for job in queue
        .jobs
        .iter()
        .filter(|job| job.state == JobState::Dead.to_string())
    {
        match views::retry_job(state.store(), job.id, state.now()).await {
            Ok(_) => retried += 1,
            Err(error) => problems.push(error.message),
        }
    }
    state.wake();
    if problems.is_empty() {
        action.done(
            "/queue",
            true,
            format!("{retried} dead job(s) queued again."),
        )
    } else {
        action.done(
            "/queue",
            false,
            format!(
                "{retried} dead job(s) queued again; {} could not be: {}",
                problems.len(),
                problems.join("; ")
            ),
        )
    }
}

/// Form of *Test connection*.
#[derive(Debug, Deserialize)]
pub struct TestForm {
    kind: String,
    name: String,
}

/// `POST /connections/test`: one authenticated call to ConnectWise, an Auditor source or an IT
/// Glue instance.
pub async fn test_connection(State(state): State<ApiState>, action: Action<TestForm>) -> Response {
    let TestForm { kind, name } = &action.form;
    let config = state.config();
    let outcome: Result<String, String> = match kind.as_str() {
        "connectwise" => match Clients::from_config(config) {
            Ok(Clients {
                connectwise: Some(client),
                ..
            }) => client
                .system_info()
                .await
                .map(|info| {
                    format!(
                        "ConnectWise answered (version {})",
                        info.version.unwrap_or_default()
                    )
                })
                .map_err(|error| format!("ConnectWise: {error}")),
            Ok(_) => Err("ConnectWise is not configured".into()),
            Err(error) => Err(error.to_string()),
        },
        "auditor" => match Clients::from_config(config) {
            Ok(clients) => match clients.auditors.get(name) {
                Some(client) => client
                    .probe()
                    .await
                    .map(|()| format!("Netwrix Auditor source {name} answered"))
                    .map_err(|error| format!("Netwrix Auditor source {name}: {error}")),
                None => Err(format!("{name:?} is not a netwrix-auditor source")),
            },
            Err(error) => Err(error.to_string()),
        },
        "itglue" => match crate::api::itglue::test_connection(&state, name).await {
            Ok((true, detail)) => Ok(detail),
            Ok((false, detail)) => Err(detail),
            Err(error) => Err(error.message),
        },
        other => Err(format!(
            "{other:?} is not a connection kind (connectwise, auditor, itglue)"
        )),
    };
    match outcome {
        Ok(detail) => action.done("/", true, detail),
        Err(detail) => action.done("/", false, detail),
    }
}

/// `POST /itglue/{name}/test`.
pub async fn test_itglue(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    action: Action<Nothing>,
) -> Response {
    match crate::api::itglue::test_connection(&state, &name).await {
        Ok((ok, detail)) => action.done("/itglue", ok, detail),
        Err(error) => action.done("/itglue", false, error.message),
    }
}

/// Form of *Import*.
#[derive(Debug, Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    organizations: Option<String>,
}

/// `POST /itglue/{name}/import`: starts the import in the background; the mapping screen shows its
/// progress.
pub async fn import(
    State(state): State<ApiState>,
    Extension(imports): Extension<Arc<Imports>>,
    Path(name): Path<String>,
    action: Action<ImportForm>,
) -> Response {
    let organizations: Vec<String> = action
        .form
        .organizations
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_string)
        .collect();
    let back = format!("/itglue/{}", urlencode(&name));
    if let Err(error) = crate::itglue::instance(state.config(), &name) {
        return action.done(&back, false, error.to_string());
    }
    if !imports.start(&name) {
        return action.done(
            &back,
            false,
            format!("An import of {name} is already running."),
        );
    }
    let recorder = Recorder::new(imports.clone(), &name);
    tokio::spawn(async move {
        let outcome =
            crate::api::itglue::import(&state, &recorder.instance, &organizations, &recorder).await;
        let (ok, text) = match outcome {
            Ok(summary) => (
                true,
                format!(
                    "Imported {} organization(s), {} contact(s), {} configuration(s).",
                    summary.organizations, summary.contacts, summary.configurations
                ),
            ),
            Err(error) => (false, format!("The import failed: {}", error.message)),
        };
        recorder.imports.finish(&recorder.instance, ok, text);
    });
    Redirect::to(&back).into_response()
}

/// `POST /itglue/{name}/automap`.
pub async fn automap(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    action: Action<Nothing>,
) -> Response {
    let back = format!("/itglue/{}", urlencode(&name));
    match crate::api::itglue::automap_now(&state, &name).await {
        Ok(summary) => action.done(
            &back,
            true,
            format!(
                "Auto Map: clients {} mapped, {} manual, {} failed; systems {} mapped, {} manual, {} failed, {} without organization.",
                summary.clients_mapped,
                summary.clients_manual,
                summary.clients_failed,
                summary.systems_mapped,
                summary.systems_manual,
                summary.systems_failed,
                summary.systems_without_organization
            ),
        ),
        Err(error) => action.done(&back, false, error.message),
    }
}

/// Form of *Map*.
#[derive(Debug, Deserialize)]
pub struct MapForm {
    client: String,
    system: Option<String>,
    target: i64,
}

/// `POST /itglue/{name}/map`.
pub async fn map(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    action: Action<MapForm>,
) -> Response {
    let back = format!("/itglue/{}", urlencode(&name));
    let form = &action.form;
    let system = some(form.system.clone());
    let body = match &system {
        Some(system) => MapBody {
            client: form.client.clone(),
            organization: None,
            system: Some(system.clone()),
            configuration: Some(form.target),
        },
        None => MapBody {
            client: form.client.clone(),
            organization: Some(form.target),
            system: None,
            configuration: None,
        },
    };
    let what = match &system {
        Some(system) => format!("System {system} of {}", form.client),
        None => format!("Client {}", form.client),
    };
    match crate::api::itglue::map(&state, &name, body).await {
        Ok(_) => action.done(&back, true, format!("{what} is mapped by hand.")),
        Err(error) => action.done(&back, false, error.message),
    }
}

/// Form of *Remove map*.
#[derive(Debug, Deserialize)]
pub struct UnmapForm {
    client: String,
    system: Option<String>,
}

/// `POST /itglue/{name}/unmap`.
pub async fn unmap(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    action: Action<UnmapForm>,
) -> Response {
    let back = format!("/itglue/{}", urlencode(&name));
    let query = UnmapQuery {
        client: action.form.client.clone(),
        system: some(action.form.system.clone()),
    };
    let what = match &query.system {
        Some(system) => format!("System {system} of {}", query.client),
        None => format!("Client {}", query.client),
    };
    match crate::api::itglue::unmap(&state, &name, query).await {
        Ok(()) => action.done(&back, true, format!("{what} is no longer mapped.")),
        Err(error) => action.done(&back, false, error.message),
    }
}

/// Form of *Add a system*.
#[derive(Debug, Deserialize)]
pub struct SystemForm {
    client: String,
    name: String,
    #[serde(default)]
    macs: String,
    sensor: Option<String>,
}

/// `POST /itglue/systems`.
pub async fn add_system(State(state): State<ApiState>, action: Action<SystemForm>) -> Response {
    let form = &action.form;
    let body = SystemBody {
        client: form.client.clone(),
        name: form.name.clone(),
        macs: form
            .macs
            .split([',', ' ', ';'])
            .map(str::trim)
            .filter(|mac| !mac.is_empty())
            .map(str::to_string)
            .collect(),
        sensor: some(form.sensor.clone()),
    };
    match crate::api::itglue::register_system(&state, body).await {
        Ok(system) => action.done(
            "/itglue",
            true,
            format!("System {} of {} is registered.", system.name, system.client),
        ),
        Err(error) => action.done("/itglue", false, error.message),
    }
}

/// `POST /itglue/systems/csv`: a multipart form with the CSRF token and the file.
pub async fn upload_systems(
    State(state): State<ApiState>,
    Extension(ctx): Extension<Ctx>,
    Extension(sessions): Extension<Arc<Sessions>>,
    mut multipart: Multipart,
) -> Response {
    let mut token = None;
    let mut file = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_string();
                let Ok(bytes) = field.bytes().await else {
                    return layout::refusal(StatusCode::BAD_REQUEST, "The upload was cut short.");
                };
                match name.as_str() {
                    CSRF_FIELD => token = Some(String::from_utf8_lossy(&bytes).into_owned()),
                    "file" => file = Some(bytes),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(_) => {
                return layout::refusal(StatusCode::BAD_REQUEST, "The upload could not be read.")
            }
        }
    }
    if let Err(reason) = check_action(&ctx, token.as_deref()) {
        return layout::refusal(StatusCode::FORBIDDEN, reason);
    }
    let flash = match file.as_deref().map(std::str::from_utf8) {
        None => Flash {
            ok: false,
            message: "Choose a CSV file to upload.".into(),
        },
        Some(Err(_)) => Flash {
            ok: false,
            message: "The CSV file is not UTF-8.".into(),
        },
        Some(Ok(text)) => match crate::api::itglue::import_systems_csv(&state, text).await {
            Ok(count) => Flash {
                ok: true,
                message: format!("{count} system(s) registered from the CSV file."),
            },
            Err(error) => Flash {
                ok: false,
                message: error.message,
            },
        },
    };
    sessions.set_flash(&ctx.id, flash);
    Redirect::to("/itglue").into_response()
}

/// Form of *Generate*.
#[derive(Debug, Deserialize)]
pub struct GenerateForm {
    client: String,
    name: Option<String>,
    days: Option<u32>,
    publish: Option<String>,
}

/// `POST /reports/generate`.
pub async fn generate_report(
    State(state): State<ApiState>,
    action: Action<GenerateForm>,
) -> Response {
    let form = &action.form;
    let body = GenerateBody {
        client: form.client.clone(),
        name: some(form.name.clone()),
        days: form.days,
        publish: form.publish.as_deref() == Some("true"),
    };
    match crate::api::reports::generate(&state, body).await {
        Ok(answer) => {
            let id = answer.report.id;
            let publish = match &answer.publish {
                Some(publish) => match &publish.refused {
                    Some(reason) => format!(" Publishing was refused: {reason}"),
                    None => " Publishing to IT Glue is queued.".to_string(),
                },
                None => String::new(),
            };
            action.done(
                &format!("/reports/{id}"),
                true,
                format!("Report {id} generated.{publish}"),
            )
        }
        Err(error) => action.done("/reports", false, error.message),
    }
}

/// `POST /reports/{id}/publish`.
pub async fn publish_report(
    State(state): State<ApiState>,
    Path(id): Path<ReportId>,
    action: Action<Nothing>,
) -> Response {
    let back = format!("/reports/{id}");
    match crate::api::reports::publish(&state, id).await {
        Ok(_) => action.done(
            &back,
            true,
            format!("Publishing report {id} to IT Glue is queued."),
        ),
        Err(error) => action.done(&back, false, error.message),
    }
}
