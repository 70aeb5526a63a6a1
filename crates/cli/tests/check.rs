//! `mspbridge check` against the simulators: the database, each Netwrix Auditor source (over HTTPS
//! with a self-signed certificate), every routing problem of every client, and its JSON output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mspbridge_simulators::auditor::{self, AuditorSimConfig, AuditorSimTls};
use mspbridge_simulators::connectwise::{self, SimulatorConfig};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mspbridge");

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

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("mspbridge.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `check --json` and returns the exit success, and the checks by name.
async fn check_json(config: &Path) -> (bool, Vec<Value>) {
    let output = mspbridge(config, &["check", "--json"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!(
            "check --json printed no JSON ({err}):\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(report["ok"].as_bool(), Some(output.status.success()));
    (
        output.status.success(),
        report["checks"].as_array().unwrap().clone(),
    )
}

fn find<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|check| check["check"] == name)
        .unwrap_or_else(|| panic!("no check {name:?} in {checks:#?}"))
}

fn problems(check: &Value) -> Vec<String> {
    check["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn check_tests_each_auditor_source_credentials_pin_and_search() {
    let sim = auditor::spawn(
        AuditorSimConfig::new("ACME\\svc", "auditor-pw")
            .with_tls(AuditorSimTls::self_signed_localhost()),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let url = sim.base_url().to_string();
    assert!(url.starts_with("https://"), "{url}");
    let pin = sim.certificate_sha256_hex().unwrap();
    let wrong_pin = "ab".repeat(32);
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        &format!(
            r#"[server]
database = "sqlite://{db}"

[[sources]]
name = "good"
kind = "netwrix-auditor"
url = "{url}"
username = "ACME\\svc"
password = "auditor-pw"
tls_certificate_sha256 = "{pin}"

[[sources]]
name = "wrong-password"
kind = "netwrix-auditor"
url = "{url}"
username = "ACME\\svc"
password = "Not-The-Password-731"
tls_certificate_sha256 = "{pin}"

[[sources]]
name = "wrong-pin"
kind = "netwrix-auditor"
url = "{url}"
username = "ACME\\svc"
password = "auditor-pw"
tls_certificate_sha256 = "{wrong_pin}"

[[sources]]
name = "no-pin"
kind = "netwrix-auditor"
url = "{url}"
username = "ACME\\svc"
password = "auditor-pw"

[[sources]]
name = "hook"
kind = "webhook"
"#,
            db = dir.path().join("mspbridge.db").display(),
        ),
    );
    let (ok, checks) = check_json(&config).await;
    assert!(!ok, "three broken sources fail the check");

    let good = find(&checks, "source good");
    assert_eq!(good["ok"], true, "{good}");
    let detail = good["detail"].as_str().unwrap();
    assert!(detail.contains("pinned certificate matched"), "{detail}");
    assert!(detail.contains("search answered"), "{detail}");

    let cases = [
        ("source wrong-password", "rejected the credentials"),
        ("source wrong-pin", "does not match the pinned"),
        ("source no-pin", "was rejected"),
    ];
    for (name, expected) in cases {
        let check = find(&checks, name);
        assert_eq!(check["ok"], false, "{check}");
        let problems = problems(check);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains(expected), "{name}: {problems:?}");
    }
    assert!(
        !checks.iter().any(|check| check["check"] == "source hook"),
        "a webhook source has nothing to connect to"
    );
    let all = serde_json::to_string(&checks).unwrap();
    assert!(
        !all.contains("Not-The-Password-731"),
        "a password leaked: {all}"
    );
    // The simulator saw one search per source that got through authentication.
    let searches = sim
        .requests()
        .iter()
        .filter(|request| request.path.ends_with("/search"))
        .count();
    assert_eq!(searches, 1, "only the good source searched");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_tests_that_the_database_opens_is_migrated_and_writable() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("mspbridge.db");
    let cases = [
        (format!("sqlite://{}", good.display()), true, "writable"),
        (
            "sqlite:///nonexistent-dir/x.db".to_string(),
            false,
            "unable to open database file",
        ),
        (
            "postgres://mspbridge:Pg-Secret-55@127.0.0.1:9/mspbridge".to_string(),
            false,
            "PostgreSQL",
        ),
    ];
    for (url, expected_ok, expected) in cases {
        let config = write(dir.path(), &format!("[server]\ndatabase = \"{url}\"\n"));
        let output = mspbridge(&config, &["check"]).await;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert_eq!(output.status.success(), expected_ok, "{url}:\n{stdout}");
        let line = stdout
            .lines()
            .find(|line| line.contains("database"))
            .unwrap_or_else(|| panic!("no database line:\n{stdout}"));
        assert!(
            line.starts_with(if expected_ok { "ok" } else { "FAIL" }),
            "{line}"
        );
        assert!(line.contains(expected), "{url}: {line}");
        // Each cause once, however many error types wrapped it.
        assert_eq!(line.matches(expected).count(), 1, "{line}");
        assert!(!stdout.contains("Pg-Secret-55"), "{stdout}");
    }
    assert!(good.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_every_routing_problem_with_the_key_that_set_it() {
    let sim = connectwise::spawn(SimulatorConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let cw = SimulatorConfig::default();
    let dir = tempfile::tempdir().unwrap();
    // The defaults are right for board 1; Acme moves to board 3 but keeps board 1's team, and sets
    // a priority and a status that do not exist. Globex is right.
    let config = write(
        dir.path(),
        &format!(
            r#"[server]
database = "sqlite://{db}"

[connectwise]
site = "{site}"
company_id = "{company}"
public_key = "{public}"
private_key = "{private}"
client_id = "tests"

[connectwise.ticket]
company_id = 42
board_id = 1
team_id = 25
priority_id = 4

[[clients]]
name = "Acme"
connectwise = {{ company_id = 250, board_id = 3, priority_id = 99, status_id = 999 }}

[[clients]]
name = "Globex"
connectwise = {{ company_id = 251 }}
"#,
            db = dir.path().join("mspbridge.db").display(),
            site = sim.base_url(),
            company = cw.company_id,
            public = cw.public_key,
            private = cw.private_key,
        ),
    );
    let (ok, checks) = check_json(&config).await;
    assert!(!ok);
    assert_eq!(find(&checks, "connectwise.ticket")["ok"], true);
    assert_eq!(find(&checks, "client Globex")["ok"], true);
    let acme = problems(find(&checks, "client Acme"));
    assert_eq!(acme.len(), 3, "{acme:#?}");
    assert!(
        acme[0].starts_with("clients[0].connectwise.priority_id = 99: "),
        "{acme:#?}"
    );
    assert!(
        acme[1].starts_with(
            "connectwise.ticket.team_id = 25, inherited by clients[0]: not a team of board \"Security Operations\""
        ),
        "{acme:#?}"
    );
    assert!(
        acme[2].starts_with("clients[0].connectwise.status_id = 999: not a status of board"),
        "{acme:#?}"
    );

    // The text form lists each problem on its own line under the client.
    let output = mspbridge(&config, &["check"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("FAIL  client Acme:\n      - "), "{stdout}");
    assert!(stdout.contains("ok    client Globex"), "{stdout}");
}
