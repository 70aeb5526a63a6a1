//! Runs the store conformance suite against PostgreSQL, each test in its own fresh schema of the
//! database named by `MSPBRIDGE_TEST_POSTGRES_URL` (scripts/test starts a throw-away cluster and
//! sets it), plus what only PostgreSQL does: several stores (processes) on one database.
//!
//! Without the variable the tests say so and pass, except under CI (`CI` set), where a missing
//! database is a failure: the suite must never pass there without having run
//! ([`conformance::fresh_postgres_url`]).

use std::sync::Arc;
use std::time::Duration;

use mspbridge_store::{conformance, open_store, NewAlert, NewJob, Store, StoreError};

use conformance::fresh_postgres_url as fresh_url;

async fn fresh_store() -> Option<(Arc<dyn Store>, ())> {
    let url = fresh_url().await?;
    let store = open_store(&url)
        .await
        .expect("open a fresh PostgreSQL store");
    Some((store, ()))
}

mspbridge_store::conformance_suite!(fresh_store);

#[tokio::test]
async fn durable_across_reopen_of_the_same_database() {
    let Some(url) = fresh_url().await else {
        return;
    };
    conformance::durable_across_reopen(|| {
        let url = url.clone();
        async move { open_store(&url).await.expect("reopen the same database") }
    })
    .await;
}

#[tokio::test]
async fn passwords_never_reach_errors() {
    // Nothing listens on port 1: the connection is refused, and the error names the host only.
    let error = open_store("postgres://mspbridge:hunter2@127.0.0.1:1/mspbridge")
        .await
        .err()
        .expect("nothing listens there");
    assert!(matches!(&error, StoreError::Open { .. }), "got {error:?}");
    let message = error.to_string();
    assert!(message.contains("127.0.0.1:1/mspbridge"), "{message}");
    assert!(
        !message.contains("hunter2"),
        "the password leaked: {message}"
    );
    assert!(!format!("{error:?}").contains("hunter2"));

    let error = open_store("postgres://mspbridge:hunter2@[::1/x")
        .await
        .err()
        .expect("a broken URL is refused");
    assert!(matches!(&error, StoreError::InvalidUrl(_)), "got {error:?}");
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

fn alert(n: usize) -> NewAlert {
    NewAlert {
        source: "webhook".into(),
        source_alert_id: format!("a-{}", n / 2),
        client: Some("acme".into()),
        alert_name: "Password Reset".into(),
        occurred_at: conformance::at(0),
        received_at: conformance::at(1),
        payload: serde_json::json!({ "n": n }).into(),
    }
}

/// Three stores on one database behave like three processes: concurrent intake dedups across
/// them and hands out ids in commit order, and their claims never share a job while every job of
/// one serial key runs alone and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_share_intake_and_jobs_without_overlap() {
    let Some(url) = fresh_url().await else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(open_store(&url).await.unwrap());
    }
    // Intake: every id sent twice, through different stores, concurrently.
    let tasks: Vec<_> = (0..600)
        .map(|n| {
            let store = stores[n % 3].clone();
            tokio::spawn(async move { store.accept_alert(alert(n)).await.unwrap() })
        })
        .collect();
    let mut accepted = std::collections::HashSet::new();
    for task in tasks {
        let outcome = task.await.unwrap();
        if outcome.is_new() {
            assert!(
                accepted.insert(outcome.alert_id()),
                "an id handed out twice"
            );
        }
    }
    assert_eq!(accepted.len(), 300, "each source id stored once");

    let jobs: Vec<NewJob> = (0..300)
        .map(|i| NewJob {
            kind: "ticket.update".into(),
            serial_key: Some(format!("key-{}", i % 10)),
            payload: serde_json::json!({ "n": i }),
            run_at: conformance::at(0),
            idempotency_key: None,
            created_at: conformance::at(0),
        })
        .collect();
    stores[0].enqueue_jobs(jobs).await.unwrap();

    let drain = |store: Arc<dyn Store>, name: String| async move {
        let mut mine = Vec::new();
        loop {
            let claimed = store
                .claim_jobs(&name, conformance::at(1), Duration::from_secs(600), 3)
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
                mine.push((job.serial_key.clone().unwrap(), job.id));
            }
        }
    };
    let handles: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(n, store)| tokio::spawn(drain(store.clone(), format!("process-{n}"))))
        .collect();
    let mut all = Vec::new();
    for handle in handles {
        all.extend(handle.await.unwrap());
    }
    let mut ids: Vec<i64> = all.iter().map(|(_, id)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(all.len(), 300, "every job ran once");
    assert_eq!(ids.len(), 300, "no job ran twice");
    for store in stores {
        store.close().await;
    }
}

