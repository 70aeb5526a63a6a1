//! Runs the store conformance suite against SQLite files in temporary directories,
//! plus the SQLite-specific behaviour of opening by URL.

use std::path::Path;
use std::sync::Arc;

use mspbridge_store::{conformance, open_store, SqliteStore, Store, StoreError};
use tempfile::TempDir;

/// A fresh database file; the directory lives as long as the returned guard.
async fn fresh_store() -> (Arc<dyn Store>, TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("mspbridge.db").display());
    let store = open_store(&url).await.expect("open a fresh SQLite store");
    (store, dir)
}

/// [`fresh_store`] for the shared suite: SQLite is always available.
async fn fresh_for_suite() -> Option<(Arc<dyn Store>, TempDir)> {
    Some(fresh_store().await)
}

mspbridge_store::conformance_suite!(fresh_for_suite);

#[tokio::test]
async fn durable_across_reopen_of_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("durable.db");
    let url = format!("sqlite://{}", path.display());
    conformance::durable_across_reopen(|| {
        let url = url.clone();
        async move { open_store(&url).await.expect("reopen the same file") }
    })
    .await;
    assert!(path.exists(), "the database file is where the URL said");
}

#[tokio::test]
async fn whole_suite_runs_on_in_memory_databases() {
    conformance::run_all(|| async {
        open_store("sqlite::memory:")
            .await
            .expect("open an in-memory store")
    })
    .await;
}

#[tokio::test]
async fn plain_path_opens_a_file_and_reports_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.db");
    let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    assert_eq!(store.location(), path.to_str().unwrap());
    store.ping().await.unwrap();
    store.close().await;
    assert!(path.exists());
}

#[tokio::test]
async fn unknown_or_missing_schemes_are_clear_errors() {
    let error = open_store("mysql://root:secret@host/db")
        .await
        .err()
        .unwrap();
    assert!(matches!(&error, StoreError::InvalidUrl(_)), "got {error:?}");
    assert!(error.to_string().contains("\"mysql\""), "{error}");
    assert!(!error.to_string().contains("secret"), "{error}");

    let error = open_store("").await.err().unwrap();
    assert!(matches!(&error, StoreError::InvalidUrl(_)), "got {error:?}");
}

#[tokio::test]
async fn a_directory_that_does_not_exist_is_an_open_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("x.db");
    let error = SqliteStore::open(path.to_str().unwrap())
        .await
        .err()
        .unwrap();
    assert!(matches!(&error, StoreError::Open { .. }), "got {error:?}");
    assert!(error.to_string().contains("missing-dir"), "{error}");
}

#[tokio::test]
async fn a_closed_store_reports_errors_instead_of_hanging() {
    let (store, _dir) = fresh_store().await;
    store.close().await;
    let error = store.ping().await.expect_err("ping after close fails");
    assert!(
        matches!(&error, StoreError::Database { .. }),
        "got {error:?}"
    );
}

/// Set in the child process of [`committed_alerts_are_on_disk_after_the_writing_process_is_gone`]:
/// the database URL it writes to.
const WRITER_URL: &str = "MSPBRIDGE_TEST_STORE_WRITER_URL";
const ON_DISK_TEST: &str = "committed_alerts_are_on_disk_after_the_writing_process_is_gone";

