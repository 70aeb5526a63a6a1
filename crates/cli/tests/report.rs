//! `mspbridge report generate|publish|list|download` as a user runs them: the real binary, a
//! SQLite file, and the IT Glue simulator over loopback.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{Duration as Span, Utc};
use mspbridge_simulators::itglue::{self, ItGlueSimConfig, ItGlueSimulator, TraitValue};
use mspbridge_store::inventory::{Mapping, MappingKind, MappingSubject};
use mspbridge_store::{open_store, NewAlert};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_mspbridge");
const API_KEY: &str = "ITG.cli-report-key";

async fn mspbridge(config: &Path, list: &[&str]) -> Output {
    let mut args = vec!["-c".to_string(), config.display().to_string()];
    args.extend(list.iter().map(|s| s.to_string()));
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&args)
            .env_remove("MSPBRIDGE_CONFIG")
            .env("RUST_LOG", "warn")
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap()
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn ok(output: &Output) -> String {
    let (stdout, stderr) = text(output);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    stdout
}

struct Setup {
    _dir: tempfile::TempDir,
    config: PathBuf,
    dir: PathBuf,
    sim: ItGlueSimulator,
}

/// A config with Acme (mapped, with a week of alerts) and Globex (enabled, never mapped).
async fn setup() -> Setup {
    let sim = itglue::spawn(
        ItGlueSimConfig::demo(API_KEY),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("mspbridge.db");
    let config = dir.path().join("mspbridge.toml");
    std::fs::write(
        &config,
        format!(
            r#"[server]
database = "sqlite://{database}"

[[clients]]
name = "Acme"
email = "it@acme.example"

[[clients]]
name = "Globex"

[[itglue]]
name = "main"
url = "{url}"
api_key = "{API_KEY}"
clients = ["Acme", "Globex"]
"#,
            database = database.display(),
            url = sim.base_url()
        ),
    )
    .unwrap();

    let store = open_store(&format!("sqlite://{}", database.display()))
        .await
        .unwrap();
    let now = Utc::now();
    for (index, (name, who, workstation)) in [
        ("Password Reset", "CORP\\alice", "WS-01"),
        ("Password Reset", "CORP\\alice", "WS-01"),
        ("Account Locked Out", "CORP\\bob", "WS-02"),
        ("Group Membership Changed", "<b>admin</b>", "DC-01"),
    ]
    .into_iter()
    .enumerate()
    {
        let at = now - Span::hours(6 + 20 * index as i64);
        store
            .accept_alert(NewAlert {
                source: "auditor".into(),
                source_alert_id: format!("A{index}"),
                client: Some("Acme".into()),
                alert_name: name.into(),
                occurred_at: at,
                received_at: at,
                payload:
                    json!({"records": [{"who": who, "workstation": workstation, "where": "DC-01"}]})
                        .into(),
            })
            .await
            .unwrap();
    }
    let first = sim
        .configurations()
        .into_iter()
        .min_by_key(|c| c.id)
        .expect("the demo seed has configurations");
    let (organization, configuration) = (first.organization_id, first.id);
    let mapping = |subject, target_id| Mapping {
        instance: "main".into(),
        subject,
        target_id,
        kind: MappingKind::Manual,
        updated_at: now,
    };
    store
        .set_mapping(mapping(
            MappingSubject::Client {
                client: "Acme".into(),
            },
            organization,
        ))
        .await
        .unwrap();
    store
        .set_mapping(mapping(
            MappingSubject::System {
                client: "Acme".into(),
                system: "WS-01".into(),
            },
            configuration,
        ))
        .await
        .unwrap();
    store.close().await;
    Setup {
        dir: dir.path().to_path_buf(),
        _dir: dir,
        config,
        sim,
    }
}

fn list_json(stdout: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(stdout)
        .expect("report list --json prints JSON")
        .as_array()
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn generate_list_publish_and_download_a_report() {
    let setup = setup().await;
    let config = &setup.config;

    let id = ok(&mspbridge(
        config,
        &["report", "generate", "--client", "Acme", "--days", "7"],
    )
    .await);
    assert_eq!(id.trim(), "1");
    let table = ok(&mspbridge(config, &["report", "list"]).await);
    assert!(table.contains("STATE"), "{table}");
    let row = table.lines().find(|line| line.starts_with("1 ")).unwrap();
    assert!(
        row.contains("Acme") && row.contains("unpublished") && row.contains("generated"),
        "{row}"
    );

    let output = mspbridge(config, &["report", "publish", "--id", "1"]).await;
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("published to IT Glue as flexible asset"),
        "{stderr}"
    );
    let reports = list_json(&ok(&mspbridge(config, &["report", "list", "--json"]).await));
    assert_eq!(reports[0]["publish_state"], "published");
    let asset_id = reports[0]["itglue_asset_id"].as_i64().unwrap();
    assert!(setup.sim.flexible_assets().iter().any(|a| a.id == asset_id));
    assert_eq!(
        setup.sim.related_items().len(),
        1,
        "WS-01 is the only mapped system"
    );

    let out = setup.dir.join("report.html");
    ok(&mspbridge(
        config,
        &["report", "download", "1", "-o", out.to_str().unwrap()],
    )
    .await);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("&lt;b&gt;admin&lt;/b&gt;") && !html.contains("<b>admin"));
    assert!(html.contains("Password Reset"));
}