/// A process killed while holding a lease: another process takes the job over once the lease
/// ran out, and the dead holder's token is refused afterwards.
#[tokio::test]
async fn a_dead_holders_lease_passes_to_another_process() {
    let Some(url) = fresh_url().await else {
        return;
    };
    let first = open_store(&url).await.unwrap();
    let second = open_store(&url).await.unwrap();
    let job = first
        .enqueue_job(NewJob {
            kind: "ticket.create".into(),
            serial_key: Some("acme/lockout".into()),
            payload: serde_json::json!({}),
            run_at: conformance::at(0),
            idempotency_key: Some("alert-1".into()),
            created_at: conformance::at(0),
        })
        .await
        .unwrap();
    let lease = Duration::from_secs(30);
    let held = first
        .claim_jobs("a", conformance::at(1), lease, 5)
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    // The holder's connections vanish as a killed process's would.
    first.close().await;
    assert!(second
        .claim_jobs("b", conformance::at(10), lease, 5)
        .await
        .unwrap()
        .is_empty());
    let taken = second
        .claim_jobs("b", conformance::at(31), lease, 5)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!((taken[0].id, taken[0].attempts), (job.id, 2));
    let stale = held[0].lease_token.as_deref().unwrap();
    assert!(matches!(
        second
            .complete_job(job.id, stale, conformance::at(32))
            .await,
        Err(StoreError::LeaseLost { .. })
    ));
    second
        .complete_job(
            job.id,
            taken[0].lease_token.as_deref().unwrap(),
            conformance::at(32),
        )
        .await
        .unwrap();
    second.close().await;
}

/// A process's intake wakes another process: the work signal moves on the other store when
/// alerts are committed.
#[tokio::test]
async fn intake_on_one_process_wakes_the_others() {
    let Some(url) = fresh_url().await else {
        return;
    };
    let intake = open_store(&url).await.unwrap();
    let engine = open_store(&url).await.unwrap();
    let mut signal = engine.work_signal().expect("PostgreSQL stores signal work");
    // Wait until the listener is connected (it signals once when it starts listening).
    tokio::time::timeout(Duration::from_secs(10), signal.changed())
        .await
        .expect("the listener starts")
        .unwrap();
    signal.borrow_and_update();
    intake.accept_alert(alert(0)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), signal.changed())
        .await
        .expect("the other store is woken by the commit")
        .unwrap();
    intake.close().await;
    engine.close().await;
}

/// Of several processes moving a scheduler's marker forward at once, exactly one succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_runs_once_per_cluster() {
    let Some(url) = fresh_url().await else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(open_store(&url).await.unwrap());
    }
    for round in 0..20 {
        let expected = (round > 0).then(|| serde_json::json!(round - 1));
        let tasks: Vec<_> = stores
            .iter()
            .map(|store| {
                let store = store.clone();
                let expected = expected.clone();
                tokio::spawn(async move {
                    store
                        .compare_and_put_kv("schedule.automap", expected, serde_json::json!(round))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        assert_eq!(
            winners, 1,
            "round {round}: exactly one process runs the schedule"
        );
    }
    for store in stores {
        store.close().await;
    }
}
