//! The three intake endpoints: happy paths, duplicates, and bad input that must change nothing.

use serde_json::{json, Value};

use crate::support::{error_of, spawn_app, spawn_app_with, status_and_json, MAX_BODY_BYTES, TOKEN};

fn native_alert() -> Value {
    json!({
        "source": "hooks",
        "alert_id": "evt-1001",
        "alert_name": "Password Reset",
        "client": "Acme",
        "occurred_at": "2026-01-31T08:00:00Z",
        "records": [{
            "who": "ACME\\helpdesk",
            "action": "Modified",
            "object_type": "user",
            "what": "\\local\\acme\\Users\\Jason Smith",
            "when": "2026-01-31T08:00:00Z",
            "where": "dc1.acme.local",
            "workstation": "ws-042",
            "details": [{"property": "Password", "before": null, "after": "(reset)"}],
            "data_source": "Active Directory"
        }],
        "fields": {"ticket_hint": "reset"}
    })
}

#[tokio::test]
async fn native_alert_is_stored_then_acknowledged_and_a_repeat_is_a_duplicate() {
    let app = spawn_app().await;
    let (status, body) = app.post("/api/v1/alerts", &native_alert()).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["duplicate"], false);
    let id = body["id"].as_i64().unwrap();

    let stored = app
        .store()
        .get_alert(id)
        .await
        .unwrap()
        .expect("stored before the 202");
    assert_eq!(stored.source, "hooks");
    assert_eq!(stored.source_alert_id, "evt-1001");
    assert_eq!(stored.client.as_deref(), Some("Acme"));
    assert_eq!(stored.alert_name, "Password Reset");
    let alert: mspbridge_core::alert::Alert = serde_json::from_value(stored.payload).unwrap();
    assert_eq!(alert.records[0].who, "ACME\\helpdesk");
    assert_eq!(alert.records[0].where_, "dc1.acme.local");
    assert_eq!(
        alert.records[0].details[0].flattened(),
        "Password: (none) -> (reset)"
    );
    assert_eq!(alert.fields["ticket_hint"], "reset");

    let (status, again) = app.post("/api/v1/alerts", &native_alert()).await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(again, json!({"id": id, "duplicate": true}));
    assert_eq!(app.stored_alerts().await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn native_records_accept_the_netwrix_spelling() {
    let app = spawn_app().await;
    let mut alert = native_alert();
    alert["records"] = json!([{
        "Who": "ACME\\admin", "Action": "Added", "ObjectType": "group", "What": "Domain Admins",
        "When": "2026-01-31T09:00:00+01:00", "Where": "dc2", "DataSource": "Active Directory",
        "DetailList": [{"PropertyName": "member", "After": "ACME\\eve"}]
    }]);
    let (status, body) = app.post("/api/v1/alerts", &alert).await;
    assert_eq!(status, 202, "{body}");
    let stored = app.stored_alerts().await.remove(0);
    assert_eq!(stored.payload["records"][0]["who"], "ACME\\admin");
    assert_eq!(
        stored.payload["records"][0]["details"][0]["property"],
        "member"
    );
    app.stop().await;
}

#[tokio::test]
async fn netwrix_response_action_ids_are_accepted_including_test_run_samples() {
    let app = spawn_app().await;
    let rid = "20260131080000123B9451771F5964A9EAC0A5F35307EA155";
    let (status, body) = app
        .post(
            "/api/v1/alerts/netwrix",
            &json!({"alert_id": "7c2f0e8a-1b7d-4c55-9a3e-1f1f1f1f1f1f", "record_id": rid, "source": "auditor-acme"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["duplicate"], false);
    let stored = app
        .store()
        .get_alert(body["id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.source, "auditor-acme");
    assert_eq!(
        stored.source_alert_id,
        format!("7c2f0e8a-1b7d-4c55-9a3e-1f1f1f1f1f1f/{rid}")
    );
    assert_eq!(
        stored.occurred_at.to_rfc3339(),
        "2026-01-31T08:00:00.123+00:00"
    );
    assert_eq!(stored.payload["fields"]["RecordID"], rid);

    // Auditor retries the response action while the exit code is not 0: a duplicate.
    let (status, again) = app
        .post(
            "/api/v1/alerts/netwrix",
            &json!({"alert_id": "7c2f0e8a-1b7d-4c55-9a3e-1f1f1f1f1f1f", "record_id": rid}),
        )
        .await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["id"], body["id"]);

    // A Test run passes sample ids matching no record: accepted, the engine deals with them.
    let (status, sample) = app
        .post(
            "/api/v1/alerts/netwrix",
            &json!({"alert_id": "TestAlertID", "record_id": "TestRecordID"}),
        )
        .await;
    assert_eq!(status, 202, "{sample}");
    assert_eq!(sample["duplicate"], false);
    assert_eq!(app.stored_alerts().await.len(), 2);
    app.stop().await;
}

fn alertmanager_payload(status: &str) -> Value {
    json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"DiskFull\"}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "mspbridge",
        "groupLabels": {"alertname": "DiskFull"},
        "commonLabels": {"alertname": "DiskFull"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "DiskFull", "instance": "fs1:9100", "job": "node"},
                "annotations": {"summary": "/data is 97% full"},
                "startsAt": "2026-01-31T07:00:00Z",
                "endsAt": if status == "resolved" { "2026-01-31T07:45:00Z" } else { "0001-01-01T00:00:00Z" },
                "generatorURL": "http://prometheus.example/graph",
                "fingerprint": "aa11bb22cc33dd44"
            },
            {
                "status": status,
                "labels": {"alertname": "DiskFull", "instance": "fs2:9100", "job": "node"},
                "annotations": {"summary": "/home is 95% full"},
                "startsAt": "2026-01-31T07:01:00Z",
                "endsAt": if status == "resolved" { "2026-01-31T07:46:00Z" } else { "0001-01-01T00:00:00Z" },
                "generatorURL": "http://prometheus.example/graph",
                "fingerprint": "ee55ff66aa77bb88"
            }
        ]
    })
}

