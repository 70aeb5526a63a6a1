//! Probes, metrics, the OpenAPI document, unknown routes and graceful shutdown.

use mspbridge_server::api::openapi::operations;
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
async fn the_served_document_and_the_router_have_the_same_routes() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    let (status, document) = status_and_json(response).await;
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.1.0");
    let documented = operations();
    assert_eq!(
        documented.len(),
        document["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum::<usize>()
    );
    let methods = ["get", "post", "put", "patch", "delete"];
    for path in document["paths"].as_object().unwrap().keys() {
        let concrete = path
            .replace("{id}", "999999")
            .replace("{client}", "Nobody")
            .replace("{name}", "nothing");
        for method in methods {
            let is_documented = documented.iter().any(|(m, p)| m == method && p == path);
            let request = app
                .http
                .request(method.to_uppercase().parse().unwrap(), app.url(&concrete))
                .bearer_auth(crate::support::TOKEN);
            let request = if method == "get" || method == "delete" {
                request
            } else {
                request
                    .header("content-type", "application/json")
                    .body("{}")
            };
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value =
                serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null);
            let code = body["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if is_documented {
                // Every documented operation is served: never a routing error.
                assert!(
                    code != "no_such_route" && code != "method_not_allowed",
                    "{method} {path}: {status} {body}"
                );
                let answered = &document["paths"][path][method]["responses"][status.to_string()];
                assert!(
                    answered.is_object(),
                    "{method} {path}: {status} is not documented: {body}"
                );
            } else {
                // Nothing is served that the document lacks.
                assert_eq!(
                    status, 405,
                    "{method} {path}: undocumented but {status} {body}"
                );
                assert_eq!(code, "method_not_allowed", "{method} {path}");
            }
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
