//! `/api/v1/reports` over loopback: generate, upload (checked), list, publish (queued or refused)
//! and download in a sandbox.

mod reports_support;

use std::sync::Arc;

use mspbridge_core::clock::ManualClock;
use mspbridge_server::api::{router, ApiState};
use mspbridge_server::reports::run_due_publish_jobs;
use reports_support::*;
use serde_json::{json, Value};

const TOKEN: &str = "reports-api-token";

struct Api {
    base: String,
    http: reqwest::Client,
    _server: tokio::task::JoinHandle<()>,
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.bearer_auth(TOKEN).send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }
}

async fn serve(
    store: &Arc<dyn mspbridge_store::Store>,
    config: &Arc<mspbridge_core::config::Config>,
) -> Api {
    let clock = ManualClock::new(start() + chrono::Duration::days(7));
    let state = ApiState::builder(store.clone(), config.clone())
        .clock(Arc::new(clock))
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, router(state)).await.unwrap();
    });
    Api {
        base,
        http: reqwest::Client::new(),
        _server: server,
    }
}

#[tokio::test]
async fn reports_are_generated_uploaded_listed_published_and_downloaded() {
    let sim = itglue_simulator().await;
    let store = memory_store().await;
    let config = config_for(
        sim.base_url(),
        &format!("[server]\napi_tokens = [\"{TOKEN}\"]\n"),
    );
    map_acme(&store, &sim).await;
    seed_week(&store, "Acme").await;
    let api = serve(&store, &config).await;

    let (status, body) = api
        .send(
            api.http
                .post(api.url("/reports/generate"))
                .json(&json!({"client": "Acme", "days": 7, "publish": true})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let generated = body["report"]["id"].as_i64().unwrap();
    assert_eq!(body["publish"]["state"], "pending", "{body}");

    let html = "<!DOCTYPE html><html><body>Pentest</body></html>";
    let (status, body) = api
        .send(
            api.http
                .post(api.url("/reports/upload?client=Acme&name=Pentest"))
                .header("content-type", "text/html")
                .body(html),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["report"]["source"], "external");
    let uploaded = body["report"]["id"].as_i64().unwrap();

    let (status, body) = api
        .send(
            api.http
                .post(api.url("/reports/upload?client=Acme"))
                .body("%PDF-1.7"),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_field");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("does not look like HTML"));
    let (status, _) = api
        .send(
            api.http
                .post(api.url("/reports/upload?client=Acme"))
                .body(vec![b'<'; 11 * 1024 * 1024]),
        )
        .await;
    assert_eq!(status, 413);

    let (status, body) = api
        .send(
            api.http
                .post(api.url(&format!("/reports/{uploaded}/publish"))),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let (deps, _clock) = publish_deps(&store, &config, &sim);
    assert_eq!(run_due_publish_jobs(&deps).await.unwrap().published, 2);

    let (status, body) = api
        .send(api.http.get(api.url("/reports?state=published")))
        .await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<i64> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![uploaded, generated]);
    let (status, body) = api.send(api.http.get(api.url("/reports?state=lost"))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_query"))
    );

    let response = api
        .http
        .get(api.url(&format!("/reports/{uploaded}/download")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let headers = response.headers().clone();
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("sandbox"));
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(response.text().await.unwrap(), html);

    let (status, _) = api.send(api.http.get(api.url("/reports/999"))).await;
    assert_eq!(status, 404);
    let unauthenticated = api.http.get(api.url("/reports")).send().await.unwrap();
    assert_eq!(unauthenticated.status().as_u16(), 401);
}

#[tokio::test]
async fn publishing_an_unmapped_clients_report_answers_409_with_the_reason() {
    let sim = itglue_simulator().await;
    let store = memory_store().await;
    let config = config_for(
        sim.base_url(),
        &format!("[server]\napi_tokens = [\"{TOKEN}\"]\n"),
    );
    let api = serve(&store, &config).await;
    let (status, body) = api
        .send(
            api.http
                .post(api.url("/reports/generate"))
                .json(&json!({"client": "Globex"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["report"]["id"].as_i64().unwrap();
    let (status, body) = api
        .send(api.http.post(api.url(&format!("/reports/{id}/publish"))))
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no IT Glue organization mapping"));
    let (status, body) = api
        .send(
            api.http
                .post(api.url("/reports/generate"))
                .json(&json!({"client": "Nobody"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("unknown_client"))
    );
}
