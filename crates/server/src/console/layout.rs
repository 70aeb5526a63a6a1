//! The shell every console page shares: head, navigation, the flash of the last action, and the
//! security headers; plus the style sheet and the one small script, both compiled into the binary
//! so the console works offline.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::{Ctx, CSRF_FIELD};

/// What console pages may load: only this origin's script and style, no framing.
pub const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const NAV: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/alerts", "Alerts"),
    ("/incidents", "Incidents"),
    ("/queue", "Queue"),
    ("/clients", "Clients & routing"),
    ("/itglue", "IT Glue"),
    ("/reports", "Reports"),
    ("/events", "Events"),
];

/// Headers of every console answer.
pub fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · mspbridge" }
            link rel="stylesheet" href="/console.css";
            script src="/console.js" defer {}
        }
    }
}

/// A whole page for a signed-in session.
pub fn page(ctx: &Ctx, title: &str, content: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "mspbridge" }
                    nav aria-label="Console" {
                        ul {
                            @for (href, label) in NAV {
                                @let current = ctx.path == *href
                                    || (*href != "/" && ctx.path.starts_with(&format!("{href}/")));
                                li {
                                    @if current {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    form.logout method="post" action="/logout" {
                        (csrf(ctx))
                        span.who { "Signed in as " (ctx.session.role.as_str()) }
                        " "
                        button type="submit" { "Log out" }
                    }
                }
                main #main {
                    h1 { (title) }
                    @if let Some(flash) = &ctx.flash {
                        @if flash.ok {
                            p.flash.ok role="status" { (flash.message) }
                        } @else {
                            p.flash.bad role="alert" { (flash.message) }
                        }
                    }
                    @if !ctx.can_act() {
                        p.note { "Read-only login: actions are not available." }
                    }
                    (content)
                }
            }
        }
    };
    secure((StatusCode::OK, Html(shown(markup))).into_response())
}

/// A page without navigation (the login page, refusals).
pub fn bare(status: StatusCode, title: &str, content: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                main #main {
                    h1 { (title) }
                    (content)
                }
            }
        }
    };
    secure((status, Html(shown(markup))).into_response())
}

/// A refusal page with `status`.
pub fn refusal(status: StatusCode, message: &str) -> Response {
    bare(
        status,
        "Not allowed",
        html! {
            p.flash.bad role="alert" { (message) }
            p { a href="/login" { "Sign in" } " · " a href="/" { "Overview" } }
        },
    )
}

/// The hidden CSRF field of the session's forms.
pub fn csrf(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf); }
}

/// A one-button form posting `fields` to `action`; nothing for a read-only login.
pub fn button(ctx: &Ctx, action: &str, label: &str, fields: &[(&str, &str)]) -> Markup {
    html! {
        @if ctx.can_act() {
            form.inline method="post" action=(action) {
                (csrf(ctx))
                @for (name, value) in fields {
                    input type="hidden" name=(name) value=(value);
                }
                button type="submit" { (label) }
            }
        }
    }
}

/// An SVG chart made by the report chart code (which escapes every label itself).
pub fn chart(svg: String) -> Markup {
    html! { figure.chart { (PreEscaped(svg)) } }
}

/// A table that scrolls sideways on narrow screens.
pub fn table_wrap(label: &str, table: Markup) -> Markup {
    html! {
        div.table-wrap role="region" aria-label=(label) tabindex="0" { (table) }
    }
}

/// A time as `2026-01-31 08:00:00 UTC`.
pub fn time(at: chrono::DateTime<chrono::Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M:%S UTC")) } }
}

/// `GET /console.css`.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        STYLE,
    )
        .into_response()
}

