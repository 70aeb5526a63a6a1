//! The web console (DESIGN §2.4): server-rendered HTML pages at `/`, in the same process and on the
//! same listener as the API.
//!
//! Layout: [`session`] holds logins, sessions and the login throttle; [`layout`] the page shell,
//! the style sheet and the one small script; [`pages`] the pages; [`mapping`] the IT Glue mapping
//! screen; [`actions`] the buttons and forms. Every page and action reads and changes the product
//! through the same functions as the JSON API (`crate::api::views`, `crate::api::itglue`,
//! `crate::api::reports`), so the console can do nothing the API cannot and both behave alike.
//!
//! Invariants: every route but the login page and the static files needs a live session; every
//! `POST` needs the session's CSRF token in its form and an `admin` session; everything shown is
//! escaped by the template engine (alert names are hostile input) and no secret is ever rendered;
//! pages carry a Content-Security-Policy that allows only this origin's script and style.

pub mod actions;
pub mod imports;
pub mod layout;
pub mod mapping;
pub mod pages;
pub mod session;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::de::DeserializeOwned;

use crate::api::ApiState;
use session::{same_token, Flash, Role, Session, Sessions, SESSION_COOKIE};

/// What a page knows about the request: the session and the flash of the last action.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Session id (the cookie value).
    pub id: String,
    /// The session.
    pub session: Session,
    /// The outcome of the last action, shown once.
    pub flash: Option<Flash>,
    /// The path of this page.
    pub path: String,
}

impl Ctx {
    /// Whether this login may press buttons.
    pub fn can_act(&self) -> bool {
        self.session.role == Role::Admin
    }
}

/// The console's routes, merged into the service's router.
pub fn routes(state: ApiState) -> Router<ApiState> {
    let sessions = Arc::new(Sessions::default());
    let imports = Arc::new(imports::Imports::default());
    let protected = Router::new()
        .route("/", get(pages::overview))
        .route("/alerts", get(pages::alerts))
        .route("/alerts/reroute", post(actions::reroute))
        .route("/alerts/{id}", get(pages::alert))
        .route("/incidents", get(pages::incidents))
        .route("/queue", get(pages::queue))
        .route("/queue/retry-all", post(actions::retry_all))
        .route("/queue/{id}/retry", post(actions::retry))
        .route("/clients", get(pages::clients))
        .route("/connections/test", post(actions::test_connection))
        .route("/itglue", get(pages::itglue))
        .route("/itglue/systems", post(actions::add_system))
        .route("/itglue/systems/csv", post(actions::upload_systems))
        .route("/itglue/{name}", get(mapping::mapping_screen))
        .route("/itglue/{name}/test", post(actions::test_itglue))
        .route("/itglue/{name}/import", post(actions::import))
        .route(
            "/itglue/{name}/import/progress",
            get(pages::import_progress),
        )
        .route("/itglue/{name}/automap", post(actions::automap))
        .route("/itglue/{name}/map", post(actions::map))
        .route("/itglue/{name}/unmap", post(actions::unmap))
        .route("/reports", get(pages::reports))
        .route("/reports/generate", post(actions::generate_report))
        .route("/reports/{id}", get(pages::report))
        .route("/reports/{id}/view", get(pages::report_html))
        .route("/reports/{id}/download", get(pages::report_download))
        .route("/reports/{id}/publish", post(actions::publish_report))
        .route("/events", get(pages::events))
        .route("/logout", post(actions::logout))
        .route_layer(from_fn_with_state(state, require_session));
    Router::new()
        .route("/login", get(pages::login_page).post(actions::login))
        .route("/console.css", get(layout::stylesheet))
        .route("/console.js", get(layout::script))
        .merge(protected)
        .layer(Extension(sessions))
        .layer(Extension(imports))
}

/// The value of cookie `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Whether the browser reached us over TLS (directly or through a proxy that says so).
pub fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Secure over TLS; `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: Option<u64>, secure: bool) -> HeaderValue {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Middleware: a live session or no entry. A page asked for without one is sent to the login
/// page; an action is refused with 403.
async fn require_session(
    State(_state): State<ApiState>,
    Extension(sessions): Extension<Arc<Sessions>>,
    mut request: Request,
    next: Next,
) -> Response {
    let found = cookie(request.headers(), SESSION_COOKIE)
        .and_then(|id| sessions.touch(id).map(|session| (id.to_string(), session)));
    let Some((id, session)) = found else {
        if request.method() == Method::GET || request.method() == Method::HEAD {
            return Redirect::to("/login").into_response();
        }
        return layout::refusal(
            StatusCode::FORBIDDEN,
            "Sign in first: this action needs a console session.",
        );
    };
    let flash = (request.method() == Method::GET)
        .then(|| sessions.take_flash(&id))
        .flatten();
    let path = request.uri().path().to_string();
    request.extensions_mut().insert(Ctx {
        id,
        session,
        flash,
        path,
    });
    next.run(request).await
}

/// The form of an action, accepted only from an `admin` session whose CSRF token it carries.
#[derive(Debug)]
pub struct Action<T> {
    /// The request's context.
    pub ctx: Ctx,
    /// The form's fields (the CSRF token excluded).
    pub form: T,
    /// The session store, for the flash.
    pub sessions: Arc<Sessions>,
}

/// Field of every form that carries the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";

/// Refuses (with the reason to show) unless `ctx` may act and `token` is its CSRF token.
pub fn check_action(ctx: &Ctx, token: Option<&str>) -> Result<(), &'static str> {
    let valid = token.is_some_and(|token| same_token(&ctx.session.csrf, token));
    if !valid {
        return Err("This form has no valid CSRF token; reload the page and try again.");
    }
    if !ctx.can_act() {
        return Err("The viewer login is read-only; sign in as admin to do this.");
    }
    Ok(())
}

impl<S, T> FromRequest<S> for Action<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let ctx = request.extensions().get::<Ctx>().cloned().ok_or_else(|| {
            layout::refusal(StatusCode::FORBIDDEN, "Sign in first.").into_response()
        })?;
        let sessions = request
            .extensions()
            .get::<Arc<Sessions>>()
            .cloned()
            .ok_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())?;
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| layout::refusal(StatusCode::BAD_REQUEST, "The form could not be read."))?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).map_err(|_| {
            layout::refusal(StatusCode::BAD_REQUEST, "The form is not URL-encoded.")
        })?;
        let token = fields
            .iter()
            .find(|(name, _)| name == CSRF_FIELD)
            .map(|(_, value)| value.as_str());
        check_action(&ctx, token)
            .map_err(|reason| layout::refusal(StatusCode::FORBIDDEN, reason))?;
        let form = serde_urlencoded::from_bytes(&body).map_err(|error| {
            layout::refusal(
                StatusCode::BAD_REQUEST,
                &format!("The form is incomplete: {error}"),
            )
        })?;
        Ok(Action {
            ctx,
            form,
            sessions,
        })
    }
}

impl<T> Action<T> {
    /// Shows `message` on the next page and goes to `to`.
    pub fn done(&self, to: &str, ok: bool, message: impl Into<String>) -> Response {
        self.sessions.set_flash(
            &self.ctx.id,
            Flash {
                ok,
                message: message.into(),
            },
        );
        Redirect::to(to).into_response()
    }
}
