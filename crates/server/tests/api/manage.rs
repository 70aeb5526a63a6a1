//! The management API: incidents, events, the queue and its retry, alerts, clients, sources.

use std::time::Duration;

use chrono::Utc;
use mspbridge_store::{BufferChange, DecisionBatch, Incident, NewEvent, NewJob};
use serde_json::json;

use crate::support::{error_of, spawn_app, AUDITOR_PASSWORD};

#[tokio::test]
async fn incidents_list_the_tracked_tickets() {
    let app = spawn_app().await;
    // Recent, so the service's retention pass (which runs at start) has no reason to forget them.
    let at = Utc::now() - chrono::Duration::hours(1);
    for (key, client, ticket) in [
        ("Acme/Password Reset", "Acme", 501),
        ("Globex/Disk Full", "Globex", 502),
    ] {
        let incident = app
            .store()
            .upsert_incident(Incident {
                key: key.into(),
                client: Some(client.into()),
                ticket_id: Some(ticket),
                status: "open".into(),
                first_alert_at: at,
                last_alert_at: at,
                alert_count: 3,
                buffered: 0,
                flush_at: None,
                flood: false,
                details: json!({}),
                version: 0,
            })
            .await
            .unwrap();
        // Two alerts wait in its consolidation buffer.
        let append = |entry| BufferChange::Append {
            key: key.into(),
            entry,
        };
        app.store()
            .commit_decisions(DecisionBatch {
                incidents: vec![incident],
                buffer: vec![append(json!(1)), append(json!(2))],
                ..DecisionBatch::default()
            })
            .await
            .unwrap();
    }
    let (status, body) = app.get("/api/v1/incidents").await;
    assert_eq!(status, 200, "{body}");
    let list = body.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["key"], "Acme/Password Reset");
    assert_eq!(list[0]["ticket_id"], 501);
    assert_eq!(list[0]["alert_count"], 3);
    assert_eq!(list[0]["pending_alerts"], 2);
    assert_eq!(list[0]["state"], "open");

    let (_, only) = app.get("/api/v1/incidents?client=Globex").await;
    assert_eq!(only.as_array().unwrap().len(), 1);
    assert_eq!(only[0]["ticket_id"], 502);
    let (status, body) = app.get("/api/v1/incidents?limit=many").await;
    assert_eq!(status, 400);
    assert_eq!(error_of(&body).0, "invalid_query");
    app.stop().await;
}

#[tokio::test]
async fn events_filter_by_code_client_and_since_and_carry_catalogue_names() {
    let app = spawn_app().await;
    let now = Utc::now();
    let events = [
        (4100, "Acme", now - chrono::Duration::hours(1)),
        (4100, "Globex", now - chrono::Duration::hours(2)),
        (4201, "Acme", now - chrono::Duration::days(3)),
    ];
    for (code, client, at) in events {
        app.store()
            .append_event(NewEvent {
                code,
                at,
                client: Some(client.into()),
                subject: Some("ticket 1".into()),
                message: format!("event {code}"),
                details: json!({}),
            })
            .await
            .unwrap();
    }
    let (status, all) = app.get("/api/v1/events").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(all[0]["name"], "ticket_created");
    assert_eq!(all[2]["name"], "job_dead_lettered");

    let (_, recent) = app.get("/api/v1/events?since=24h").await;
    assert_eq!(recent.as_array().unwrap().len(), 2);
    let (_, acme) = app.get("/api/v1/events?client=Acme&code=4100").await;
    assert_eq!(acme.as_array().unwrap().len(), 1);
    let (_, one) = app.get("/api/v1/events?limit=1").await;
    assert_eq!(one.as_array().unwrap().len(), 1);

    let (status, body) = app.get("/api/v1/events?since=last-week").await;
    assert_eq!(status, 400);
    let (code, message) = error_of(&body);
    assert_eq!(code, "invalid_query");
    assert!(message.starts_with("since: \"last-week\""), "{message}");
    let (status, _) = app.get("/api/v1/events?code=abc").await;
    assert_eq!(status, 400);
    app.stop().await;
}