#[tokio::test]
async fn committed_alerts_are_on_disk_after_the_writing_process_is_gone() {
    if let Ok(url) = std::env::var(WRITER_URL) {
        // The writer: accept one alert, say its id, and end the process at once — no close, no
        // checkpoint, no destructor. What the acknowledgement promised must already be in the file.
        let store = open_store(&url).await.unwrap();
        let id = store
            .accept_alert(mspbridge_store::NewAlert {
                source: "auditor".into(),
                source_alert_id: "A1".into(),
                client: None,
                alert_name: "Mass deletion".into(),
                occurred_at: conformance::at(0),
                received_at: conformance::at(1),
                payload: serde_json::json!({"Who": "CORP\\bob"}).into(),
            })
            .await
            .unwrap()
            .alert_id();
        // On a line of its own after the harness's "test … … ", which prints no newline first.
        println!("\naccepted alert {id}");
        std::process::exit(0);
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("crash.db").display());
    // This test binary again, running only this test, as the writing process.
    let writer = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", ON_DISK_TEST, "--nocapture", "--test-threads=1"])
        .env(WRITER_URL, &url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&writer.stdout);
    assert!(
        writer.status.success(),
        "the writer failed: {stdout}{}",
        String::from_utf8_lossy(&writer.stderr)
    );
    let id: i64 = stdout
        .lines()
        .find_map(|line| line.split("accepted alert ").nth(1))
        .and_then(|id| id.trim().parse().ok())
        .unwrap_or_else(|| panic!("the writer did not say what it accepted: {stdout}"));

    // The writer is gone; this process opens the file afresh and finds the alert.
    let reader = open_store(&url).await.unwrap();
    let seen = reader.get_alert(id).await.unwrap();
    assert_eq!(seen.map(|a| a.source_alert_id), Some("A1".to_string()));
    reader.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_never_share_a_job() {
    // Two openers of one file behave like two processes: the write lock, not the pool,
    // keeps their claims apart.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let a = open_store(&url).await.unwrap();
    let b = open_store(&url).await.unwrap();
    let jobs: Vec<mspbridge_store::NewJob> = (0..200)
        .map(|i| mspbridge_store::NewJob {
            kind: "publish".into(),
            serial_key: Some(format!("key-{}", i % 10)),
            payload: serde_json::json!({ "n": i }),
            run_at: conformance::at(0),
            idempotency_key: None,
            created_at: conformance::at(0),
        })
        .collect();
    a.enqueue_jobs(jobs).await.unwrap();

    let drain = |store: std::sync::Arc<dyn Store>, name: &'static str| async move {
        let mut mine = Vec::new();
        loop {
            let claimed = store
                .claim_jobs(
                    name,
                    conformance::at(1),
                    std::time::Duration::from_secs(600),
                    4,
                )
                .await
                .unwrap();
            if claimed.is_empty() {
                let depth = store.queue_depth().await.unwrap();
                if depth.queued + depth.running == 0 {
                    return mine;
                }
                tokio::task::yield_now().await;
                continue;
            }
            for job in claimed {
                store
                    .complete_job(
                        job.id,
                        job.lease_token.as_deref().unwrap(),
                        conformance::at(2),
                    )
                    .await
                    .unwrap();
                mine.push(job.id);
            }
        }
    };
    let (from_a, from_b) = tokio::join!(
        tokio::spawn(drain(a.clone(), "process-a")),
        tokio::spawn(drain(b.clone(), "process-b"))
    );
    let mut all: Vec<i64> = from_a.unwrap();
    all.extend(from_b.unwrap());
    let total = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(total, 200, "every job ran once");
    assert_eq!(all.len(), 200, "no job ran twice");
    a.close().await;
    b.close().await;
}

/// Concurrent single-alert intake is committed in groups; every caller still gets its own
/// outcome, a repeat inside one group is a duplicate of its first occurrence, and all of it is on
/// disk for a second opener of the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_single_accepts_share_commits_but_keep_their_own_outcomes() {
    use mspbridge_store::model::{AcceptOutcome, NewAlert};
    let dir = TempDir::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("group.db").display());
    let store = Arc::new(SqliteStore::open(&url).await.unwrap());
    let now = chrono::Utc::now();
    let alert = move |n: usize| NewAlert {
        source: "webhook".into(),
        // Every id twice: 0,0,1,1,…
        source_alert_id: format!("a-{}", n / 2),
        client: Some("Acme".into()),
        alert_name: "Password Reset".into(),
        occurred_at: now,
        received_at: now,
        payload: serde_json::json!({ "n": n }).into(),
    };
    let tasks: Vec<_> = (0..400)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.accept_alert(alert(n)).await.unwrap() })
        })
        .collect();
    let mut accepted = std::collections::HashSet::new();
    let mut duplicates = 0;
    for task in tasks {
        match task.await.unwrap() {
            AcceptOutcome::Accepted(id) => assert!(accepted.insert(id), "id {id} handed out twice"),
            AcceptOutcome::Duplicate(_) => duplicates += 1,
        }
    }
    assert_eq!(accepted.len(), 200);
    assert_eq!(duplicates, 200);

    let second = SqliteStore::open(&url).await.unwrap();
    let counts = second.count_alerts_by_state().await.unwrap();
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 200);
}

