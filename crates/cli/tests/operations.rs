//! What an operator runs `serve` with and scripts against: logs redirected to a file (no escape
//! codes), JSON logs, the metrics present from the first scrape, the IT Glue request budget in
//! the metrics, a warning when intake is closed, and `--json` / `--limit` on the listing commands.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use mspbridge_simulators::itglue::{spawn, ItGlueSimConfig, ItGlueSimulator};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_mspbridge");
const TOKEN: &str = "operations-token-5521";
const KEY: &str = "ITG.operations-key";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn itglue() -> ItGlueSimulator {
    spawn(ItGlueSimConfig::demo(KEY), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn write_config(dir: &Path, itglue_url: &str, intake: bool) -> PathBuf {
    let path = dir.join("mspbridge.toml");
    let (tokens, sources) = if intake {
        (
            format!("api_tokens = [\"{TOKEN}\"]"),
            "[[sources]]\nname = \"hook\"\nkind = \"webhook\"\n",
        )
    } else {
        (String::new(), "")
    };
    std::fs::write(
        &path,
        format!(
            r#"[server]
listen = "127.0.0.1:{port}"
database = "sqlite://{db}"
{tokens}

{sources}
[[clients]]
name = "Acme"
email = "it@acme.example"

[[itglue]]
name = "main"
url = "{itglue_url}"
api_key = "{KEY}"
clients = ["Acme"]
request_budget = "50/5m"
"#,
            port = free_port(),
            db = dir.join("mspbridge.db").display(),
        ),
    )
    .unwrap();
    path
}

/// Starts `serve` with its stderr in `log` and waits for the URL it prints once listening.
async fn serve(config: &Path, log: &Path, envs: &[(&str, &str)]) -> (Child, String) {
    let log = std::fs::File::create(log).unwrap();
    let mut child = Command::new(BIN)
        .arg("-c")
        .arg(config)
        .arg("serve")
        .env_remove("MSPBRIDGE_CONFIG")
        .env_remove("MSPBRIDGE_LOG_FORMAT")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let url = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line.trim().to_string()
    })
    .await
    .unwrap();
    assert!(url.starts_with("http://"), "serve printed {url:?}");
    (child, url)
}

async fn stop(mut child: Child) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "serve exited with {exit}");
}

