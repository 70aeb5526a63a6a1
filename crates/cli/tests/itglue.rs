//! `mspbridge systems`, `clients` and `itglue` as a user runs them: the real binary, a SQLite file
//! in a temporary directory and the IT Glue simulator on loopback.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mspbridge_simulators::itglue::{spawn, ItGlueSimConfig, ItGlueSimulator};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_mspbridge");
const KEY: &str = "ITG.cli-test-key";

async fn simulator() -> ItGlueSimulator {
    spawn(ItGlueSimConfig::demo(KEY), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("start the IT Glue simulator")
}

struct Setup {
    dir: TempDir,
    config: PathBuf,
}

fn setup(itglue_url: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mspbridge.toml");
    let text = format!(
        r#"[server]
database = "sqlite://{db}"

[[clients]]
name = "Acme"
email = "it@acme.example"

[[clients]]
name = "Umbrella"
email = "soc@umbrella.example"

[[clients]]
name = "Initech"
email = "it@initech.example"

[[itglue]]
name = "main"
url = "{itglue_url}"
api_key = "{KEY}"
clients = ["Acme", "Umbrella", "Initech"]
"#,
        db = dir.path().join("mspbridge.db").display()
    );
    std::fs::write(&config, text).unwrap();
    Setup { dir, config }
}

/// Runs the binary off the async runtime (it is a blocking child process).
async fn mspbridge(config: &Path, args: &[&str]) -> (bool, String, String) {
    let mut full = vec!["--config".to_string(), config.to_str().unwrap().to_string()];
    full.extend(args.iter().map(|s| s.to_string()));
    let output: Output = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&full)
            .env_remove("MSPBRIDGE_CONFIG")
            .env_remove("RUST_LOG")
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn write(setup: &Setup, name: &str, text: &str) -> String {
    let path = setup.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn systems_csv_import_is_all_or_nothing() {
    let setup = setup("http://127.0.0.1:9");
    let good = write(
        &setup,
        "good.csv",
        "name,client,macs,sensor\n\
         ACME-DC01,Acme,00:1A:2B:3C:4D:5E,agent\n\
         ACME-LAPTOP03,Acme,A4-5E-60-C1-D2-E3;001a.2b3c.4d99,agent\n\
         ACME-NEW,Acme,,syslog\n",
    );
    let (ok, stdout, stderr) = mspbridge(&setup.config, &["systems", "import", &good]).await;
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "3");

    let bad = write(
        &setup,
        "bad.csv",
        "name,client,macs,sensor\n\
         OK-ONE,Acme,00:1a:2b:3c:4d:70,agent\n\
         BAD-MAC,Acme,zz-zz,agent\n\
         GHOST,Nobody,,agent\n",
    );
    let (ok, _, stderr) = mspbridge(&setup.config, &["systems", "import", &bad]).await;
    assert!(!ok, "a bad file must fail");
    assert!(stderr.contains("line 3: \"zz-zz\""), "{stderr}");
    assert!(stderr.contains("line 4: client \"Nobody\""), "{stderr}");
    assert!(stderr.contains("nothing was imported"), "{stderr}");

    let (ok, stdout, stderr) = mspbridge(&setup.config, &["systems", "list"]).await;
    assert!(ok, "{stderr}");
    let names: Vec<&str> = stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(names, vec!["ACME-DC01", "ACME-LAPTOP03", "ACME-NEW"]);
    assert!(
        stdout.contains("a45e60c1d2e3;001a2b3c4d99"),
        "MACs are normalised: {stdout}"
    );

    let (ok, _, stderr) = mspbridge(
        &setup.config,
        &[
            "systems", "add", "WS9", "--client", "Acme", "--mac", "bogus",
        ],
    )
    .await;
    assert!(
        !ok && stderr.contains("\"bogus\" is not a usable MAC"),
        "{stderr}"
    );
    let (ok, _, stderr) = mspbridge(
        &setup.config,
        &["systems", "remove", "ACME-NEW", "--client", "Acme"],
    )
    .await;
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = mspbridge(
        &setup.config,
        &["systems", "remove", "ACME-NEW", "--client", "Acme"],
    )
    .await;
    assert!(!ok && stderr.contains("has no system"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn import_automap_map_unmap_and_mappings() {
    let sim = simulator().await;
    let setup = setup(sim.base_url());
    let config = setup.config.clone();
    let (ok, _, stderr) = mspbridge(
        &config,
        &[
            "systems",
            "add",
            "ACME-DC01",
            "--client",
            "Acme",
            "--mac",
            "00-1A-2B-3C-4D-5E",
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    let (ok, _, stderr) =
        mspbridge(&config, &["systems", "add", "ACME-NEW", "--client", "Acme"]).await;
    assert!(ok, "{stderr}");

    let (ok, stdout, stderr) = mspbridge(&config, &["itglue", "import"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("main\t7\t"), "{stdout}");
    assert!(
        stderr.contains("reading configurations"),
        "plain progress lines: {stderr}"
    );

    let (ok, stdout, stderr) = mspbridge(&config, &["itglue", "automap", "--no-import"]).await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("main\tclient\tAcme\tmapped\tauto\torganization 10"),
        "{stdout}"
    );
    assert!(
        stdout.contains("main\tclient\tUmbrella\tfailed\t4018\tdomain umbrella.example is shared"),
        "{stdout}"
    );
    assert!(
        stdout.contains("main\tsystem\tAcme/ACME-DC01\tmapped\tauto\tconfiguration 100"),
        "{stdout}"
    );
    assert!(
        stdout.contains("main\tsystem\tAcme/ACME-NEW\tfailed\t4019\tno MAC"),
        "{stdout}"
    );

    // Manual mappings: a typo is refused, a real id is stored and survives auto-mapping.
    let (ok, _, stderr) = mspbridge(
        &config,
        &[
            "itglue",
            "map",
            "--client",
            "Umbrella",
            "--organization",
            "999",
        ],
    )
    .await;
    assert!(
        !ok && stderr.contains("organization 999 is not in the imported directory"),
        "{stderr}"
    );
    let (ok, _, stderr) = mspbridge(
        &config,
        &[
            "itglue",
            "map",
            "--client",
            "Umbrella",
            "--organization",
            "50",
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    // Related items are two-sided: a system of Acme (mapped to organization 10) must not be linked
    // to Globex's configuration 150.
    let (ok, _, stderr) = mspbridge(
        &config,
        &[
            "itglue",
            "map",
            "--client",
            "Acme",
            "--system",
            "ACME-NEW",
            "--configuration",
            "150",
        ],
    )
    .await;
    assert!(!ok, "a configuration of another organization is refused");
    assert!(
        stderr.contains(
            "belongs to IT Glue organization 20, but client \"Acme\" is mapped to organization 10"
        ),
        "{stderr}"
    );
    let (ok, _, stderr) = mspbridge(
        &config,
        &[
            "itglue",
            "map",
            "--client",
            "Acme",
            "--system",
            "ACME-NEW",
            "--configuration",
            "140",
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = mspbridge(&config, &["itglue", "automap"]).await;
    assert!(ok, "{stderr}");

    let (ok, stdout, stderr) = mspbridge(&config, &["itglue", "mappings"]).await;
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.contains(&"main\tclient\tUmbrella\torganization\t50\tUmbrella Holdings\tmanual"),
        "{stdout}"
    );
    assert!(
        lines.contains(&"main\tclient\tAcme\torganization\t10\tAcme Corporation\tauto"),
        "{stdout}"
    );
    assert!(
        lines.contains(&"main\tsystem\tAcme/ACME-NEW\tconfiguration\t140\tACME-SW01\tmanual"),
        "{stdout}"
    );

    let (ok, stdout, stderr) = mspbridge(&config, &["clients", "list"]).await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("Umbrella\tsoc@umbrella.example\tmain\torganization 50\tmanual"),
        "{stdout}"
    );

    let (ok, _, stderr) = mspbridge(&config, &["itglue", "unmap", "--client", "Umbrella"]).await;
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = mspbridge(
        &config,
        &[
            "itglue", "unmap", "--client", "Acme", "--system", "ACME-NEW",
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = mspbridge(&config, &["itglue", "unmap", "--client", "Umbrella"]).await;
    assert!(!ok && stderr.contains("has no mapping"), "{stderr}");
    let (_, stdout, _) = mspbridge(&config, &["itglue", "mappings"]).await;
    assert!(!stdout.contains("Umbrella"), "{stdout}");
    assert!(!stdout.contains("ACME-NEW"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_explains_a_refused_itglue_key() {
    let sim = simulator().await;
    let setup = setup(sim.base_url());
    let text = std::fs::read_to_string(&setup.config)
        .unwrap()
        .replace(KEY, "ITG.wrong-key");
    std::fs::write(&setup.config, text).unwrap();
    let (ok, stdout, stderr) = mspbridge(&setup.config, &["check"]).await;
    assert!(!ok, "a refused key fails the check: {stdout}{stderr}");
    assert!(stdout.contains("FAIL  itglue main"), "{stdout}");
    assert!(stdout.contains("region"), "{stdout}");
    // The refusal is explained once, not once per error type that wrapped it.
    assert_eq!(stdout.matches("HTTP 403").count(), 1, "{stdout}");
    assert!(
        !stdout.contains("ITG.wrong-key"),
        "the key is never printed"
    );
}

/// On a terminal, the import shows a bar per collection with the pages and records read.
#[tokio::test(flavor = "multi_thread")]
async fn import_on_a_terminal_shows_pages_and_records() {
    let sim = simulator().await;
    let setup = setup(sim.base_url());
    let config = setup.config.clone();
    let transcript =
        tokio::task::spawn_blocking(move || -> Result<String, rexpect::error::Error> {
            let mut command = Command::new(BIN);
            command
                .arg("--config")
                .arg(&config)
                .args(["itglue", "import"])
                .env("TERM", "xterm-256color")
                .env_remove("MSPBRIDGE_CONFIG")
                .env_remove("RUST_LOG");
            let mut p = rexpect::session::spawn_command(command, Some(20_000))?;
            let seen = p.exp_eof()?;
            Ok(seen)
        })
        .await
        .unwrap()
        .expect("the import runs to the end");
    assert!(transcript.contains("7 organizations read"), "{transcript}");
    assert!(transcript.contains("configurations read"), "{transcript}");
    assert!(
        transcript.contains("page 1/1"),
        "a bar with pages: {transcript:?}"
    );
    assert!(transcript.contains("records"), "{transcript:?}");
    assert!(
        !transcript.contains("reading configurations…"),
        "no plain lines on a terminal: {transcript:?}"
    );
}
