//! Probes, metrics, the OpenAPI document, unknown routes and graceful shutdown.

use mspbridge_server::api::openapi::ROUTES;
use serde_json::{json, Value};

use crate::support::{error_of, spawn_app, status_and_json};

#[tokio::test]
async fn healthz_and_readyz_answer_without_a_token() {
    let app = spawn_app().await;
    let response = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        status_and_json(response).await,
        (200, json!({"status": "ok"}))
    );
    let response = app.http.get(app.url("/readyz")).send().await.unwrap();
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert!(body["schema_version"].as_i64().unwrap() > 0, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn readyz_is_503_when_the_store_is_gone_while_healthz_stays_200() {
    let app = spawn_app().await;
    app.store().close().await;
    let response = app.http.get(app.url("/readyz")).send().await.unwrap();
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 503, "{body}");
    let (code, message) = error_of(&body);
    assert_eq!(code, "not_ready");
    assert!(
        message.starts_with("the store does not answer"),
        "{message}"
    );
    let response = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    // The intake cannot store: it must not acknowledge.
    let (status, body) = app
        .post(
            "/api/v1/alerts/netwrix",
            &json!({"alert_id": "a", "record_id": "r"}),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(error_of(&body).0, "store_failed");
    app.stop().await;
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_described_names_and_http_counts() {
    let app = spawn_app().await;
    let (status, _) = app
        .post(
            "/api/v1/alerts/netwrix",
            &json!({"alert_id": "m1", "record_id": "r1"}),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(app.get("/healthz").await.0, 200);
    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    for needle in [
        "# HELP mspbridge_alerts_received_total",
        "# TYPE mspbridge_alerts_received_total counter",
        "# TYPE mspbridge_queue_depth gauge",
        "mspbridge_dead_jobs 0",
        "# TYPE mspbridge_alerts_queued gauge",
        "mspbridge_http_requests_total{method=\"POST\",route=\"/api/v1/alerts/netwrix\",status=\"202\"}",
        "mspbridge_http_request_duration_seconds",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert!(!text.contains(crate::support::TOKEN));
    let received = text
        .lines()
        .find(|line| line.starts_with("mspbridge_alerts_received_total"))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse::<f64>().ok())
        .expect("a sample of mspbridge_alerts_received_total");
    assert!(received >= 1.0, "{received}");
    app.stop().await;
}

#[tokio::test]
async fn openapi_document_parses_and_lists_every_route_the_server_answers() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    let (status, document) = status_and_json(response).await;
    assert_eq!(status, 200);
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        assert!(paths[*path][*method].is_object(), "{method} {path} missing");
    }
    // Every documented operation exists on the server: it never answers 404/405 for routing.
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .replace("{id}", "999999")
                .replace("{client}", "Nobody")
                .replace("{name}", "nothing");
            let url = app.url(&concrete);
            let request = match method.as_str() {
                "get" => app.http.get(url),
                "post" => app.http.post(url).body("{}"),
                "delete" => app.http.delete(url),
                other => panic!("unexpected method {other}"),
            };
            let response = request
                .bearer_auth(crate::support::TOKEN)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let routing_error = body["error"]["code"] == "no_such_route"
                || body["error"]["code"] == "method_not_allowed";
            assert!(!routing_error, "{method} {path}: {status} {body}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_json_error_shape() {
    let app = spawn_app().await;
    let (status, body) = app.get("/api/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(error_of(&body).0, "no_such_route");
    let response = app
        .http
        .delete(app.url("/api/v1/incidents"))
        .bearer_auth(crate::support::TOKEN)
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(error_of(&body).0, "method_not_allowed");
    app.stop().await;
}

#[tokio::test]
async fn shutdown_stops_accepting_connections() {
    let app = spawn_app().await;
    let url = app.url("/healthz");
    let http = app.http.clone();
    assert_eq!(http.get(&url).send().await.unwrap().status().as_u16(), 200);
    app.stop().await;
    let fresh = reqwest::Client::new();
    assert!(fresh.get(&url).send().await.is_err());
}