async fn post_alert(url: &str, id: &str) {
    let response = reqwest::Client::new()
        .post(format!("{url}/api/v1/alerts"))
        .bearer_auth(TOKEN)
        .json(&json!({
            "source": "hook",
            "alert_id": id,
            "alert_name": "Password Reset",
            "client": "Acme",
            "occurred_at": "2026-11-23T10:00:00Z",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
}

async fn scrape(url: &str) -> String {
    reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of one series (`name` with its labels, exactly as rendered) in a scrape.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirected_serve_log_has_no_escape_codes_and_metrics_are_there_from_the_start() {
    let sim = itglue().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), sim.base_url(), true);
    let log = dir.path().join("serve.log");
    let (child, url) = serve(&config, &log, &[("RUST_LOG", "debug")]).await;

    // Right after start, before any alert: every counter is there, at 0.
    let first = scrape(&url).await;
    for counter in [
        "mspbridge_alerts_received_total",
        "mspbridge_alerts_deduplicated_total",
        "mspbridge_alerts_unrouted_total",
        "mspbridge_tickets_created_total",
        "mspbridge_tickets_updated_total",
        "mspbridge_tickets_reopened_total",
        "mspbridge_flood_tickets_total",
        "mspbridge_job_retries_total",
        "mspbridge_jobs_dead_lettered_total",
        "mspbridge_intake_rate_limited_total",
        "mspbridge_connectwise_errors_total{class=\"retryable\"}",
        "mspbridge_connectwise_errors_total{class=\"rate_limited\"}",
        "mspbridge_connectwise_errors_total{class=\"permanent\"}",
    ] {
        assert_eq!(sample(&first, counter), Some(0.0), "{counter} in:\n{first}");
    }
    let requests = "mspbridge_itglue_requests_total{instance=\"main\"}";
    let remaining = "mspbridge_itglue_request_budget_remaining{instance=\"main\"}";
    let limited = "mspbridge_itglue_rate_limited_total{instance=\"main\"}";
    assert_eq!(sample(&first, limited), Some(0.0), "{first}");
    let (sent, left) = (
        sample(&first, requests).unwrap(),
        sample(&first, remaining).unwrap(),
    );
    assert_eq!(sent + left, 50.0, "the configured budget of 50: {first}");

    // A connection test through the API is one request against the instance's budget.
    let response = reqwest::Client::new()
        .post(format!("{url}/api/v1/itglue/instances/main/test"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    post_alert(&url, "log-1").await;
    let second = scrape(&url).await;
    assert_eq!(
        sample(&second, "mspbridge_alerts_received_total"),
        Some(1.0)
    );
    let sent_after = sample(&second, requests).unwrap();
    assert!(sent_after > sent, "{second}");
    assert_eq!(
        sent_after + sample(&second, remaining).unwrap(),
        50.0,
        "{second}"
    );
    stop(child).await;

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("alert accepted"), "{text}");
    assert!(text.contains("mspbridge is serving"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "escape codes in a redirected log:\n{text:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_are_one_object_per_line_with_the_request_span() {
    let sim = itglue().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), sim.base_url(), true);
    let log = dir.path().join("serve.json");
    let (child, url) = serve(
        &config,
        &log,
        &[("RUST_LOG", "debug"), ("MSPBRIDGE_LOG_FORMAT", "json")],
    )
    .await;
    post_alert(&url, "json-1").await;
    stop(child).await;

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"))
        })
        .collect();
    assert!(lines.iter().all(Value::is_object));
    let accepted = lines
        .iter()
        .find(|line| line["message"] == "alert accepted")
        .unwrap_or_else(|| panic!("no \"alert accepted\" line in:\n{text}"));
    assert_eq!(accepted["level"], "DEBUG");
    assert_eq!(accepted["source"], "hook");
    assert_eq!(accepted["span"]["name"], "request", "{accepted}");
    assert_eq!(accepted["span"]["route"], "/api/v1/alerts", "{accepted}");
    assert_eq!(accepted["span"]["method"], "POST", "{accepted}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_warns_at_start_when_intake_is_closed() {
    let sim = itglue().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), sim.base_url(), false);
    let log = dir.path().join("serve.log");
    let (child, _) = serve(&config, &log, &[]).await;
    stop(child).await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("intake is closed: server.api_tokens is empty"),
        "{text}"
    );
    assert!(
        text.contains("intake is closed: no [[sources]] is configured"),
        "{text}"
    );
}

async fn mspbridge(config: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command
        .arg("-c")
        .arg(config)
        .args(args)
        .env_remove("MSPBRIDGE_CONFIG")
        .env_remove("RUST_LOG");
    tokio::task::spawn_blocking(move || command.output().expect("the binary runs"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_commands_print_json_and_refuse_limit_zero() {
    let sim = itglue().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), sim.base_url(), true);
    let output = mspbridge(
        &config,
        &[
            "systems",
            "add",
            "ws-01",
            "--client",
            "Acme",
            "--mac",
            "00:11:22:33:44:55",
        ],
    )
    .await;
    assert!(output.status.success(), "{output:?}");

    let lists: [&[&str]; 7] = [
        &["clients", "list", "--json"],
        &["systems", "list", "--json"],
        &["itglue", "mappings", "--json"],
        &["tickets", "--json"],
        &["events", "--json"],
        &["queue", "--json"],
        &["report", "list", "--json"],
    ];
    for args in lists {
        let output = mspbridge(&config, args).await;
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{args:?}: {output:?}");
        let value: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|err| panic!("{args:?} printed no JSON ({err}):\n{stdout}"));
        assert!(value.is_array() || value.is_object(), "{args:?}: {value}");
    }
    let clients: Value = serde_json::from_slice(
        &mspbridge(&config, &["clients", "list", "--json"])
            .await
            .stdout,
    )
    .unwrap();
    assert_eq!(clients[0]["name"], "Acme");
    assert_eq!(clients[0]["itglue_instance"], "main");
    assert_eq!(clients[0]["mapping"], "unmapped");
    let systems: Value = serde_json::from_slice(
        &mspbridge(&config, &["systems", "list", "--json"])
            .await
            .stdout,
    )
    .unwrap();
    assert_eq!(systems[0]["name"], "ws-01");

    for args in [
        &["tickets", "--limit", "0"][..],
        &["events", "--limit", "0"],
        &["queue", "--limit", "0"],
        &["report", "list", "--limit", "0"],
    ] {
        let output = mspbridge(&config, args).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--limit"), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}