#[tokio::test]
async fn alertmanager_alerts_each_become_one_alert_and_resolved_ones_are_marked() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/api/v1/alerts/alertmanager",
            &alertmanager_payload("firing"),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let outcomes = body["alerts"].as_array().unwrap();
    assert_eq!(outcomes.len(), 2);
    assert!(outcomes.iter().all(|outcome| outcome["duplicate"] == false));

    // Alertmanager repeats notifications: the same firing alerts are duplicates.
    let (status, repeat) = app
        .post(
            "/api/v1/alerts/alertmanager?source=prometheus",
            &alertmanager_payload("firing"),
        )
        .await;
    assert_eq!(status, 202, "{repeat}");
    assert!(repeat["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["duplicate"] == true));

    let (status, resolved) = app
        .post(
            "/api/v1/alerts/alertmanager",
            &alertmanager_payload("resolved"),
        )
        .await;
    assert_eq!(status, 202, "{resolved}");
    assert!(resolved["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["duplicate"] == false));

    let stored = app.stored_alerts().await;
    assert_eq!(stored.len(), 4);
    assert_eq!(stored[0].source, "prometheus");
    assert_eq!(stored[0].alert_name, "DiskFull");
    assert_eq!(
        stored[0].source_alert_id,
        "aa11bb22cc33dd44@2026-01-31T07:00:00Z"
    );
    assert_eq!(stored[0].payload["fields"]["status"], "firing");
    assert_eq!(
        stored[2].source_alert_id,
        "aa11bb22cc33dd44@2026-01-31T07:00:00Z/resolved"
    );
    assert_eq!(stored[2].payload["fields"]["status"], "resolved");
    assert_eq!(stored[2].payload["fields"]["instance"], "fs1:9100");
    app.stop().await;
}

/// Every bad request: status, error code, a piece of the message.
#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_stores_nothing() {
    let app = spawn_app().await;
    let with = |key: &str, value: Value| {
        let mut alert = native_alert();
        alert[key] = value;
        alert.to_string()
    };
    let without = |key: &str| {
        let mut alert = native_alert();
        alert.as_object_mut().unwrap().remove(key);
        alert.to_string()
    };
    let mut bad_when = native_alert();
    bad_when["records"][0]["when"] = json!("yesterday");
    let mut bad_field_value = native_alert();
    bad_field_value["fields"]["count"] = json!(3);
    let mut wrong_version = alertmanager_payload("firing");
    wrong_version["version"] = json!("3");
    let mut no_alertname = alertmanager_payload("firing");
    no_alertname["alerts"][1]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("alertname");

    let cases: Vec<(&str, String, u16, &str, &str)> = vec![
        (
            "/api/v1/alerts",
            "{\"source\": \"hooks\",".into(),
            400,
            "malformed_json",
            "malformed JSON",
        ),
        ("/api/v1/alerts", "".into(), 400, "malformed_json", "empty"),
        (
            "/api/v1/alerts",
            "\"an alert\"".into(),
            400,
            "invalid_field",
            "invalid type: string \"an alert\", expected struct NativeAlert",
        ),
        (
            "/api/v1/alerts",
            with("alert_id", json!(1001)),
            400,
            "invalid_field",
            "alert_id: invalid type: integer",
        ),
        (
            "/api/v1/alerts",
            without("alert_name"),
            400,
            "invalid_field",
            "missing field `alert_name`",
        ),
        (
            "/api/v1/alerts",
            with("alert_id", json!("  ")),
            400,
            "invalid_field",
            "alert_id must not be empty",
        ),
        (
            "/api/v1/alerts",
            with("occurred_at", json!("31/01/2026")),
            400,
            "invalid_field",
            "occurred_at: \"31/01/2026\" is not an RFC 3339 time",
        ),
        (
            "/api/v1/alerts",
            bad_when.to_string(),
            400,
            "invalid_field",
            "records[0].when",
        ),
        (
            "/api/v1/alerts",
            bad_field_value.to_string(),
            400,
            "invalid_field",
            "fields.count: invalid type: integer",
        ),
        (
            "/api/v1/alerts",
            with("severity", json!("high")),
            400,
            "invalid_field",
            "unknown field `severity`",
        ),
        (
            "/api/v1/alerts",
            with("source", json!("nagios")),
            400,
            "unknown_source",
            "unknown source \"nagios\"",
        ),
        (
            "/api/v1/alerts",
            with("client", json!("Umbrella")),
            400,
            "unknown_client",
            "unknown client \"Umbrella\"; configured clients: Acme, Globex",
        ),
        (
            "/api/v1/alerts/netwrix",
            json!({"alert_id": "a"}).to_string(),
            400,
            "invalid_field",
            "missing field `record_id`",
        ),
        (
            "/api/v1/alerts/netwrix",
            json!({"alert_id": "a", "record_id": 7}).to_string(),
            400,
            "invalid_field",
            "record_id: invalid type: integer",
        ),
        (
            "/api/v1/alerts/netwrix",
            json!({"alert_id": "a", "record_id": "r", "source": "hooks"}).to_string(),
            400,
            "unknown_source",
            "\"hooks\" is a webhook source",
        ),
        (
            "/api/v1/alerts/netwrix",
            json!({"alert_id": "a", "record_id": "r", "source": "nope"}).to_string(),
            400,
            "unknown_source",
            "unknown source \"nope\"; configured netwrix-auditor sources: auditor-acme",
        ),
        (
            "/api/v1/alerts/alertmanager",
            wrong_version.to_string(),
            400,
            "invalid_field",
            "version: \"3\" is not supported",
        ),
        (
            "/api/v1/alerts/alertmanager",
            no_alertname.to_string(),
            400,
            "invalid_field",
            "alerts[1].labels.alertname must not be empty",
        ),
        (
            "/api/v1/alerts/alertmanager?source=hooks",
            alertmanager_payload("firing").to_string(),
            400,
            "unknown_source",
            "\"hooks\" is a webhook source",
        ),
        (
            "/api/v1/alerts/alertmanager?sauce=x",
            alertmanager_payload("firing").to_string(),
            400,
            "invalid_query",
            "sauce",
        ),
        (
            "/api/v1/alerts",
            "x".repeat(MAX_BODY_BYTES + 1),
            413,
            "payload_too_large",
            "larger than the limit of 16384 bytes",
        ),
    ];
    for (path, body, status, code, needle) in cases {
        let response = app.post_raw(path, body.clone()).await;
        let (actual, json) = status_and_json(response).await;
        let (actual_code, message) = error_of(&json);
        let shown: String = body.chars().take(80).collect();
        assert_eq!(actual, status, "{path} {shown}: {json}");
        assert_eq!(actual_code, code, "{path} {shown}: {json}");
        assert!(
            message.contains(needle),
            "{path} {shown}: {message:?} lacks {needle:?}"
        );
    }
    assert!(
        app.stored_alerts().await.is_empty(),
        "a refused request stored something"
    );
    app.stop().await;
}

#[tokio::test]
async fn missing_or_wrong_tokens_get_401_and_store_nothing() {
    let app = spawn_app().await;
    let body = native_alert().to_string();
    let requests = [
        (None, "missing bearer token"),
        (
            Some("Bearer not-the-token".to_string()),
            "not one of server.api_tokens",
        ),
        (
            Some(format!("Bearer {TOKEN}x")),
            "not one of server.api_tokens",
        ),
        (Some(format!("Basic {TOKEN}")), "is not \"Bearer <token>\""),
    ];
    for (authorization, needle) in requests {
        let mut request = app.http.post(app.url("/api/v1/alerts")).body(body.clone());
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"mspbridge\""
        );
        let (status, json) = status_and_json(response).await;
        assert_eq!(status, 401, "{authorization:?}: {json}");
        let (code, message) = error_of(&json);
        assert_eq!(code, "unauthorized");
        assert!(message.contains(needle), "{message}");
        assert!(!message.contains(TOKEN), "the token leaked: {message}");
    }
    // An oversized body without a token is refused for the token, not read.
    let response = app
        .http
        .post(app.url("/api/v1/alerts"))
        .body("x".repeat(MAX_BODY_BYTES * 4))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // The second configured token works too.
    let response = app
        .http
        .post(app.url("/api/v1/alerts"))
        .bearer_auth(crate::support::OTHER_TOKEN)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    assert_eq!(app.stored_alerts().await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn intake_over_its_rate_gets_429_with_retry_after_and_nothing_stored() {
    let app = spawn_app_with(Some("2/1h")).await;
    let mut second = native_alert();
    second["alert_id"] = json!("evt-1002");
    let mut third = native_alert();
    third["alert_id"] = json!("evt-1003");
    assert_eq!(app.post("/api/v1/alerts", &native_alert()).await.0, 202);
    assert_eq!(app.post("/api/v1/alerts", &second).await.0, 202);
    let response = app.post_raw("/api/v1/alerts", third.to_string()).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(error_of(&body).0, "rate_limited");
    assert_eq!(app.stored_alerts().await.len(), 2);
    // Reading is not limited.
    assert_eq!(app.get("/api/v1/alerts").await.0, 200);
    app.stop().await;
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_cut_off_with_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = spawn_app().await;
    let address = app.base_url.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/alerts HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // No Content-Length: the limit must hold while reading the chunks.
    let chunk = "x".repeat(4096);
    for _ in 0..(MAX_BODY_BYTES / 4096 + 2) {
        let framed = format!("{:x}\r\n{chunk}\r\n", chunk.len());
        if stream.write_all(framed.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    // The server may reset the connection after answering (the rest of the body is unread);
    // what was read before that is kept.
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"payload_too_large\""), "{answer}");
    assert!(app.stored_alerts().await.is_empty());
    app.stop().await;
}