#[tokio::test]
async fn queue_shows_dead_jobs_with_their_error_and_retry_requeues_them_once() {
    let app = spawn_app().await;
    let store = app.store();
    let now = Utc::now();
    // Jobs due in a year: the running engine leaves them alone; the test claims one itself.
    let waiting = store
        .enqueue_job(NewJob {
            kind: "test.waiting".into(),
            serial_key: None,
            payload: json!({}),
            run_at: now + chrono::Duration::days(730),
            idempotency_key: None,
            created_at: now,
        })
        .await
        .unwrap();
    let doomed = store
        .enqueue_job(NewJob {
            kind: "test.doomed".into(),
            serial_key: Some("manual/retry".into()),
            payload: json!({}),
            run_at: now + chrono::Duration::days(365),
            idempotency_key: None,
            created_at: now,
        })
        .await
        .unwrap();
    let claimed = store
        .claim_jobs(
            "tests",
            now + chrono::Duration::days(366),
            Duration::from_secs(60),
            10,
        )
        .await
        .unwrap();
    let job = claimed.iter().find(|job| job.id == doomed.id).unwrap();
    store
        .fail_job(
            job.id,
            job.lease_token.as_deref().unwrap(),
            now + chrono::Duration::days(366),
            "ConnectWise answered 400: board 3 has no status New",
            None,
        )
        .await
        .unwrap();

    let (status, queue) = app.get("/api/v1/queue").await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["depth"]["dead"], 1);
    let jobs = queue["jobs"].as_array().unwrap();
    let dead = jobs.iter().find(|job| job["id"] == doomed.id).unwrap();
    assert_eq!(dead["state"], "dead");
    assert_eq!(
        dead["last_error"],
        "ConnectWise answered 400: board 3 has no status New"
    );
    assert!(jobs
        .iter()
        .any(|job| job["id"] == waiting.id && job["state"] == "queued"));
    assert!(!queue.to_string().contains("lease_token"));

    let (status, retried) = app
        .post(&format!("/api/v1/queue/{}/retry", doomed.id), &json!({}))
        .await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["state"], "queued");
    assert_eq!(retried["id"], doomed.id);
    let (_, events) = app.get("/api/v1/events?code=4202").await;
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");

    let (status, body) = app
        .post(&format!("/api/v1/queue/{}/retry", waiting.id), &json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
    let (code, message) = error_of(&body);
    assert_eq!(code, "conflict");
    assert!(
        message.contains("only dead jobs can be retried"),
        "{message}"
    );

    let (status, body) = app.post("/api/v1/queue/987654/retry", &json!({})).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_of(&body).1, "job 987654 not found");
    let (status, _) = app.post("/api/v1/queue/abc/retry", &json!({})).await;
    assert_eq!(status, 400);
    app.stop().await;
}

#[tokio::test]
async fn alerts_list_filters_by_state_after_the_engine_routed_them() {
    let app = spawn_app().await;
    // "hooks" has no default client and there is no catch-all: u1 cannot be routed.
    for (alert_id, client) in [("u1", None), ("r1", Some("Acme"))] {
        let (status, body) = app
            .post(
                "/api/v1/alerts",
                &json!({"source": "hooks", "alert_id": alert_id, "alert_name": "Odd Login",
                        "client": client, "occurred_at": "2026-01-31T08:00:00Z"}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }
    let engine = app.service.as_ref().unwrap().engine().unwrap();
    engine.run_until_idle().await.unwrap();

    let (status, unrouted) = app.get("/api/v1/alerts?state=unrouted").await;
    assert_eq!(status, 200, "{unrouted}");
    let list = unrouted.as_array().unwrap();
    assert_eq!(list.len(), 1, "{unrouted}");
    assert_eq!(list[0]["source_alert_id"], "u1");
    assert_eq!(list[0]["state"], "unrouted");
    let (_, all) = app.get("/api/v1/alerts?source=hooks").await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (_, queued) = app.get("/api/v1/alerts?state=queued").await;
    assert_eq!(queued, json!([]));
    let (status, body) = app.get("/api/v1/alerts?state=lost").await;
    assert_eq!(status, 400);
    assert!(error_of(&body)
        .1
        .contains("not one of queued, processed, unrouted"));
    app.stop().await;
}

#[tokio::test]
async fn clients_and_sources_are_listed_without_secrets() {
    let app = spawn_app().await;
    let (status, clients) = app.get("/api/v1/clients").await;
    assert_eq!(status, 200);
    assert_eq!(clients[0]["name"], "Acme");
    assert_eq!(clients[0]["company_id"], 250);
    assert_eq!(clients[0]["team_id"], 26);
    assert_eq!(clients[1]["name"], "Globex");
    assert_eq!(clients[1]["board_id"], 3);

    let (status, sources) = app.get("/api/v1/sources").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = sources
        .as_array()
        .unwrap()
        .iter()
        .map(|source| source["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["auditor-acme", "hooks", "prometheus"]);
    assert_eq!(sources[0]["kind"], "netwrix-auditor");
    assert_eq!(sources[0]["username"], "ACME\\svc-mspbridge");
    assert!(!sources.to_string().contains(AUDITOR_PASSWORD));
    assert!(!clients.to_string().contains(AUDITOR_PASSWORD));
    app.stop().await;
}
