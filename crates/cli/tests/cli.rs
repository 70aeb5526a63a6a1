//! The `mspbridge` binary as a user runs it: real processes, real loopback HTTP to the ConnectWise
//! simulator, real files. Every command the foundation offers is exercised here end to end.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mspbridge_simulators::connectwise::{self, ConnectWiseSimulator, SimulatorConfig};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mspbridge");

async fn spawn_simulator() -> ConnectWiseSimulator {
    connectwise::spawn(SimulatorConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

/// Runs the binary off the async runtime (it is a blocking child process).
async fn mspbridge(args: Vec<String>, envs: Vec<(String, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&args)
            .env_remove("MSPBRIDGE_CONFIG")
            .envs(envs)
            .env("RUST_LOG", "debug")
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

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Reads through the simulator's ConnectWise API, as a user would with curl.
async fn cw_get(sim: &ConnectWiseSimulator, path: &str) -> Value {
    let config = SimulatorConfig::default();
    reqwest::Client::new()
        .get(format!("{}/v4_6_release/apis/3.0/{path}", sim.base_url()))
        .basic_auth(
            format!("{}+{}", config.company_id, config.public_key),
            Some(config.private_key),
        )
        .header("clientId", "tests")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn init_flags(sim: &ConnectWiseSimulator, output: &Path) -> Vec<String> {
    let config = SimulatorConfig::default();
    args(&[
        "init",
        "--non-interactive",
        "--output",
        output.to_str().unwrap(),
        "--site",
        &sim.base_url(),
        "--company-id",
        &config.company_id,
        "--public-key",
        &config.public_key,
        "--private-key-env",
        "TEST_CW_PRIVATE_KEY",
        "--client-id",
        "mspbridge-tests",
        "--company",
        "Acme",
        "--board",
        "Security Operations",
        "--team",
        "SOC",
        "--priority",
        "4",
        "--severity",
        "High",
        "--impact",
        "Low",
        "--description-field",
        "initialInternalAnalysis",
    ])
}

fn private_key_env() -> Vec<(String, String)> {
    vec![(
        "TEST_CW_PRIVATE_KEY".to_string(),
        SimulatorConfig::default().private_key,
    )]
}

#[tokio::test(flavor = "multi_thread")]
async fn init_non_interactive_writes_a_config_that_checks_and_creates_test_tickets() {
    let sim = spawn_simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("mspbridge.toml");

    let mut flags = init_flags(&sim, &config_path);
    flags.push("--test-ticket".to_string());
    let output = mspbridge(flags, private_key_env()).await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "init failed: {stderr}");
    let ticket_id: i64 = stdout
        .trim()
        .parse()
        .expect("init --test-ticket prints the ticket id");

    // The config references the key file; the key file is private; the key is not in the config.
    let written = std::fs::read_to_string(&config_path).unwrap();
    let key = SimulatorConfig::default().private_key;
    assert!(
        !written.contains(&key),
        "the private key leaked into the config:\n{written}"
    );
    let key_file = dir.path().join("mspbridge.cw-private-key");
    assert!(
        written.contains(&format!("file:{}", key_file.display())),
        "{written}"
    );
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(written.contains("board_id = 3"), "{written}");
    assert!(written.contains("company_id = 250"), "{written}");
    assert!(written.contains("severity = \"High\""), "{written}");
    assert!(
        !stderr.contains(&key) && !stdout.contains(&key),
        "the private key reached the output"
    );

    // The ticket exists with the chosen routing, its description went to the internal note.
    let ticket = cw_get(&sim, &format!("service/tickets/{ticket_id}")).await;
    assert_eq!(ticket["summary"], "[mspbridge] Test Alert");
    assert_eq!(ticket["company"]["id"], 250);
    assert_eq!(ticket["board"]["id"], 3);
    assert_eq!(ticket["severity"], "High");
    let notes = cw_get(&sim, &format!("service/tickets/{ticket_id}/notes")).await;
    let notes = notes.as_array().unwrap();
    assert!(notes.iter().any(|n| n["internalAnalysisFlag"] == true
        && n["text"].as_str().unwrap().contains("test the integration")));
    let documents = cw_get(
        &sim,
        &format!("system/documents?recordType=Ticket&recordId={ticket_id}"),
    )
    .await;
    assert_eq!(documents[0]["fileName"], "TestAttachment.txt");

    // `check` passes on what init wrote, and `test-ticket` creates another ticket.
    let output = mspbridge(
        args(&["-c", config_path.to_str().unwrap(), "check"]),
        vec![],
    )
    .await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "check failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("ok    connectwise"), "{stdout}");

    let output = mspbridge(
        args(&["test-ticket"]),
        vec![("MSPBRIDGE_CONFIG".into(), config_path.display().to_string())],
    )
    .await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "test-ticket failed: {stderr}");
    let second: i64 = stdout.trim().parse().unwrap();
    assert!(second > ticket_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn init_refuses_names_that_are_not_in_the_live_lists() {
    let sim = spawn_simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("mspbridge.toml");
    let mut flags = init_flags(&sim, &config_path);
    let board = flags
        .iter()
        .position(|a| a == "Security Operations")
        .unwrap();
    flags[board] = "Help Desk".to_string();
    let output = mspbridge(flags, private_key_env()).await;
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--board \"Help Desk\" is not in ConnectWise's list"),
        "{stderr}"
    );
    assert!(!config_path.exists(), "nothing is written when init fails");
}

#[tokio::test(flavor = "multi_thread")]
async fn init_non_interactive_names_a_missing_flag() {
    let dir = tempfile::tempdir().unwrap();
    let output = mspbridge(
        args(&[
            "init",
            "--non-interactive",
            "--output",
            dir.path().join("x.toml").to_str().unwrap(),
            "--site",
            "https://127.0.0.1:1",
        ]),
        vec![],
    )
    .await;
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--company-id is required with --non-interactive"),
        "{stderr}"
    );
}

/// Writes a config for the simulator with the given overrides of the connection settings.
fn write_config(
    dir: &Path,
    site: &str,
    company: &str,
    private_key: &str,
    client_id: &str,
) -> PathBuf {
    let config = SimulatorConfig::default();
    let path = dir.join("mspbridge.toml");
    std::fs::write(
        &path,
        format!(
            r#"[connectwise]
site = "{site}"
company_id = "{company}"
public_key = "{public}"
private_key = "{private_key}"
client_id = "{client_id}"
connect_timeout = "2s"
request_timeout = "5s"

[connectwise.ticket]
company_id = 42
board_id = 1
"#,
            public = config.public_key
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn check_looks_up_the_ids_routes_and_severity_maps_set() {
    let sim = spawn_simulator().await;
    let good = SimulatorConfig::default();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &sim.base_url(),
        &good.company_id,
        &good.private_key,
        "tests",
    );
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push_str(
        r#"
[[clients]]
name = "Acme"
aliases = ["acme"]

[[sources]]
name = "prom"
kind = "alertmanager"

[[routes]]
name = "acme-soc"
match = { labels.customer = "acme" }
client = "Acme"
ticket = { board_id = 3, team_id = 26 }
severity_map.critical = { priority_id = 8 }
severity_map.warning = { priority_id = 99 }
"#,
    );
    std::fs::write(&path, config).unwrap();
    let output = mspbridge(args(&["-c", path.to_str().unwrap(), "check"]), vec![]).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    let all = format!("{stdout}\n{stderr}");
    assert!(all.contains("ok    route acme-soc"), "{all}");
    assert!(
        all.contains(
            "routes[0].severity_map.warning.priority_id = 99: ConnectWise has no priority"
        ),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_names_the_failing_setting() {
    let sim = spawn_simulator().await;
    let good = SimulatorConfig::default();
    let secret = "Sup3r-Secret-Private-Key";
    let cases: Vec<(&str, String, String, String, String, &str)> = vec![
        (
            "bad keys",
            sim.base_url(),
            good.company_id.clone(),
            secret.to_string(),
            "tests".into(),
            "keys",
        ),
        (
            "missing client id",
            sim.base_url(),
            good.company_id.clone(),
            good.private_key.clone(),
            " ".into(),
            "client_id",
        ),
        (
            "unknown company",
            sim.base_url(),
            "nobody_here".into(),
            good.private_key.clone(),
            "tests".into(),
            "company",
        ),
        (
            "unreachable host",
            "http://127.0.0.1:9".into(),
            good.company_id.clone(),
            good.private_key.clone(),
            "tests".into(),
            "127.0.0.1:9",
        ),
    ];
    for (name, site, company, private_key, client_id, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), &site, &company, &private_key, &client_id);
        let output = mspbridge(args(&["-c", path.to_str().unwrap(), "check"]), vec![]).await;
        let (stdout, stderr) = text(&output);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{name}: check should fail\n{stdout}\n{stderr}"
        );
        let all = format!("{stdout}\n{stderr}");
        assert!(
            all.to_lowercase().contains(&expected.to_lowercase()),
            "{name}: expected {expected:?} in:\n{all}"
        );
        assert!(
            !all.contains(secret),
            "{name}: the private key reached the output:\n{all}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_every_config_mistake_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(
        &path,
        r#"[connectwise]
site = "not a url"
company_id = "acme"
public_key = "pub"
private_key = "env:MSPBRIDGE_TEST_UNSET_VARIABLE"
client_id = "x"

[connectwise.ticket]
severity = "Critical"
summary = "[x] %NoSuchField%"

[rules]
update_interval = "soon"
"#,
    )
    .unwrap();
    let output = mspbridge(args(&["-c", path.to_str().unwrap(), "check"]), vec![]).await;
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    for key in [
        "connectwise.site",
        "connectwise.private_key",
        "connectwise.ticket.severity",
        "connectwise.ticket.summary",
        "rules.update_interval",
    ] {
        assert!(stdout.contains(key), "{key} missing from:\n{stdout}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn test_ticket_for_an_unknown_client_is_refused() {
    let sim = spawn_simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let good = SimulatorConfig::default();
    let path = write_config(
        dir.path(),
        &sim.base_url(),
        &good.company_id,
        &good.private_key,
        "tests",
    );
    let output = mspbridge(
        args(&[
            "-c",
            path.to_str().unwrap(),
            "test-ticket",
            "--client",
            "Nobody",
        ]),
        vec![],
    )
    .await;
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--client \"Nobody\" is not a configured client"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_once_plays_the_seed_scenarios_and_every_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    let output = mspbridge(
        args(&["demo", "--once", "--dir", dir.path().to_str().unwrap()]),
        vec![],
    )
    .await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "demo failed:\n{stdout}\n{stderr}");
    for line in [
        "[ok] test ticket",
        "[ok] 8.1 password reset ticket",
        "[ok] 8.1 twenty resets, one update",
        "[ok] flood limit",
        "[ok] reopen",
        "[ok] correlation",
        "[ok] 8.2 auto-map",
        "[ok] 8.2 weekly report published",
        "demo: passed",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
    assert!(!stdout.contains("FAILED"), "{stdout}");
    assert!(dir.path().join("mspbridge.db").exists());
    // The console password is a secret file the configuration refers to, never printed by --once.
    let config = std::fs::read_to_string(dir.path().join("mspbridge.toml")).unwrap();
    let password_file = dir.path().join("admin-password");
    assert!(
        config.contains(&format!(
            "admin_password = \"file:{}\"",
            password_file.display()
        )),
        "{config}"
    );
    let password = std::fs::read_to_string(&password_file).unwrap();
    assert_eq!(password.trim().len(), 20, "a 20-character password");
    assert!(!stdout.contains(password.trim()), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_creates_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mspbridge.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\ndatabase = \"sqlite://{}\"\n",
            dir.path().join("m.db").display()
        ),
    )
    .unwrap();
    let output = mspbridge(args(&["-c", path.to_str().unwrap(), "migrate"]), vec![]).await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.trim().parse::<i64>().unwrap() >= 1, "{stdout}");
}

#[test]
fn every_command_has_help() {
    for command in [
        vec!["--help"],
        vec!["init", "--help"],
        vec!["check", "--help"],
        vec!["test-ticket", "--help"],
        vec!["import-netwrix", "--help"],
        vec!["migrate", "--help"],
        vec!["demo", "--help"],
        vec!["simulate", "--help"],
        vec!["simulate", "connectwise", "--help"],
        vec!["simulate", "auditor", "--help"],
        vec!["simulate", "itglue", "--help"],
    ] {
        let output = Command::new(BIN).args(&command).output().unwrap();
        assert!(output.status.success(), "{command:?}");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("Usage:"),
            "{command:?}"
        );
    }
}

/// The interactive wizard driven through a pseudo-terminal, the way a person answers it: typed
/// answers, Enter on the defaults, arrow keys in a menu, `y` on the confirmations.
#[tokio::test(flavor = "multi_thread")]
async fn init_interactive_through_a_terminal() {
    let sim = spawn_simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("mspbridge.toml");
    let site = sim.base_url();
    let config = SimulatorConfig::default();
    let path = config_path.clone();

    let transcript =
        tokio::task::spawn_blocking(move || -> Result<String, rexpect::error::Error> {
            let mut command = Command::new(BIN);
            command
                .args(["init", "--output", path.to_str().unwrap()])
                .env("TERM", "xterm-256color")
                .env_remove("RUST_LOG");
            let mut p = rexpect::session::spawn_command(command, Some(20_000))?;
            const DOWN: &str = "\x1b[B";
            // A menu reads keys only once it has switched the terminal to raw mode; give it a moment
            // after its prompt appears, as a person would.
            let settle = || std::thread::sleep(std::time::Duration::from_millis(300));
            p.exp_string("ConnectWise site")?;
            p.send_line(&site)?;
            p.exp_string("Company id")?;
            p.send_line(&config.company_id)?;
            p.exp_string("Public key")?;
            p.send_line(&config.public_key)?;
            p.exp_string("Private key")?;
            p.send_line("a-wrong-private-key")?;
            p.exp_string("Client id")?;
            p.send_line("mspbridge-pty-test")?;
            // The test fails; every answer is kept and only the private key is asked again.
            p.exp_string("The connection test failed")?;
            p.exp_string("Which setting should be changed?")?;
            settle();
            for _ in 0..3 {
                p.send(DOWN)?;
                p.flush()?;
            }
            p.send("\r")?;
            p.flush()?;
            let asked_again = p.exp_string("Private key")?;
            p.send_line(&config.private_key)?;
            let (before, connected) = p.exp_regex("Connected: [^\r\n]*")?;
            let asked_again = asked_again + &before;
            assert!(
                !asked_again.contains("Public key") && !asked_again.contains("Client id"),
                "only the private key is asked again: {asked_again:?}"
            );
            let mut seen = before + &connected;
            p.exp_string("Company the tickets are opened for")?;
            settle();
            p.send("\r")?;
            p.flush()?;
            p.exp_string("Service board")?;
            settle();
            p.send(DOWN)?;
            p.flush()?; // the second board: Security Operations
            p.send("\r")?;
            p.flush()?;
            p.exp_string("Service team")?;
            settle();
            p.send("\r")?;
            p.flush()?;
            p.exp_string("Priority")?;
            settle();
            p.send("\r")?;
            p.flush()?;
            p.exp_string("Severity")?;
            settle();
            p.send("\r")?;
            p.flush()?;
            p.exp_string("Impact")?;
            settle();
            p.send(DOWN)?;
            p.flush()?; // High
            p.send("\r")?;
            p.flush()?;
            p.exp_string("Summary template")?;
            settle();
            // An unknown placeholder is refused at the prompt, which asks again.
            p.send_line("[x] %Bogus%")?;
            p.exp_string("unknown placeholder %Bogus%")?;
            p.exp_string("Summary template")?;
            settle();
            p.send("\r")?;
            p.flush()?;
            p.exp_string("Use the default description template?")?;
            settle();
            p.send("y")?;
            p.flush()?;
            p.exp_string("Put the description in")?;
            settle();
            p.send("\r")?;
            p.flush()?;
            // So that the written service takes alerts: a token, a source, a first client.
            p.exp_string("Create an API token")?;
            settle();
            p.send("y")?;
            p.flush()?;
            p.exp_string("Add an alert source")?;
            settle();
            p.send("\r")?;
            p.flush()?; // a webhook
            p.exp_string("Add a managed client")?;
            settle();
            p.send("y")?;
            p.flush()?;
            p.exp_string("Client name")?;
            p.send_line("Acme")?;
            p.exp_string("Client e-mail")?;
            p.send_line("it@acme.example")?;
            p.exp_string("Add another client?")?;
            settle();
            p.send("n")?;
            p.flush()?;
            p.exp_string("Keep the private key in")?;
            settle();
            p.send("\r")?;
            p.flush()?;
            seen.push_str(&p.exp_string("Create a test ticket now?")?);
            p.send("y")?;
            p.flush()?;
            let (before, created) = p.exp_regex("Created test ticket #[0-9]+")?;
            seen.push_str(&before);
            seen.push_str(&created);
            p.exp_eof()?;
            Ok(seen)
        })
        .await
        .unwrap()
        .expect("the wizard runs to the end");

    assert!(transcript.contains("Wrote"), "{transcript}");
    let written = std::fs::read_to_string(&config_path).unwrap();
    assert!(
        written.contains("summary = \"[mspbridge] %AlertName%\""),
        "the default summary, not the refused one:\n{written}"
    );
    assert!(
        written.contains("board_id = 3"),
        "the second board was picked:\n{written}"
    );
    assert!(written.contains("impact = \"High\""), "{written}");
    assert!(written.contains("kind = \"webhook\""), "{written}");
    assert!(written.contains("name = \"Acme\""), "{written}");
    assert!(written.contains("email = \"it@acme.example\""), "{written}");
    let token_file = dir.path().join("mspbridge.api-token");
    assert!(
        written.contains(&format!("api_tokens = [\"file:{}\"]", token_file.display())),
        "{written}"
    );
    assert_eq!(std::fs::read_to_string(&token_file).unwrap().len(), 64);
    assert!(written.contains("severity = \"Medium\""), "{written}");
    assert!(!written.contains(&SimulatorConfig::default().private_key));
    let tickets = cw_get(&sim, "service/tickets").await;
    assert_eq!(
        tickets.as_array().unwrap().len(),
        1,
        "one test ticket was created"
    );
}

fn netwrix_fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn import_netwrix_writes_a_config_and_lists_what_it_could_not_carry() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imported.toml");
    let output = mspbridge(
        args(&[
            "import-netwrix",
            "--connectwise-settings",
            &netwrix_fixture("ConnectWiseSettings.xml"),
            "--itsm-settings",
            &netwrix_fixture("ITSMSettings.xml"),
            "-o",
            out.to_str().unwrap(),
        ]),
        vec![],
    )
    .await;
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("Not carried over"), "{stderr}");
    assert!(stderr.contains("connectwise.client_id"), "{stderr}");
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.contains("board_id = 1"), "{written}");
    assert!(
        written.contains("private_key = \"env:CW_PRIVATE_KEY\""),
        "{written}"
    );

    // The result is a real configuration: once the client id is filled in, it validates.
    std::fs::write(
        &out,
        written.replace("client_id = \"\"", "client_id = \"filled-in\""),
    )
    .unwrap();
    let output = mspbridge(
        args(&["-c", out.to_str().unwrap(), "check", "--offline"]),
        vec![
            ("CW_PRIVATE_KEY".into(), "k".into()),
            ("AUDITOR_PASSWORD".into(), "p".into()),
        ],
    )
    .await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");

    // An existing file is not overwritten without --force.
    let again = mspbridge(
        args(&[
            "import-netwrix",
            "--connectwise-settings",
            &netwrix_fixture("ConnectWiseSettings.xml"),
            "--itsm-settings",
            &netwrix_fixture("ITSMSettings.xml"),
            "-o",
            out.to_str().unwrap(),
        ]),
        vec![],
    )
    .await;
    assert!(!again.status.success());
    assert!(text(&again).1.contains("--force"));
}