/// A database written before consolidation buffers were rows keeps every buffered entry, in
/// order, and its count, when the current version opens it.
#[tokio::test]
async fn buffers_of_an_older_database_become_rows_in_order() {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::ConnectOptions;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("older.db");
    // The schema as it was: every migration before the one that moved buffers into rows.
    let older = dir.path().join("older-migrations");
    std::fs::create_dir(&older).unwrap();
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for file in std::fs::read_dir(&migrations).unwrap() {
        let file = file.unwrap();
        let name = file.file_name().into_string().unwrap();
        if name.as_str() < "0400" {
            std::fs::copy(file.path(), older.join(&name)).unwrap();
        }
    }
    let mut connection = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(older.as_path())
        .await
        .unwrap()
        .run(&mut connection)
        .await
        .unwrap();
    for (key, buffer) in [
        (
            "acme/lockout",
            r#"[3,{"alert_id":1,"alert":{"name":"inline"}},2]"#,
        ),
        ("acme/quiet", "[]"),
    ] {
        sqlx::query(
            "INSERT INTO incidents (key, client, ticket_id, status, first_alert_at, \
             last_alert_at, alert_count, buffer, flush_at, flood, details, version) \
             VALUES (?, 'acme', 7, 'open', 0, 0, 4, ?, 60000000, 0, '{}', 3)",
        )
        .bind(key)
        .bind(buffer)
        .execute(&mut connection)
        .await
        .unwrap();
    }
    drop(connection);

    let store = open_store(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let incident = store.get_incident("acme/lockout").await.unwrap().unwrap();
    assert_eq!((incident.buffered, incident.version), (3, 3));
    let entries: Vec<_> = store
        .incident_buffer("acme/lockout")
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.entry)
        .collect();
    assert_eq!(
        entries,
        [
            serde_json::json!(3),
            serde_json::json!({"alert_id": 1, "alert": {"name": "inline"}}),
            serde_json::json!(2)
        ]
    );
    let quiet = store.get_incident("acme/quiet").await.unwrap().unwrap();
    assert_eq!(quiet.buffered, 0);
    assert_eq!(store.incident_buffer("acme/quiet").await.unwrap(), []);
    store.close().await;
}

/// Applies to a new database file every migration whose file name sorts before `before`.
async fn database_before(dir: &Path, before: &str) -> (std::path::PathBuf, sqlx::SqliteConnection) {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::ConnectOptions;

    let path = dir.join("older.db");
    let older = dir.join("older-migrations");
    std::fs::create_dir(&older).unwrap();
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for file in std::fs::read_dir(&migrations).unwrap() {
        let file = file.unwrap();
        let name = file.file_name().into_string().unwrap();
        if name.as_str() < before {
            std::fs::copy(file.path(), older.join(&name)).unwrap();
        }
    }
    let mut connection = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(older.as_path())
        .await
        .unwrap()
        .run(&mut connection)
        .await
        .unwrap();
    (path, connection)
}

