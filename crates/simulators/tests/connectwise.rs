//! The ConnectWise Manage simulator, exercised over real HTTP on loopback.
//!
//! One test per behaviour of `specs/connectwise-manage/NOTES.md` §7, named after the behaviour, so a
//! failure says which promise of the simulator broke.

use std::time::Duration;

use mspbridge_simulators::connectwise::{
    spawn, ConnectWiseSimulator, Fault, SeedData, SimulatorConfig,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};

const AUTH: &str = "demo_msp+demo-public:demo-private";

async fn spawn_with(config: SimulatorConfig) -> ConnectWiseSimulator {
    spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator binds loopback")
}

async fn spawn_sim() -> (ConnectWiseSimulator, Cw) {
    let sim = spawn_with(SimulatorConfig::default()).await;
    let cw = Cw::new(&sim);
    (sim, cw)
}

/// A minimal client speaking to the simulator as the product does.
struct Cw {
    http: reqwest::Client,
    base: String,
    root: String,
}

impl Cw {
    fn new(sim: &ConnectWiseSimulator) -> Cw {
        Cw {
            http: reqwest::Client::new(),
            base: sim.base_url(),
            root: format!("{}/v4_6_release/apis/3.0", sim.base_url()),
        }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.root)
        };
        self.http
            .request(method, url)
            .basic_auth("demo_msp+demo-public", Some("demo-private"))
            .header("clientId", "8d3c1a52-9f59-4c9b-9a57-3c1f6ad8e0b1")
            .header(
                "Accept",
                "application/vnd.connectwise.com+json; version=2025.1",
            )
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.unwrap()).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, path, Some(body)).await
    }

    async fn create_ticket(&self, body: Value) -> Value {
        let (status, ticket) = self.post("/service/tickets", body).await;
        assert_eq!(status, StatusCode::CREATED, "{ticket}");
        ticket
    }

    async fn ticket(&self, summary: &str) -> Value {
        self.create_ticket(json!({"summary": summary, "company": {"id": 250}, "board": {"id": 3}}))
            .await
    }
}

async fn read(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

fn field_errors(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["code"].as_str().unwrap().to_owned(),
                        e["field"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn ids(body: &Value) -> Vec<i64> {
    body.as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

#[path = "connectwise/access.rs"]
mod access;
#[path = "connectwise/documents.rs"]
mod documents;
#[path = "connectwise/faults.rs"]
mod faults;
#[path = "connectwise/lists.rs"]
mod lists;
#[path = "connectwise/setup.rs"]
mod setup;
#[path = "connectwise/ticket_create.rs"]
mod ticket_create;
#[path = "connectwise/ticket_update.rs"]
mod ticket_update;

// ---- Seeding -------------------------------------------------------------------------------------

#[tokio::test]
async fn seed_data_loads_from_a_json_file() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/connectwise-demo.json");
    let mut seed = SeedData::from_file(path).unwrap();
    assert_eq!(seed, SeedData::demo());
    seed.boards[0].name = "Help Desk".into();
    let dir = std::env::temp_dir().join(format!("cw-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("seed.json");
    std::fs::write(&file, serde_json::to_string(&seed).unwrap()).unwrap();
    let sim = spawn_with(SimulatorConfig {
        seed: SeedData::from_file(&file).unwrap(),
        ..SimulatorConfig::default()
    })
    .await;
    let (_, board) = Cw::new(&sim).get("/service/boards/1").await;
    assert_eq!(board["name"], "Help Desk");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn the_accept_version_is_accepted_and_ignored() {
    let (_sim, cw) = spawn_sim().await;
    for accept in [
        "application/vnd.connectwise.com+json; version=2019.3",
        "application/vnd.connectwise.com+json",
        "application/vnd.connectwise.com+json; version=2021.1, application/json",
        "*/*",
    ] {
        let response = cw
            .request(Method::GET, "/service/priorities/4")
            .header("Accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{accept}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json; charset=utf-8"
        );
    }
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let (sim, cw) = spawn_sim().await;
    assert_eq!(cw.get("/system/info").await.0, StatusCode::OK);
    let url = format!("{}/system/info", cw.root);
    sim.shutdown().await;
    let error = reqwest::Client::new().get(url).send().await.unwrap_err();
    assert!(error.is_connect(), "{error}");
}