/// `GET /console.js`.
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        SCRIPT,
    )
        .into_response()
}

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2328;background:#f6f8fa}
a{color:#0550ae}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px}
header.top{background:#24292f;color:#fff;display:flex;flex-wrap:wrap;align-items:center;gap:6px 16px;padding:8px 16px}
header.top .brand{font-weight:700;font-size:17px}
header.top nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:2px 4px}
header.top nav a{color:#fff;text-decoration:none;padding:4px 8px;border-radius:4px;display:inline-block}
header.top nav a[aria-current=page]{background:#57606a}
header.top nav a:hover,header.top nav a:focus{background:#424a53}
form.logout{margin-left:auto;display:flex;align-items:center;gap:6px}
form.logout .who{font-size:13px}
main{padding:16px;max-width:1400px;margin:0 auto}
body.bare main{max-width:420px;margin-top:8vh;background:#fff;border:1px solid #d0d7de;border-radius:8px}
h1{font-size:22px;margin:4px 0 12px}h2{font-size:18px;margin:20px 0 8px}h3{font-size:16px;margin:14px 0 6px}
.flash{padding:8px 12px;border-radius:6px;border:1px solid}
.flash.ok{background:#dafbe1;border-color:#4ac26b;color:#0f3d1b}
.flash.bad{background:#ffebe9;border-color:#ff8182;color:#6e0b11}
.note{color:#57606a}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:10px 12px}
.card .n{font-size:24px;font-weight:700;display:block}
.card .l{color:#57606a;font-size:13px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,520px),1fr));gap:16px}
section.panel{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:10px 14px;min-width:0}
section.panel>h2:first-child,section.panel>h3:first-child{margin-top:2px}
figure.chart{margin:0}
figure.chart svg{max-width:100%;height:auto}
svg.chart text{font-family:system-ui,'Segoe UI',Helvetica,Arial,sans-serif}
svg.chart .label{font-size:13px;fill:#1f2328}
svg.chart .value{font-size:12px;fill:#1f2328;font-weight:600}
svg.chart .axis{font-size:11px;fill:#57606a}
.table-wrap{overflow-x:auto;max-width:100%;position:relative}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #d8dee4;vertical-align:top}
th{background:#f6f8fa;font-weight:600;white-space:nowrap}
td.num{text-align:right}
.badge{display:inline-block;padding:0 7px;border-radius:10px;font-size:12px;font-weight:600;border:1px solid;white-space:nowrap}
.b-ok{background:#dafbe1;border-color:#4ac26b;color:#0f3d1b}
.b-bad{background:#ffebe9;border-color:#ff8182;color:#6e0b11}
.b-warn{background:#fff8c5;border-color:#d4a72c;color:#4d2d00}
.b-info{background:#ddf4ff;border-color:#54aeff;color:#0a3069}
.b-none{background:#f6f8fa;border-color:#d0d7de;color:#424a53}
form.inline{display:inline}
form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-end;margin:8px 0}
form.filters label,form.stack label{display:flex;flex-direction:column;font-size:13px;color:#424a53}
form.stack{display:flex;flex-direction:column;gap:8px;max-width:520px}
input,select,textarea,button{font:inherit}
input,select,textarea{border:1px solid #8c959f;border-radius:4px;padding:4px 6px;background:#fff;color:#1f2328;max-width:100%}
button{border:1px solid #1f6feb;background:#0969da;color:#fff;border-radius:4px;padding:4px 10px;cursor:pointer}
button.secondary{background:#fff;color:#0550ae}
button.danger{background:#cf222e;border-color:#a40e26}
header.top button{background:#fff;color:#24292f;border-color:#fff}
.filterbar a{display:inline-block;margin:2px 4px 2px 0;padding:2px 8px;border:1px solid #d0d7de;border-radius:12px;text-decoration:none;background:#fff}
.filterbar a[aria-current=true]{background:#0969da;color:#fff;border-color:#0969da}
.reason{color:#6e0b11;font-size:13px}
pre{background:#fff;border:1px solid #d0d7de;padding:8px;overflow:auto;max-height:420px;font-size:13px}
iframe.preview{width:100%;height:70vh;border:1px solid #d0d7de;background:#fff}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px}dl.facts dt{font-weight:600}dl.facts dd{margin:0}
@media (max-width:600px){main{padding:8px}th,td{padding:4px 5px}form.logout{margin-left:0}}
"#;

const SCRIPT: &str = r#"
'use strict';
document.addEventListener('DOMContentLoaded', function () {
  // Buttons that change something ask first.
  document.querySelectorAll('form[data-confirm]').forEach(function (form) {
    form.addEventListener('submit', function (event) {
      if (!window.confirm(form.getAttribute('data-confirm'))) { event.preventDefault(); }
    });
  });
  // The mapping screen's search narrows the rows as one types (the form works without this too).
  var search = document.getElementById('map-search');
  if (search) {
    search.addEventListener('input', function () {
      var needle = search.value.trim().toLowerCase();
      document.querySelectorAll('tr[data-search]').forEach(function (row) {
        row.hidden = needle !== '' && row.getAttribute('data-search').indexOf(needle) < 0;
      });
    });
  }
  // A running import reports its progress; the page polls it and reloads when the import is over.
  var progress = document.getElementById('import-progress');
  if (progress) {
    var tick = function () {
      fetch(progress.getAttribute('data-url'), { credentials: 'same-origin' })
        .then(function (answer) { return answer.json(); })
        .then(function (state) {
          progress.querySelector('.text').textContent = state.text;
          if (state.running) { window.setTimeout(tick, 500); } else { window.location.reload(); }
        })
        .catch(function () { window.setTimeout(tick, 2000); });
    };
    window.setTimeout(tick, 300);
  }
});
"#;

/// The page as sent: every bidirectional control shown as `[U+XXXX]` and every zero-width or
/// control character (but newline and tab) removed, wherever it came from (an alert name, a
/// record, a mapping reason), so a page never displays text that reads differently than it is.
fn shown(markup: Markup) -> String {
    mspbridge_core::text::clean(&markup.into_string())
}
