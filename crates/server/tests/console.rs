//! The web console over loopback HTTP: a real service on port 0 with its simulators, a SQLite file
//! and the console's login.
//!
//! The security tests speak plain HTTP (every page and action refused without a session, CSRF,
//! escaping, the login throttle, no secret in any page). `console_in_chromium` drives Debian's
//! Chromium through `console-tests/console.mjs` (playwright-core and axe-core from npm): it logs
//! in, visits and checks every page for accessibility, maps, unmaps and auto-maps, retries a dead
//! job, generates and publishes a report; this test then checks the outcome through the JSON API.
//! Screenshots are kept under `<target>/console-screenshots/`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use mspbridge_core::config;
use mspbridge_server::service::{Service, ServiceOptions};
use mspbridge_simulators::connectwise::{self, ConnectWiseSimulator, SimulatorConfig};
use mspbridge_simulators::itglue::{self as itglue_sim, ItGlueSimConfig, ItGlueSimulator};
use mspbridge_store::{JobFilter, JobState, NewJob, Store};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::{json, Value};

const TOKEN: &str = "console-api-token-7c1e";
const ADMIN_PASSWORD: &str = "Admin-Passw0rd-for-console";
const VIEWER_PASSWORD: &str = "Viewer-Passw0rd-for-console";
const ITGLUE_KEY: &str = "ITG.console-secret-key-31";
const HOSTILE: &str =
    "<script>window.__pwned=1</script><img src=x onerror=alert(1)>Invoice\u{202E}fdp.exe\u{200B}";

struct App {
    service: Option<Service>,
    base: String,
    http: reqwest::Client,
    dead_job: i64,
    hostile_alert: i64,
    _connectwise: ConnectWiseSimulator,
    _itglue: ItGlueSimulator,
    _dir: tempfile::TempDir,
}

fn config_text(dir: &std::path::Path, connectwise: &str, itglue: &str) -> String {
    let cw = SimulatorConfig::default();
    format!(
        r#"
[server]
database = "sqlite://{db}"
api_tokens = ["{TOKEN}"]
admin_password = "{ADMIN_PASSWORD}"
viewer_password = "{VIEWER_PASSWORD}"
missing_attachments_dir = "{missing}"

[connectwise]
site = "{connectwise}"
company_id = "{company}"
public_key = "{public}"
private_key = "{private}"
client_id = "mspbridge-tests"

[connectwise.ticket]
company_id = 250
board_id = 3

[[sources]]
name = "hooks"
kind = "webhook"

[[clients]]
name = "Acme"
email = "it@acme.example"
connectwise = {{ company_id = 250, board_id = 3, team_id = 26 }}

[[clients]]
name = "Globex"
email = "security@globex.example"

[[itglue]]
name = "main"
url = "{itglue}"
api_key = "{ITGLUE_KEY}"
clients = ["Acme", "Globex"]
"#,
        db = dir.join("console.db").display(),
        missing = dir.join("missing").display(),
        company = cw.company_id,
        public = cw.public_key,
        private = cw.private_key,
    )
}

