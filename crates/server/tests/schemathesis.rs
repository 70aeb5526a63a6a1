//! Schema-driven testing of the whole HTTP API: schemathesis (from PyPI, installed by
//! `scripts/test`) reads `GET /api/v1/openapi.json` from a real service — a temporary SQLite
//! file, the ConnectWise and Netwrix Auditor simulators behind it — and sends generated valid and
//! invalid requests to every operation. The run fails on any 5xx, on a status the document does
//! not list for the operation, and on an answer that does not match its schema.
//!
//! The run is bounded: a fixed seed, a few examples per operation, a deadline. The intake's rate
//! limit keeps generated alerts from turning into a flood of ConnectWise tickets.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mspbridge_core::config;
use mspbridge_server::api::openapi::operations;
use mspbridge_server::service::{Service, ServiceOptions};
use mspbridge_simulators::auditor::{self, AuditorSimConfig};
use mspbridge_simulators::connectwise::{self, SimulatorConfig};

const TOKEN: &str = "schema-token-51c2e7a9";
/// Pinned so a run is reproducible; `scripts/test` installs this version.
const SCHEMATHESIS_VERSION: &str = "4.1.4";
const SEED: &str = "20261207";
const MAX_EXAMPLES: &str = "5";
/// The whole run is stopped (and fails) past this.
/// (About 15 s on an idle two-core machine; the margin is for a busy one.)
const DEADLINE: Duration = Duration::from_secs(240);

fn config_text(dir: &std::path::Path, connectwise: &str, auditor: &str) -> String {
    let cw = SimulatorConfig::default();
    format!(
        r#"
[server]
database = "sqlite://{db}"
api_tokens = ["{TOKEN}"]
max_body_bytes = 65536
intake_rate_limit = "20/1m"
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
name = "auditor-acme"
kind = "netwrix-auditor"
url = "{auditor}"
username = "ACME\\svc-mspbridge"
password = "auditor-pw-51"
client = "Acme"

[[sources]]
name = "hooks"
kind = "webhook"

[[sources]]
name = "prometheus"
kind = "alertmanager"
client = "Globex"

[[clients]]
name = "Acme"
email = "it@acme.example"

[[clients]]
name = "Globex"
email = "security@globex.example"
"#,
        db = dir.join("mspbridge.db").display(),
        missing = dir.join("missing").display(),
        company = cw.company_id,
        public = cw.public_key,
        private = cw.private_key,
    )
}

/// The command that runs schemathesis: `st`, or the module through `python3` when pip put the
/// script outside `PATH`.
fn schemathesis() -> Vec<String> {
    let candidates: [&[&str]; 3] = [
        &["st"],
        &["schemathesis"],
        &["python3", "-m", "schemathesis.cli"],
    ];
    for candidate in candidates {
        let found = Command::new(candidate[0])
            .args(&candidate[1..])
            .arg("--version")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .output();
        if let Ok(output) = found {
            if !output.status.success() {
                continue;
            }
            let version = String::from_utf8_lossy(&output.stdout);
            assert!(
                version.contains(SCHEMATHESIS_VERSION),
                "{candidate:?} is {version:?}; install schemathesis=={SCHEMATHESIS_VERSION} (scripts/test does)"
            );
            return candidate.iter().map(|part| part.to_string()).collect();
        }
    }
    panic!(
        "schemathesis is missing; `pip install schemathesis=={SCHEMATHESIS_VERSION}` (scripts/test does)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_never_get_a_5xx_or_an_answer_the_document_does_not_describe() {
    let program = schemathesis();
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let connectwise = connectwise::spawn(SimulatorConfig::default(), loopback)
        .await
        .unwrap();
    let auditor = auditor::spawn(
        AuditorSimConfig::new("ACME\\svc-mspbridge", "auditor-pw-51"),
        loopback,
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(dir.path(), &connectwise.base_url(), auditor.base_url());
    let config = config::parse_str(&text, "schemathesis.toml").unwrap();
    let mut options = ServiceOptions::new("schemathesis-host");
    options.listen = Some(loopback);
    let service = Service::start(config, options).await.unwrap();
    let base = service.base_url();

    let reports = dir.path().join("reports");
    let mut command = tokio::process::Command::new(&program[0]);
    command
        .args(&program[1..])
        .arg("run")
        .arg(format!("{base}/api/v1/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,response_headers_conformance",
        ])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
        .args(["--generation-database", "none", "--no-shrink"])
        // The examples and the random (fuzzing) phase; the exhaustive coverage phase takes
        // minutes and is run by hand (docs/fuzzing.md).
        .args(["--phases", "examples,fuzzing"])
        .args(["--workers", "2", "--request-timeout", "20"])
        .args(["--max-failures", "20", "--no-color"])
        .arg("--report-dir")
        .arg(&reports)
        .current_dir(dir.path())
        // Serializers for the HTML upload and the CSV import.
        .env(
            "PYTHONPATH",
            env!("CARGO_MANIFEST_DIR").to_string() + "/tests",
        )
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .kill_on_drop(true)
        .stdout(std::fs::File::create(dir.path().join("stdout")).unwrap())
        .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap());
    let started = Instant::now();
    let mut child = command.spawn().expect("schemathesis starts");
    let status = tokio::time::timeout(DEADLINE, child.wait()).await;
    let stdout = std::fs::read_to_string(dir.path().join("stdout")).unwrap_or_default();
    let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default();
    let Ok(status) = status else {
        panic!("schemathesis ran longer than {DEADLINE:?}:\n{stdout}\n{stderr}");
    };
    service.shutdown().await.unwrap();
    if std::env::var_os("MSPBRIDGE_SCHEMATHESIS_OUTPUT").is_some() {
        println!("{stdout}\n{stderr}");
    }
    assert!(
        status.unwrap().success(),
        "schemathesis found failures after {:?}:\n{stdout}\n{stderr}",
        started.elapsed()
    );
    // It really ran: every operation was tested.
    let tested = format!("Tested: {}", operations().len());
    assert!(
        stdout.contains(&tested),
        "not every operation was tested:\n{stdout}"
    );
    assert!(stdout.contains("No issues found"), "{stdout}");
}
