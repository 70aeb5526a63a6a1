//! The systems and IT Glue endpoints of `/api/v1` over loopback HTTP: the real router on port 0,
//! a SQLite store in a temporary directory and the IT Glue simulator.

use std::sync::Arc;

use mspbridge_core::config::parse_str;
use mspbridge_server::api::{router, ApiState};
use mspbridge_simulators::itglue::{spawn, ItGlueSimConfig, ItGlueSimulator};
use mspbridge_store::open_store;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;

const KEY: &str = "ITG.api-test-key";
const TOKEN: &str = "api-test-token";

struct App {
    base: String,
    http: reqwest::Client,
    _sim: ItGlueSimulator,
    _dir: TempDir,
}

impl App {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }
}

async fn app(api_key: &str) -> App {
    let sim = spawn(ItGlueSimConfig::demo(KEY), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"[server]
api_tokens = ["{TOKEN}"]

[[clients]]
name = "Acme"
email = "it@acme.example"

[[clients]]
name = "Umbrella"
email = "soc@umbrella.example"

[[itglue]]
name = "main"
url = "{}"
api_key = "{api_key}"
clients = ["Acme", "Umbrella"]
"#,
        sim.base_url()
    );
    let config = Arc::new(parse_str(&text, "api-test.toml").expect("config"));
    let store = open_store(&format!("sqlite://{}", dir.path().join("api.db").display()))
        .await
        .unwrap();
    let state = ApiState::builder(store, config).build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router(state)).await.unwrap();
    });
    App {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        _sim: sim,
        _dir: dir,
    }
}

#[tokio::test]
async fn systems_and_mappings_through_the_api() {
    use reqwest::Method;
    let app = app(KEY).await;

    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/systems",
            Some(json!({"client": "Acme", "name": "ACME-DC01", "macs": ["00:1A:2B:3C:4D:5E"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["macs"], json!(["001a2b3c4d5e"]));
    assert_eq!(body["origin"], "api");

    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/systems",
            Some(json!({"client": "Acme", "name": "X", "macs": ["nope"]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("macs:"),
        "{body}"
    );

    let csv = "name,client,macs,sensor\nACME-NEW,Acme,,agent\nBAD,Acme,zz,agent\n";
    let response = app
        .http
        .post(format!("{}/api/v1/systems/import", app.base))
        .bearer_auth(TOKEN)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("line 3"));
    let response = app
        .http
        .post(format!("{}/api/v1/systems/import", app.base))
        .bearer_auth(TOKEN)
        .body("name,client,macs,sensor\nACME-NEW,Acme,,agent\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let (status, body) = app
        .send(Method::GET, "/api/v1/systems?client=Acme", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().unwrap().len(), 2);

    let (status, body) = app
        .send(Method::GET, "/api/v1/itglue/instances", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["name"], "main");
    assert!(!body.to_string().contains(KEY), "the key is never shown");

    let (status, body) = app
        .send(Method::POST, "/api/v1/itglue/instances/main/test", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ok"], true, "{body}");

    let (status, body) = app
        .send(Method::POST, "/api/v1/itglue/instances/main/automap", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["clients_mapped"], 1);
    assert_eq!(body["clients_failed"], 1);
    assert_eq!(body["systems_mapped"], 1);
    assert_eq!(body["systems_failed"], 1);

    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/itglue/instances/main/mappings",
            Some(json!({"client": "Umbrella", "organization": 40})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = app
        .send(
            Method::POST,
            "/api/v1/itglue/instances/main/mappings",
            Some(json!({"client": "Umbrella", "organization": 4242})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Acme is mapped to organization 10: its system cannot go to Umbrella's configuration 180.
    let (status, body) = app
        .send(
            Method::POST,
            "/api/v1/itglue/instances/main/mappings",
            Some(json!({"client": "Acme", "system": "ACME-NEW", "configuration": 180})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.to_string()
            .contains("belongs to IT Glue organization 40"),
        "{body}"
    );

    let (_, body) = app
        .send(Method::GET, "/api/v1/itglue/instances/main/mappings", None)
        .await;
    let mappings = body.as_array().unwrap();
    assert!(mappings.iter().any(|m| m["subject"] == "client"
        && m["client"] == "Umbrella"
        && m["target_id"] == 40
        && m["kind"] == "manual"));
    assert!(mappings.iter().any(|m| m["subject"] == "system"
        && m["system"] == "ACME-DC01"
        && m["target_id"] == 100
        && m["kind"] == "auto"));

    let (status, _) = app
        .send(
            Method::DELETE,
            "/api/v1/itglue/instances/main/mappings?client=Umbrella",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .send(
            Method::DELETE,
            "/api/v1/itglue/instances/main/mappings?client=Umbrella",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .send(Method::GET, "/api/v1/itglue/instances/nope/mappings", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = app
        .send(Method::DELETE, "/api/v1/systems/Acme/ACME-NEW", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_refused_key_is_reported_by_the_connection_test() {
    let app = app("ITG.wrong").await;
    let (status, body) = app
        .send(
            reqwest::Method::POST,
            "/api/v1/itglue/instances/main/test",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ok"], false);
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("region") && detail.contains("key"),
        "{detail}"
    );
    assert!(!detail.contains("ITG.wrong"));
}