impl App {
    async fn start() -> App {
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let connectwise = connectwise::spawn(SimulatorConfig::default(), loopback)
            .await
            .unwrap();
        let itglue = itglue_sim::spawn(ItGlueSimConfig::demo(ITGLUE_KEY), loopback)
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let text = config_text(dir.path(), &connectwise.base_url(), itglue.base_url());
        let config = config::parse_str(&text, "console.toml").unwrap();
        let mut options = ServiceOptions::new("console-tests");
        options.listen = Some(loopback);
        let service = Service::start(config, options).await.unwrap();
        let dead_job = dead_letter_a_job(service.store().as_ref()).await;
        let mut app = App {
            base: service.base_url(),
            service: Some(service),
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            dead_job,
            hostile_alert: 0,
            _connectwise: connectwise,
            _itglue: itglue,
            _dir: dir,
        };
        app.seed().await;
        app
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Alerts (one with a hostile name, one unrouted) and systems to map.
    async fn seed(&mut self) {
        let now = Utc::now().to_rfc3339();
        for (id, name, client) in [
            ("a-1", "Password Reset", Some("Acme")),
            ("a-2", HOSTILE, Some("Acme")),
            ("a-3", "Disk Full", None),
        ] {
            let mut alert = json!({
                "source": "hooks",
                "alert_id": id,
                "alert_name": name,
                "occurred_at": now,
            });
            if let Some(client) = client {
                alert["client"] = json!(client);
            }
            self.api(reqwest::Method::POST, "/api/v1/alerts", Some(alert))
                .await;
        }
        for (name, macs) in [
            ("ACME-DC01", vec!["00:1A:2B:3C:4D:5E"]),
            ("WS-LOBBY", vec!["02:00:00:00:00:99"]),
        ] {
            self.api(
                reqwest::Method::POST,
                "/api/v1/systems",
                Some(json!({"client": "Acme", "name": name, "macs": macs})),
            )
            .await;
        }
        let engine = self.service.as_ref().unwrap().engine().unwrap();
        engine.run_until_idle().await.unwrap();
        seed_history(self.service.as_ref().unwrap().store().as_ref()).await;
        let alerts = self
            .api(reqwest::Method::GET, "/api/v1/alerts?client=Acme", None)
            .await;
        self.hostile_alert = alerts
            .as_array()
            .unwrap()
            .iter()
            .find(|alert| alert["alert_name"] == HOSTILE)
            .and_then(|alert| alert["id"].as_i64())
            .expect("the hostile alert is stored");
    }

    async fn stop(mut self) {
        self.service.take().unwrap().shutdown().await.unwrap();
    }
}

/// Two weeks of ticket events, so the overview's charts have a history to draw.
async fn seed_history(store: &dyn Store) {
    use mspbridge_core::events::{
        FLOOD_TICKET_OPENED, TICKET_CREATED, TICKET_REOPENED, TICKET_UPDATED,
    };
    let now = Utc::now();
    for day in 1..14i64 {
        let at = now - chrono::Duration::days(day);
        let counts = [
            (TICKET_CREATED, (day * 7) % 5 + 1),
            (TICKET_UPDATED, (day * 3) % 7),
            (TICKET_REOPENED, i64::from(day % 4 == 0)),
            (FLOOD_TICKET_OPENED, i64::from(day % 5 == 0)),
        ];
        for (code, count) in counts {
            for n in 0..count {
                let client = if (day + n) % 3 == 0 { "Globex" } else { "Acme" };
                store
                    .append_event(mspbridge_store::NewEvent {
                        code,
                        at,
                        client: Some(client.into()),
                        subject: Some(format!("{}", 1000 + day * 10 + n)),
                        message: format!("ticket {} (history)", 1000 + day * 10 + n),
                        details: json!({}),
                    })
                    .await
                    .unwrap();
            }
        }
    }
}

/// A job that failed for good, made through the store's own lease protocol: enqueued far in the
/// future (so the engine leaves it alone), claimed at that time and failed without a retry.
async fn dead_letter_a_job(store: &dyn Store) -> i64 {
    let later = Utc::now() + chrono::Duration::days(365);
    let job = store
        .enqueue_job(NewJob {
            kind: "publish_report".into(),
            serial_key: Some("console-test".into()),
            payload: json!({"report_id": 999_999}),
            run_at: later,
            idempotency_key: None,
            created_at: Utc::now(),
        })
        .await
        .unwrap();
    let claimed = store
        .claim_jobs("console-test", later, Duration::from_secs(60), 10)
        .await
        .unwrap();
    let leased = claimed.iter().find(|c| c.id == job.id).expect("claimed");
    store
        .fail_job(
            job.id,
            leased.lease_token.as_deref().unwrap(),
            later,
            "IT Glue answered 503 three times",
            None,
        )
        .await
        .unwrap();
    let dead = store
        .list_jobs(
            JobFilter {
                state: Some(JobState::Dead),
                ..JobFilter::default()
            },
            10,
        )
        .await
        .unwrap();
    assert!(dead.iter().any(|d| d.id == job.id));
    job.id
}

/// The pages of the console (the alert page of the hostile alert included).
fn pages(app: &App) -> Vec<String> {
    [
        "/",
        "/alerts",
        &format!("/alerts/{}", app.hostile_alert),
        "/incidents",
        "/queue",
        "/clients",
        "/itglue",
        "/itglue/main",
        "/reports",
        "/events",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect()
}

/// Every form action, posted with a plausible body.
const ACTIONS: &[(&str, &str)] = &[
    ("/queue/1/retry", ""),
    ("/queue/retry-all", ""),
    ("/alerts/reroute", ""),
    ("/connections/test", "kind=connectwise&name=connectwise"),
    ("/itglue/main/test", ""),
    ("/itglue/main/import", "organizations="),
    ("/itglue/main/automap", ""),
    ("/itglue/main/map", "client=Acme&target=10"),
    ("/itglue/main/unmap", "client=Acme"),
    ("/itglue/systems", "client=Acme&name=X&macs="),
    ("/reports/generate", "client=Acme&days=7"),
    ("/reports/1/publish", ""),
    ("/logout", ""),
];

/// Signs in with `password`; returns the session cookie and the CSRF token of the overview.
async fn sign_in(app: &App, password: &str) -> (String, String) {
    let (status, cookie, _) = try_sign_in(app, password).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "sign-in with {password:?}");
    let cookie = cookie.expect("a session cookie");
    let page = get_page(app, "/", &cookie).await;
    let token = page
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the overview has a CSRF field")
        .to_string();
    (cookie, token)
}

/// Posts the login form the way a browser does; returns (status, session cookie, body).
async fn try_sign_in(app: &App, password: &str) -> (StatusCode, Option<String>, String) {
    let form = app.http.get(app.url("/login")).send().await.unwrap();
    let login_cookie = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("mspbridge_login="))
        .map(|v| v.split(';').next().unwrap().to_string())
        .expect("the login page sets its cookie");
    let token = login_cookie
        .trim_start_matches("mspbridge_login=")
        .to_string();
    let response = app
        .http
        .post(app.url("/login"))
        .header("cookie", &login_cookie)
        .form(&[("password", password), ("_csrf", &token)])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let set: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    if let Some(session) = set.iter().find(|v| v.starts_with("mspbridge_session=")) {
        assert!(session.contains("HttpOnly"), "{session}");
        assert!(session.contains("SameSite=Strict"), "{session}");
    }
    let session = set
        .iter()
        .find(|v| v.starts_with("mspbridge_session="))
        .map(|v| v.split(';').next().unwrap().to_string());
    (status, session, response.text().await.unwrap())
}