#[tokio::test]
async fn external_html_reports_are_checked_stored_and_published() {
    let setup = setup().await;
    let config = &setup.config;
    let file = setup.dir.join("pentest.html");
    let body = "<!DOCTYPE html><html><body><h1>Pentest 2026</h1></body></html>";
    std::fs::write(&file, body).unwrap();
    let stdout = ok(&mspbridge(
        config,
        &[
            "report",
            "publish",
            file.to_str().unwrap(),
            "--client",
            "Acme",
        ],
    )
    .await);
    assert_eq!(stdout.trim(), "1");
    let reports = list_json(&ok(&mspbridge(config, &["report", "list", "--json"]).await));
    assert_eq!(reports[0]["source"], "external");
    assert_eq!(reports[0]["name"], "pentest");
    assert_eq!(reports[0]["publish_state"], "published");
    let uploaded = setup
        .sim
        .flexible_assets()
        .into_iter()
        .flat_map(|asset| asset.traits.into_values())
        .find_map(|value| match value {
            TraitValue::Upload(file) => Some(file.content),
            _ => None,
        })
        .expect("the report file is uploaded");
    assert_eq!(uploaded, body.as_bytes());

    let bad = setup.dir.join("notes.txt");
    std::fs::write(&bad, "just some notes").unwrap();
    let output = mspbridge(
        config,
        &[
            "report",
            "publish",
            bad.to_str().unwrap(),
            "--client",
            "Acme",
        ],
    )
    .await;
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(stderr.contains("does not look like HTML"), "{stderr}");
    let empty = setup.dir.join("empty.html");
    std::fs::write(&empty, "").unwrap();
    let output = mspbridge(
        config,
        &[
            "report",
            "publish",
            empty.to_str().unwrap(),
            "--client",
            "Acme",
        ],
    )
    .await;
    assert!(
        text(&output).1.contains("the file is empty"),
        "{:?}",
        text(&output)
    );
    let reports = list_json(&ok(&mspbridge(config, &["report", "list", "--json"]).await));
    assert_eq!(reports.len(), 1, "refused files are not stored");
}

#[tokio::test]
async fn publishing_for_an_unmapped_client_is_refused_with_the_reason() {
    let setup = setup().await;
    let config = &setup.config;
    ok(&mspbridge(config, &["report", "generate", "--client", "Globex"]).await);
    let output = mspbridge(config, &["report", "publish", "--id", "1"]).await;
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(
        stderr.contains("no IT Glue organization mapping"),
        "{stderr}"
    );
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one line with the cause: {stderr}");
    assert!(
        errors[0].contains("no IT Glue organization mapping"),
        "{stderr}"
    );
    let table = ok(&mspbridge(config, &["report", "list"]).await);
    assert!(table.contains("refused"), "{table}");
    assert!(setup.sim.requests().is_empty(), "IT Glue was never called");

    let output = mspbridge(config, &["report", "generate", "--client", "Nobody"]).await;
    assert!(
        text(&output).1.contains("\"Nobody\" is not configured"),
        "{:?}",
        text(&output)
    );
    let output = mspbridge(config, &["report", "publish", "--id", "99"]).await;
    assert!(
        text(&output).1.contains("report 99 does not exist"),
        "{:?}",
        text(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn publishing_again_right_after_a_failure_says_when_the_retry_is_due() {
    let setup = setup().await;
    let config = &setup.config;
    ok(&mspbridge(config, &["report", "generate", "--client", "Acme"]).await);
    // Every in-place retry of the first call fails: the attempt fails, and a retry is scheduled.
    setup.sim.faults().fail_next(503, 4);
    let output = mspbridge(config, &["report", "publish", "--id", "1"]).await;
    let (_, stderr) = text(&output);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("failed"), "{stderr}");

    let output = mspbridge(config, &["report", "publish", "--id", "1"]).await;
    let (_, stderr) = text(&output);
    assert!(
        !output.status.success(),
        "not published, so not 0: {stderr}"
    );
    assert!(
        stderr.contains("its last attempt failed") && stderr.contains("is due at"),
        "{stderr}"
    );
    assert!(!stderr.contains("another worker"), "{stderr}");
}