/// Stores an alert as a database before migration `2000` held it: its payload in its row.
async fn store_older_alert(
    connection: &mut sqlx::SqliteConnection,
    id: i64,
    client: Option<&str>,
    name: &str,
    state: &str,
    at: i64,
    payload: &str,
) {
    sqlx::query(
        "INSERT INTO alerts (id, source, source_alert_id, client, alert_name, occurred_at, \
         received_at, state, payload) VALUES (?, 's', ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(id.to_string())
    .bind(client)
    .bind(name)
    .bind(at)
    .bind(at)
    .bind(state)
    .bind(payload)
    .execute(connection)
    .await
    .unwrap();
}

/// A database written before report roll-ups existed gets them back-filled from its processed
/// alerts and its events, counted as the store counts a decided alert; and, created without
/// incremental vacuum, it is converted at open.
#[tokio::test]
async fn roll_ups_are_back_filled_from_an_older_database() {
    use mspbridge_store::{ReportStore, RollupKind};

    let dir = tempfile::tempdir().unwrap();
    let (path, mut connection) = database_before(dir.path(), "1500").await;
    let day = |d: i64| 1_772_409_600_000_000i64 + d * 86_400_000_000; // 2026-03-02 + d days
    for (id, client, name, state, at, payload) in [
        (
            1,
            Some("acme"),
            "Password Reset",
            "processed",
            day(0),
            r#"{"records":[{"Who":"CORP\\alice","Workstation":"WS-01","Where":"ws-01"}]}"#,
        ),
        (
            2,
            Some("acme"),
            "Password Reset",
            "processed",
            day(0),
            r#"{"activity_records":[{"who":"CORP\\alice","where_":"DC-01"},{"who":"CORP\\bob"}]}"#,
        ),
        (
            3,
            Some("acme"),
            "Login",
            "processed",
            day(1),
            r#"{"Who":" ","Where":"DC-01"}"#,
        ),
        (4, Some("acme"), "Login", "queued", day(1), r#"{}"#),
        (5, None, "Login", "unrouted", day(1), r#"{}"#),
        (6, Some("globex"), "Login", "processed", day(1), r#""text""#),
    ] {
        store_older_alert(&mut connection, id, client, name, state, at, payload).await;
    }
    for (code, client) in [(4100, Some("acme")), (4100, Some("acme")), (4101, None)] {
        sqlx::query(
            "INSERT INTO events (code, at, client, message, details) VALUES (?, ?, ?, 'm', '{}')",
        )
        .bind(code)
        .bind(day(1))
        .bind(client)
        .execute(&mut connection)
        .await
        .unwrap();
    }
    drop(connection);

    let store = SqliteStore::open(&path.display().to_string())
        .await
        .unwrap();
    let first = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let second = first.succ_opt().unwrap();
    let rows: Vec<(chrono::NaiveDate, RollupKind, String, u64)> = store
        .report_rollups("acme", first, second)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.day, row.kind, row.name, row.count))
        .collect();
    let expected = vec![
        (first, RollupKind::Type, "Password Reset".to_string(), 2),
        (first, RollupKind::Account, "CORP\\alice".to_string(), 2),
        (first, RollupKind::Account, "CORP\\bob".to_string(), 1),
        (first, RollupKind::System, "DC-01".to_string(), 1),
        (first, RollupKind::System, "WS-01".to_string(), 1),
        (second, RollupKind::Type, "Login".to_string(), 1),
        (second, RollupKind::System, "DC-01".to_string(), 1),
        (second, RollupKind::Event, "4100".to_string(), 2),
    ];
    let mut sorted = expected.clone();
    sorted.sort_by(|a, b| (a.0, a.1.as_str(), &a.2).cmp(&(b.0, b.1.as_str(), &b.2)));
    assert_eq!(rows, sorted);
    let globex = store.report_rollups("globex", first, second).await.unwrap();
    assert_eq!(
        globex.len(),
        1,
        "a payload that is not an object counts its alert only"
    );

    let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
        .fetch_one(
            &mut <sqlx::sqlite::SqliteConnectOptions as sqlx::ConnectOptions>::connect(
                &sqlx::sqlite::SqliteConnectOptions::new().filename(&path),
            )
            .await
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        mode, 2,
        "a small older database is converted to incremental vacuum"
    );
    store.close().await;
}

/// Pruned space goes back to the file system: a database that held large payloads shrinks
/// after retention, and the storage statistics say so.
#[tokio::test]
async fn pruned_space_is_given_back() {
    use mspbridge_store::{
        AlertOutcome, AlertState, DecisionBatch, KeepLimit, NewAlert, RetentionPolicy,
    };

    let (store, _dir) = fresh_store().await;
    let big = "x".repeat(20_000);
    let alerts: Vec<NewAlert> = (0..300)
        .map(|n| NewAlert {
            source: "s".into(),
            source_alert_id: n.to_string(),
            client: None,
            alert_name: "Big".into(),
            occurred_at: conformance::at(n),
            received_at: conformance::at(n),
            payload: serde_json::json!({ "blob": big }).into(),
        })
        .collect();
    let ids: Vec<i64> = store
        .accept_alerts_batch(alerts)
        .await
        .unwrap()
        .iter()
        .map(|outcome| outcome.alert_id())
        .collect();
    store
        .commit_decisions(DecisionBatch {
            alerts: ids
                .iter()
                .map(|id| AlertOutcome {
                    id: *id,
                    state: AlertState::Processed,
                    client: None,
                    payload: None,
                    counted: None,
                    decisions: Vec::new(),
                })
                .collect(),
            ..DecisionBatch::default()
        })
        .await
        .unwrap();
    let full = store.storage_stats().await.unwrap();
    assert!(full.database_bytes > 300 * 20_000, "{full:?}");
    let report = store
        .prune(
            conformance::at(1000),
            &RetentionPolicy {
                alerts: KeepLimit {
                    keep: None,
                    limit: Some(10),
                },
                ..RetentionPolicy::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(report.alerts, 290);
    assert!(report.vacuumed_pages > 0, "{report:?}");
    let pruned = store.storage_stats().await.unwrap();
    assert!(
        pruned.database_bytes < full.database_bytes / 4,
        "{full:?} then {pruned:?}"
    );
    assert!(
        pruned.rows.contains(&("alerts".to_string(), 10)),
        "{pruned:?}"
    );
    store.close().await;
}

/// Committed pages are copied from the write-ahead log into the database file in the background,
/// long before the log reaches the size at which the writer would checkpoint itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_copied_into_the_database_file_in_the_background() {
    use mspbridge_store::model::NewAlert;
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("checkpointed.db");
    let store = SqliteStore::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let empty = std::fs::metadata(&path).unwrap().len();
    let now = chrono::Utc::now();
    let alerts: Vec<NewAlert> = (0..400)
        .map(|n| NewAlert {
            source: "webhook".into(),
            source_alert_id: format!("a-{n}"),
            client: Some("Acme".into()),
            alert_name: "Password Reset".into(),
            occurred_at: now,
            received_at: now,
            payload: serde_json::json!({ "details": "x".repeat(1_000) }).into(),
        })
        .collect();
    store.accept_alerts_batch(alerts).await.unwrap();
    // 400 KB of alerts is about a hundred pages: far below the writer's own threshold.
    let mut grown = false;
    for _ in 0..200 {
        if std::fs::metadata(&path).unwrap().len() > empty + 300_000 {
            grown = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        grown,
        "the database file stayed at {} bytes",
        std::fs::metadata(&path).unwrap().len()
    );
}

/// A database written while alert payloads were kept in the alert row keeps every payload when
/// they move to a table of their own, and its alerts are read and decided as before.
#[tokio::test]
async fn alert_payloads_move_out_of_an_older_database_intact() {
    use mspbridge_store::{AlertFilter, AlertOutcome, AlertState, DecisionBatch};

    let dir = tempfile::tempdir().unwrap();
    let (path, mut connection) = database_before(dir.path(), "2000").await;
    for (id, state, payload) in [
        (1, "processed", r#"{"records":[{"Who":"CORP\\alice"}]}"#),
        (2, "queued", r#"{"n":2}"#),
        (3, "queued", r#"{"n":3}"#),
    ] {
        store_older_alert(
            &mut connection,
            id,
            Some("acme"),
            "Login",
            state,
            0,
            payload,
        )
        .await;
    }
    drop(connection);

    let store = SqliteStore::open(&path.display().to_string())
        .await
        .unwrap();
    let payloads = |alerts: Vec<mspbridge_store::Alert>| -> Vec<(i64, serde_json::Value)> {
        alerts.into_iter().map(|a| (a.id, a.payload)).collect()
    };
    let all = store.list_alerts(AlertFilter::default(), 10).await.unwrap();
    assert_eq!(
        payloads(all),
        vec![
            (1, serde_json::json!({"records": [{"Who": "CORP\\alice"}]})),
            (2, serde_json::json!({"n": 2})),
            (3, serde_json::json!({"n": 3})),
        ]
    );
    store
        .commit_decisions(DecisionBatch {
            alerts: vec![AlertOutcome {
                id: 2,
                state: AlertState::Processed,
                client: Some("acme".into()),
                payload: Some(serde_json::json!({"n": 2, "record": "fetched"})),
                counted: None,
                decisions: Vec::new(),
            }],
            ..DecisionBatch::default()
        })
        .await
        .unwrap();
    let two = store.get_alert(2).await.unwrap().unwrap();
    assert_eq!(two.state, AlertState::Processed);
    assert_eq!(
        two.payload,
        serde_json::json!({"n": 2, "record": "fetched"})
    );
    assert_eq!(
        store.get_alert(3).await.unwrap().unwrap().payload,
        serde_json::json!({"n": 3}),
        "an alert the decision does not give a payload keeps its own"
    );
    store.close().await;
}