async fn get_page(app: &App, path: &str, cookie: &str) -> String {
    let response = app
        .http
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    let policy = response
        .headers()
        .get("content-security-policy")
        .expect("console pages carry a CSP")
        .to_str()
        .unwrap()
        .to_string();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    response.text().await.unwrap()
}

async fn post_form(
    app: &App,
    path: &str,
    cookie: Option<&str>,
    body: &str,
) -> (StatusCode, String) {
    let mut request = app
        .http
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_security() {
    let app = App::start().await;

    // Without a session: every page sends to the login page, every action is refused.
    for path in pages(&app) {
        let response = app.http.get(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "GET {path}");
        assert_eq!(response.headers()["location"], "/login", "GET {path}");
        let body = response.text().await.unwrap();
        assert!(!body.contains("Acme"), "GET {path} leaked: {body}");
    }
    for (path, body) in ACTIONS {
        let (status, _) = post_form(&app, path, None, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "POST {path}");
        let (status, _) = post_form(&app, path, Some("mspbridge_session=forged"), body).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "POST {path} with a forged session"
        );
    }
    let depth = app.api(reqwest::Method::GET, "/api/v1/queue", None).await;
    assert_eq!(depth["depth"]["dead"], 1, "nothing was retried: {depth}");

    // With a session but without (or with a wrong) CSRF token: refused, nothing done.
    let (cookie, token) = sign_in(&app, ADMIN_PASSWORD).await;
    for (path, body) in ACTIONS {
        let (status, text) = post_form(&app, path, Some(&cookie), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "POST {path} without CSRF");
        assert!(text.contains("CSRF"), "{text}");
        let forged = format!("{body}&_csrf=0000{}", &token[4..]);
        let (status, _) = post_form(&app, path, Some(&cookie), &forged).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "POST {path} with a wrong CSRF token"
        );
    }
    let depth = app.api(reqwest::Method::GET, "/api/v1/queue", None).await;
    assert_eq!(depth["depth"]["dead"], 1, "nothing was retried: {depth}");
    let upload = |token: Option<&str>| {
        let mut form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::text("name,client,macs,sensor\nCSV-01,Acme,,agent\n")
                .file_name("systems.csv"),
        );
        if let Some(token) = token {
            form = form.text("_csrf", token.to_string());
        }
        app.http
            .post(app.url("/itglue/systems/csv"))
            .header("cookie", &cookie)
            .multipart(form)
            .send()
    };
    assert_eq!(upload(None).await.unwrap().status(), StatusCode::FORBIDDEN);
    let systems = app.api(reqwest::Method::GET, "/api/v1/systems", None).await;
    assert_eq!(
        systems.as_array().unwrap().len(),
        2,
        "no CSV row stored: {systems}"
    );
    assert_eq!(
        upload(Some(&token)).await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let systems = app.api(reqwest::Method::GET, "/api/v1/systems", None).await;
    assert_eq!(
        systems.as_array().unwrap().len(),
        3,
        "the CSV row is stored: {systems}"
    );

    // The hostile alert name is escaped on every page, and no secret appears anywhere.
    let secrets = [
        ADMIN_PASSWORD,
        VIEWER_PASSWORD,
        ITGLUE_KEY,
        TOKEN,
        &SimulatorConfig::default().private_key,
    ];
    for path in pages(&app) {
        let page = get_page(&app, &path, &cookie).await;
        assert!(
            !page.contains("<script>window"),
            "GET {path} has the raw script"
        );
        assert!(!page.contains("<img src=x"), "GET {path} has the raw img");
        assert!(
            !page.contains('\u{202E}') && !page.contains('\u{200B}'),
            "GET {path} has a raw bidi override or zero-width character"
        );
        for secret in secrets {
            assert!(!page.contains(secret), "GET {path} shows a secret");
        }
    }
    // The alert's page says how the rules routed it and what happened to its ticket.
    let alert = get_page(&app, &format!("/alerts/{}", app.hostile_alert), &cookie).await;
    assert!(alert.contains("routed to <strong>Acme</strong>"), "{alert}");
    assert!(alert.contains("ticket_created"), "{alert}");
    // Its rule decisions, in order, each with its reason, and its ticket.
    assert!(
        alert.contains("<caption>Rule decisions, oldest first, each with its reason</caption>"),
        "{alert}"
    );
    let routing = alert.find("<td>routing</td><td><strong>routed to Acme</strong></td>");
    let repeat =
        alert.find("<td>repeat</td><td><strong>new ticket</strong></td><td>incident &quot;Acme/");
    let flood = alert.find("<td>flood</td><td><strong>standalone ticket</strong></td>");
    assert!(
        routing.is_some() && routing < repeat && repeat < flood,
        "routing, then repeat, then flood: {alert}"
    );
    assert!(
        alert.contains("no incident is tracked for this key"),
        "{alert}"
    );
    let detail = app
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/alerts/{}", app.hostile_alert),
            None,
        )
        .await;
    assert_eq!(detail["alert_name"], HOSTILE, "{detail}");
    let rules: Vec<&str> = detail["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|decision| decision["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["routing", "repeat", "flood"], "{detail}");
    let ticket = detail["ticket_id"].as_i64().expect("its ticket is known");
    assert!(
        alert.contains(&format!("#{ticket}")),
        "the page links its ticket {ticket}: {alert}"
    );
    let unrouted = app
        .api(reqwest::Method::GET, "/api/v1/alerts?state=unrouted", None)
        .await;
    let unrouted_id = unrouted[0]["id"].as_i64().unwrap();
    let page = get_page(&app, &format!("/alerts/{unrouted_id}"), &cookie).await;
    assert!(
        page.contains("<td>unrouted</td><td><strong>unrouted</strong></td><td>no client matched (source &quot;hooks&quot;): "),
        "{page}"
    );
    let missing = app
        .http
        .get(app.url("/api/v1/alerts/999999"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let alerts = get_page(&app, "/alerts", &cookie).await;
    assert!(
        alerts.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;"),
        "{alerts}"
    );
    assert!(alerts.contains("Invoice[U+202E]fdp.exe"), "{alerts}");

    // With the token the action works: retry the dead job.
    let (status, _) = post_form(
        &app,
        &format!("/queue/{}/retry", app.dead_job),
        Some(&cookie),
        &format!("_csrf={token}"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let retried = app
        .api(reqwest::Method::GET, "/api/v1/events?code=4202", None)
        .await;
    assert_eq!(retried.as_array().unwrap().len(), 1, "{retried}");

    // The viewer sees every page but may do nothing.
    let (viewer, viewer_token) = sign_in(&app, VIEWER_PASSWORD).await;
    for path in pages(&app) {
        let page = get_page(&app, &path, &viewer).await;
        assert!(page.contains("Read-only login"), "GET {path} as viewer");
        assert!(!page.contains("Retry</button>") && !page.contains("Auto Map now</button>"));
    }
    let (status, text) = post_form(
        &app,
        "/itglue/main/automap",
        Some(&viewer),
        &format!("_csrf={viewer_token}"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(text.contains("read-only"), "{text}");

    // Logout ends the session.
    let (status, _) = post_form(
        &app,
        "/logout",
        Some(&viewer),
        &format!("_csrf={viewer_token}"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let response = app
        .http
        .get(app.url("/"))
        .header("cookie", &viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // A login form posted without the token of the page it came from is refused.
    let response = app
        .http
        .post(app.url("/login"))
        .form(&[("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Wrong passwords: counted, then the login locks and refuses even the right password.
    for attempt in 1..=4 {
        let (status, session, body) = try_sign_in(&app, "wrong-password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(session.is_none());
        assert!(
            body.contains(&format!("{attempt} wrong in a row")),
            "{body}"
        );
        assert!(!body.contains("wrong-password"));
    }
    let (status, _, _) = try_sign_in(&app, "wrong-password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, session, body) = try_sign_in(&app, ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(session.is_none());
    assert!(body.contains("locked"), "{body}");

    app.stop().await;
}

/// The cargo target directory this test binary was built into (`target/debug/deps/<binary>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .nth(3)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_chromium() {
    let app = App::start().await;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../console-tests");
    assert!(
        root.join("node_modules/playwright-core").exists(),
        "run `npm ci` in console-tests/ first (scripts/test does)"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "install Debian's chromium package (scripts/test does)"
    );
    let shots = target_dir().join("console-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new("node")
        .arg(root.join("console.mjs"))
        .env("CONSOLE_URL", &app.base)
        .env("CONSOLE_PASSWORD", ADMIN_PASSWORD)
        .env("CONSOLE_DEAD_JOB", app.dead_job.to_string())
        .env("CONSOLE_HOSTILE_ALERT", app.hostile_alert.to_string())
        .env("CONSOLE_SHOTS", &shots)
        .env("CONSOLE_PROFILE", profile.path())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), output)
        .await
        .expect("the browser run finishes within 120 s")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(output.status.success(), "the browser run failed: {stderr}");
    let result: Value = stdout
        .lines()
        .rev()
        .find_map(|line| {
            line.strip_prefix("RESULT ")
                .and_then(|json| serde_json::from_str(json).ok())
        })
        .expect("the browser run prints its RESULT line");

    // What the browser did, as the JSON API sees it.
    let mappings = app
        .api(
            reqwest::Method::GET,
            "/api/v1/itglue/instances/main/mappings",
            None,
        )
        .await;
    let mappings = mappings.as_array().unwrap();
    assert!(
        mappings
            .iter()
            .any(|m| m["subject"] == "client" && m["client"] == "Acme" && m["kind"] == "manual"),
        "Acme mapped by hand: {mappings:?}"
    );
    assert!(
        !mappings.iter().any(|m| m["system"] == "WS-LOBBY"),
        "WS-LOBBY was mapped and unmapped: {mappings:?}"
    );
    assert!(
        mappings
            .iter()
            .any(|m| m["system"] == "ACME-DC01" && m["kind"] == "auto"),
        "Auto Map mapped ACME-DC01 by its MAC: {mappings:?}"
    );
    let retried = app
        .api(reqwest::Method::GET, "/api/v1/events?code=4202", None)
        .await;
    assert!(
        retried
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["details"]["job_id"] == app.dead_job),
        "the dead job was retried: {retried}"
    );
    let report = result["report"].as_i64().expect("the report id");
    let mut state = Value::Null;
    for _ in 0..100 {
        let meta = app
            .api(
                reqwest::Method::GET,
                &format!("/api/v1/reports/{report}"),
                None,
            )
            .await;
        state = meta["publish_state"].clone();
        if state == "published" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "published", "the report reached IT Glue");
    app.stop().await;
}