#[tokio::test(flavor = "multi_thread")]
async fn import_netwrix_reports_broken_xml_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("ConnectWiseSettings.xml");
    std::fs::write(
        &broken,
        "<Settings>\n  <Connection>\n    <Site>x</Site>\n  </Connectio>\n</Settings>\n",
    )
    .unwrap();
    let output = mspbridge(
        args(&[
            "import-netwrix",
            "--connectwise-settings",
            broken.to_str().unwrap(),
            "--itsm-settings",
            &netwrix_fixture("ITSMSettings.xml"),
        ]),
        vec![],
    )
    .await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout.is_empty(),
        "nothing is written on an error: {stdout}"
    );
    assert!(
        stderr.contains(&format!("{}:4:3", broken.display())),
        "the file is named by its path: {stderr}"
    );
    assert!(stderr.contains("</Connectio>"), "{stderr}");

    // The same files saved as UTF-16 with a byte order mark are read.
    let utf16 = |name: &str| {
        let text = std::fs::read_to_string(netwrix_fixture(name))
            .unwrap()
            .replace("encoding=\"utf-8\"", "encoding=\"utf-16\"");
        let path = dir.path().join(format!("utf16-{name}"));
        let bytes: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    };
    let output = mspbridge(
        args(&[
            "import-netwrix",
            "--connectwise-settings",
            &utf16("ConnectWiseSettings.xml"),
            "--itsm-settings",
            &utf16("ITSMSettings.xml"),
        ]),
        vec![],
    )
    .await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("board_id = 1"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn init_honours_the_private_key_variable_name_and_leaves_nothing_behind_on_a_bad_template() {
    let sim = spawn_simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("mspbridge.toml");
    let mut flags = init_flags(&sim, &config_path);
    let env_flag = flags
        .iter()
        .position(|a| a == "TEST_CW_PRIVATE_KEY")
        .unwrap();
    flags[env_flag] = "CWPRIV".to_string();
    flags.extend(args(&["--secrets", "env"]));
    // And the intake: a token, a Netwrix Auditor source whose connection is tested, two clients.
    let auditor = mspbridge_simulators::auditor::spawn(
        mspbridge_simulators::auditor::AuditorSimConfig::new("ACME\\svc", "auditor-pw"),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    flags.extend(args(&[
        "--api-token",
        "--source",
        "netwrix-auditor",
        "--auditor-url",
        auditor.base_url(),
        "--auditor-username",
        "ACME\\svc",
        "--auditor-password-env",
        "AUDPW",
        "--client",
        "Acme=it@acme.example",
        "--client",
        "Globex",
    ]));
    let mut envs = vec![
        ("CWPRIV".to_string(), SimulatorConfig::default().private_key),
        ("AUDPW".to_string(), "wrong".to_string()),
    ];
    let output = mspbridge(flags.clone(), envs.clone()).await;
    let (_, stderr) = text(&output);
    assert!(
        !output.status.success(),
        "a refused Auditor login fails init"
    );
    assert!(stderr.contains("rejected the credentials"), "{stderr}");
    assert!(!config_path.exists(), "nothing written on failure");
    envs[1].1 = "auditor-pw".to_string();
    let output = mspbridge(flags.clone(), envs.clone()).await;
    assert!(output.status.success(), "{:?}", text(&output));
    let written = std::fs::read_to_string(&config_path).unwrap();
    for expected in [
        "private_key = \"env:CWPRIV\"",
        "api_tokens = [\"env:MSPBRIDGE_TOKEN\"]",
        "kind = \"netwrix-auditor\"",
        "password = \"env:AUDPW\"",
        "email = \"it@acme.example\"",
        "name = \"Globex\"",
    ] {
        assert!(written.contains(expected), "{expected} in:\n{written}");
    }
    assert!(!written.contains("auditor-pw"), "{written}");

    // A template with an unknown placeholder is named and nothing is written.
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("mspbridge.toml");
    let mut flags = init_flags(&sim, &config_path);
    flags.extend(args(&["--summary", "[x] %Bogus%"]));
    let output = mspbridge(flags, private_key_env()).await;
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--summary: unknown placeholder %Bogus%"),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}
