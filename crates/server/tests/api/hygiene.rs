//! Text that shows nothing is refused with a 400 naming the field, and a rate-limited
//! Alertmanager delivery gets a 503 Alertmanager retries (not the 429 it would drop).

use serde_json::{json, Value};

use crate::support::{error_of, spawn_app, spawn_app_with, status_and_json};

fn native(alert_name: &str, fields: Value) -> Value {
    json!({
        "source": "hooks",
        "alert_id": "evt-hygiene",
        "alert_name": alert_name,
        "client": "Acme",
        "occurred_at": "2026-01-31T08:00:00Z",
        "fields": fields
    })
}

fn alertmanager(alert_name: &str, labels: Value) -> Value {
    let mut all = json!({"alertname": alert_name, "instance": "fs1:9100"});
    for (name, value) in labels.as_object().unwrap() {
        all[name] = value.clone();
    }
    json!({
        "version": "4",
        "status": "firing",
        "receiver": "mspbridge",
        "alerts": [{
            "status": "firing",
            "labels": all,
            "annotations": {},
            "startsAt": "2026-01-31T07:00:00Z",
            "fingerprint": "aa11bb22cc33dd44"
        }]
    })
}

#[tokio::test]
async fn names_and_fields_of_invisible_characters_only_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let zero_width = "\u{200B}\u{200D}\u{FEFF}";
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/api/v1/alerts",
            native(zero_width, json!({})),
            "alert_name must not consist of invisible characters only",
        ),
        (
            "/api/v1/alerts",
            native("Disk full", json!({"customer": "\u{2060} "})),
            "fields.customer must not consist of invisible characters only",
        ),
        (
            "/api/v1/alerts",
            native("Disk full", json!({"note": "\u{0000}\u{001b}[31m"})),
            "fields.note must not contain control characters",
        ),
        (
            "/api/v1/alerts/netwrix",
            json!({"alert_id": "guid-1", "record_id": "rid-1", "alert_name": "\u{202E}\u{200B}"}),
            "alert_name must not consist of invisible characters only",
        ),
        (
            "/api/v1/alerts/alertmanager",
            alertmanager(zero_width, json!({})),
            "alerts[0].labels.alertname must not consist of invisible characters only",
        ),
        (
            "/api/v1/alerts/alertmanager",
            alertmanager("DiskFull", json!({"customer": "\u{200B}"})),
            "alerts[0].labels.customer must not consist of invisible characters only",
        ),
    ];
    for (path, body, expected) in cases {
        let (status, answer) = app.post(path, &body).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        let (code, message) = error_of(&answer);
        assert_eq!(code, "invalid_field");
        assert!(message.starts_with(expected), "{message}");
    }
    assert!(app.stored_alerts().await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_rate_limited_alertmanager_delivery_gets_503_with_retry_after() {
    let app = spawn_app_with(Some("1/1h")).await;
    let first = alertmanager("DiskFull", json!({}));
    assert_eq!(app.post("/api/v1/alerts/alertmanager", &first).await.0, 202);
    let mut second = alertmanager("DiskFull", json!({}));
    second["alerts"][0]["fingerprint"] = json!("ee55ff66aa77bb88");
    let response = app
        .post_raw("/api/v1/alerts/alertmanager", second.to_string())
        .await;
    assert!(response.headers().contains_key("retry-after"));
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(error_of(&body).0, "rate_limited");
    // The other intakes keep answering 429.
    let (status, _) = app
        .post("/api/v1/alerts", &native("Disk full", json!({})))
        .await;
    assert_eq!(status, 429);
    assert_eq!(app.stored_alerts().await.len(), 1);
    app.stop().await;
}
