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

// ---- Routing -------------------------------------------------------------------------------------

#[tokio::test]
async fn serves_the_legacy_and_the_configured_codebase_and_404s_others() {
    let sim = spawn_with(SimulatorConfig {
        codebase: "v2025_1/".into(),
        ..SimulatorConfig::default()
    })
    .await;
    let cw = Cw::new(&sim);
    for codebase in ["v4_6_release", "v2025_1"] {
        let (status, _) = cw
            .get(&format!("{}/{codebase}/apis/3.0/service/boards", cw.base))
            .await;
        assert_eq!(status, StatusCode::OK, "{codebase}");
    }
    let (status, body) = cw
        .get(&format!("{}/v2019_3/apis/3.0/service/boards", cw.base))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "NotFound");
}

#[tokio::test]
async fn company_info_needs_no_auth_and_answers_in_pascal_case() {
    let (sim, _) = spawn_sim().await;
    let response = reqwest::get(format!("{}/login/companyinfo/DEMO_MSP", sim.base_url()))
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["Codebase"], "v4_6_release/");
    assert_eq!(body["CompanyID"], "demo_msp");
    assert_eq!(body["VersionCode"], "v2025.1");
    assert_eq!(body["VersionNumber"], "v2025.1.10431");
    assert_eq!(body["IsCloud"], false);
    assert!(body["CompanyName"].is_string());
}

#[tokio::test]
async fn company_info_for_an_unknown_company_is_200_null() {
    let (sim, _) = spawn_sim().await;
    let response = reqwest::get(format!("{}/login/companyinfo/nobody", sim.base_url()))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "null");
}

// ---- Authentication ------------------------------------------------------------------------------

#[tokio::test]
async fn wrong_credentials_get_401_user_not_authenticated() {
    let (sim, cw) = spawn_sim().await;
    for user in [
        "demo_msp+demo-public",
        "other+demo-public",
        "demo_msp+wrong",
    ] {
        let response = cw
            .http
            .get(format!(
                "{}/v4_6_release/apis/3.0/service/tickets",
                sim.base_url()
            ))
            .basic_auth(
                user,
                Some(if user.ends_with("wrong") {
                    "demo-private"
                } else {
                    "nope"
                }),
            )
            .header("clientId", "x")
            .send()
            .await
            .unwrap();
        let (status, body) = read(response).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{user}");
        assert_eq!(
            body,
            json!({"code": "ConnectWiseApi", "message": "UserNotAuthenticated"})
        );
    }
    let unauthenticated = cw
        .http
        .get(format!("{}/service/tickets", cw.root))
        .header("clientId", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    let body = sim
        .state()
        .requests()
        .iter()
        .map(|r| format!("{r:?}"))
        .collect::<String>();
    assert!(
        !body.contains("demo-private"),
        "request log must not hold credentials"
    );
}

#[tokio::test]
async fn cloud_mode_answers_bad_authentication_with_404() {
    let sim = spawn_with(SimulatorConfig {
        cloud_mode_auth_404: true,
        ..SimulatorConfig::default()
    })
    .await;
    let response = reqwest::Client::new()
        .get(format!(
            "{}/v4_6_release/apis/3.0/system/info",
            sim.base_url()
        ))
        .basic_auth("demo_msp+demo-public", Some("wrong"))
        .header("clientId", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_missing_client_id_gets_401_with_code_and_message() {
    let (sim, _) = spawn_sim().await;
    let response = reqwest::Client::new()
        .get(format!(
            "{}/v4_6_release/apis/3.0/system/info",
            sim.base_url()
        ))
        .basic_auth("demo_msp+demo-public", Some("demo-private"))
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["code"].is_string());
    assert!(
        body["message"].as_str().unwrap().contains("clientId"),
        "{body}"
    );
}

#[tokio::test]
async fn the_client_id_header_name_is_case_insensitive_and_a_configured_id_is_enforced() {
    let sim = spawn_with(SimulatorConfig {
        client_id: Some("registered".into()),
        ..SimulatorConfig::default()
    })
    .await;
    let url = format!("{}/v4_6_release/apis/3.0/system/info", sim.base_url());
    for (name, value, expected) in [
        ("clientId", "registered", StatusCode::OK),
        ("ClientID", "registered", StatusCode::OK),
        ("CLIENTID", "registered", StatusCode::OK),
        ("clientid", "someone-else", StatusCode::UNAUTHORIZED),
    ] {
        let response = reqwest::Client::new()
            .get(&url)
            .header("Authorization", format!("Basic {}", base64_of(AUTH)))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{name}: {value}");
    }
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

// ---- Response headers ----------------------------------------------------------------------------

#[tokio::test]
async fn responses_carry_the_service_headers_whatever_the_accept_version() {
    let (_sim, cw) = spawn_sim().await;
    let response = cw
        .request(Method::GET, "/system/info")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
    assert_eq!(headers["api-current-version"], "2025.1");
    let request_id = headers["x-cw-request-id"].to_str().unwrap();
    assert_eq!(request_id.len(), 36, "{request_id} should be a UUID");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["version"], "v2025.1.10431");
    let error = cw.get("/service/tickets/999999").await;
    assert_eq!(error.0, StatusCode::NOT_FOUND);
}

// ---- Tickets: create -----------------------------------------------------------------------------

#[tokio::test]
async fn post_ticket_returns_201_with_references_resolved_by_id_name_or_identifier() {
    let (_sim, cw) = spawn_sim().await;
    let ticket = cw
        .create_ticket(json!({
            "summary": "[mspbridge] Password Reset",
            "company": {"identifier": "Acme"},
            "board": {"name": "security operations"},
            "status": {"name": "In Progress"},
            "team": {"id": 26},
            "priority": {"id": 4},
            "severity": "High",
            "impact": "low",
            "recordType": "ServiceTicket"
        }))
        .await;
    assert_eq!(ticket["company"]["id"], 250);
    assert_eq!(ticket["company"]["identifier"], "Acme");
    assert!(ticket["company"]["_info"]["company_href"]
        .as_str()
        .unwrap()
        .ends_with("/company/companies/250"));
    assert_eq!(ticket["board"]["id"], 3);
    assert!(ticket["board"]["_info"]["board_href"]
        .as_str()
        .unwrap()
        .contains("/v4_6_release/apis/3.0/service/boards/3"));
    assert_eq!(ticket["status"]["id"], 32);
    assert_eq!(ticket["status"]["name"], "In Progress");
    assert_eq!(ticket["team"]["name"], "SOC");
    assert_eq!(ticket["priority"]["name"], "Priority 3 - Normal Response");
    assert_eq!(ticket["impact"], "Low");
    assert_eq!(ticket["closedFlag"], false);
    for key in ["dateEntered", "lastUpdated", "enteredBy", "updatedBy"] {
        assert!(ticket["_info"][key].is_string(), "_info.{key} in {ticket}");
    }
    let date = ticket["_info"]["dateEntered"].as_str().unwrap();
    assert!(
        date.ends_with('Z') && date.len() == 20,
        "{date} should be YYYY-MM-DDTHH:MM:SSZ"
    );
    let second = cw.ticket("second").await;
    assert!(
        second["id"].as_i64() > ticket["id"].as_i64(),
        "ids increase"
    );
}

#[tokio::test]
async fn status_defaults_to_the_boards_default_status() {
    let (_sim, cw) = spawn_sim().await;
    let on_soc = cw.ticket("no status").await;
    assert_eq!(
        (
            on_soc["status"]["id"].as_i64(),
            on_soc["status"]["name"].as_str()
        ),
        (Some(31), Some("New"))
    );
    let on_default = cw
        .create_ticket(json!({"summary": "no board", "company": {"id": 251}}))
        .await;
    assert_eq!(on_default["board"]["id"], 1);
    assert_eq!(on_default["status"]["id"], 16);
    assert_eq!(on_default["severity"], "Medium");
}

#[tokio::test]
async fn summary_is_required_and_limited_to_100_utf16_units() {
    let (_sim, cw) = spawn_sim().await;
    let (status, body) = cw
        .post("/service/tickets", json!({"company": {"id": 250}}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "InvalidObject");
    assert_eq!(
        field_errors(&body),
        vec![("MissingRequiredField".into(), "summary".into())]
    );
    assert_eq!(body["errors"][0]["resource"], "ticket");
    // 50 emoji are 50 chars but 100 UTF-16 units: allowed; one more unit is not.
    let fits = "😀".repeat(50);
    cw.create_ticket(json!({"summary": fits, "company": {"id": 250}}))
        .await;
    let (status, body) = cw
        .post(
            "/service/tickets",
            json!({"summary": format!("{fits}x"), "company": {"id": 250}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_errors(&body),
        vec![("InvalidField".into(), "summary".into())]
    );
}

#[tokio::test]
async fn company_is_required_and_must_exist() {
    let (_sim, cw) = spawn_sim().await;
    let (status, body) = cw.post("/service/tickets", json!({"summary": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_errors(&body),
        vec![("MissingRequiredField".into(), "company".into())]
    );
    let (status, body) = cw
        .post(
            "/service/tickets",
            json!({"summary": "x", "company": {"identifier": "Nope"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_errors(&body),
        vec![("InvalidField".into(), "company".into())]
    );
}

#[tokio::test]
async fn board_status_team_and_priority_must_exist_and_belong_to_the_board() {
    let (sim, cw) = spawn_sim().await;
    let cases = [
        (json!({"board": {"id": 99}}), "board"),
        (json!({"board": {"id": 1}, "status": {"id": 31}}), "status"),
        (json!({"board": {"id": 1}, "team": {"id": 26}}), "team"),
        (json!({"priority": {"id": 999}}), "priority"),
        (json!({"priority": 4}), "priority"),
    ];
    for (extra, field) in cases {
        let mut body = json!({"summary": "x", "company": {"id": 250}});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, answer) = cw.post("/service/tickets", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            field_errors(&answer),
            vec![("InvalidField".into(), field.into())],
            "{body}"
        );
    }
    let (_, answer) = cw.post("/service/tickets", json!({"summary": "x", "company": {"id": 250}, "board": {"id": 1}, "status": {"id": 31}})).await;
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("board 1"),
        "{answer}"
    );
    assert!(
        sim.state().tickets().is_empty(),
        "rejected tickets are not stored"
    );
}

#[tokio::test]
async fn severity_and_impact_must_be_low_medium_or_high() {
    let (_sim, cw) = spawn_sim().await;
    let (status, body) = cw
        .post("/service/tickets", json!({"summary": "x", "company": {"id": 250}, "severity": "Critical", "impact": "Huge"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_errors(&body),
        vec![
            ("InvalidField".into(), "severity".into()),
            ("InvalidField".into(), "impact".into())
        ]
    );
}

#[tokio::test]
async fn external_xref_is_limited_to_100_characters() {
    let (_sim, cw) = spawn_sim().await;
    let ok = cw
        .create_ticket(
            json!({"summary": "x", "company": {"id": 250}, "externalXRef": "a".repeat(100)}),
        )
        .await;
    assert_eq!(ok["externalXRef"].as_str().unwrap().len(), 100);
    let (status, body) = cw
        .post(
            "/service/tickets",
            json!({"summary": "x", "company": {"id": 250}, "externalXRef": "a".repeat(101)}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_errors(&body),
        vec![("InvalidField".into(), "externalXRef".into())]
    );
}

#[tokio::test]
async fn unknown_top_level_members_are_rejected_with_path_and_position() {
    let (_sim, cw) = spawn_sim().await;
    let body = r#"{"summary":"x","company":{"id":250},"enteredBy":"me"}"#;
    let response = cw
        .request(Method::POST, "/service/tickets")
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, answer) = read(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["code"], "ConnectWiseApi");
    assert_eq!(
        answer["message"],
        "Could not find member 'enteredBy' on object of type 'Ticket'. Path 'enteredBy', line 1, position 48."
    );
    // Members are matched case-insensitively, as Json.NET does.
    cw.create_ticket(json!({"Summary": "x", "COMPANY": {"id": 250}}))
        .await;
}

#[tokio::test]
async fn initial_notes_are_not_echoed_but_become_flagged_notes() {
    let (_sim, cw) = spawn_sim().await;
    let ticket = cw
        .create_ticket(json!({
            "summary": "x", "company": {"id": 250},
            "initialDescription": "what happened",
            "initialInternalAnalysis": "internal text",
            "initialResolution": "fixed"
        }))
        .await;
    for member in [
        "initialDescription",
        "initialInternalAnalysis",
        "initialResolution",
    ] {
        assert!(ticket.get(member).is_none(), "{member} echoed in {ticket}");
    }
    let (status, notes) = cw
        .get(&format!("/service/tickets/{}/notes", ticket["id"]))
        .await;
    assert_eq!(status, StatusCode::OK);
    let flags: Vec<(String, bool, bool, bool, bool)> = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["text"].as_str().unwrap().to_owned(),
                n["detailDescriptionFlag"].as_bool().unwrap(),
                n["internalAnalysisFlag"].as_bool().unwrap(),
                n["resolutionFlag"].as_bool().unwrap(),
                n["internalFlag"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        vec![
            ("what happened".into(), true, false, false, false),
            ("internal text".into(), false, true, false, true),
            ("fixed".into(), false, false, true, false),
        ]
    );
}

// ---- Tickets: read, update, delete ---------------------------------------------------------------

#[tokio::test]
async fn get_ticket_returns_it_or_404_not_found() {
    let (_sim, cw) = spawn_sim().await;
    let ticket = cw.ticket("find me").await;
    let (status, found) = cw.get(&format!("/service/tickets/{}", ticket["id"])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found, ticket);
    let (status, body) = cw.get("/service/tickets/1255787").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"code": "NotFound", "message": "Ticket 1255787 not found"})
    );
}

#[tokio::test]
async fn patch_accepts_case_insensitive_ops_paths_with_or_without_slash_and_x_id() {
    let (_sim, cw) = spawn_sim().await;
    let ticket = cw.ticket("before").await;
    let path = format!("/service/tickets/{}", ticket["id"]);
    let (status, patched) = cw
        .patch(
            &path,
            json!([
                {"op": "Replace", "path": "summary", "value": "after"},
                {"op": "ADD", "path": "/externalXRef", "value": "alert-42"},
                {"op": "replace", "path": "priority/id", "value": 8},
                {"op": "replace", "path": "team", "value": {"name": "SOC"}},
                {"op": "replace", "path": "status/id", "value": 32}
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["summary"], "after");
    assert_eq!(patched["externalXRef"], "alert-42");
    assert_eq!(
        patched["priority"]["name"],
        "Priority 1 - Emergency Response"
    );
    assert_eq!(patched["team"]["id"], 26);
    assert_eq!(patched["status"]["name"], "In Progress");
    assert_eq!(
        patched["_info"]["dateEntered"],
        ticket["_info"]["dateEntered"]
    );
    let (_, removed) = cw
        .patch(&path, json!([{"op": "remove", "path": "externalXRef"}]))
        .await;
    assert!(removed["externalXRef"].is_null());
    let (_, stored) = cw.get(&path).await;
    assert_eq!(stored, removed);
}

#[tokio::test]
async fn patch_with_an_invalid_path_or_value_is_400() {
    let (_sim, cw) = spawn_sim().await;
    let ticket = cw.ticket("x").await;
    let path = format!("/service/tickets/{}", ticket["id"]);
    for (operation, expected) in [
        (
            json!({"op": "replace", "path": "nonsense", "value": 1}),
            "the path nonsense is not valid",
        ),
        (
            json!({"op": "replace", "path": "source", "value": "Email"}),
            "the path source is not valid",
        ),
        (
            json!({"op": "replace", "path": "id", "value": 5}),
            "the path id is not valid",
        ),
        (
            json!({"op": "move", "path": "summary", "value": "x"}),
            "op must be add, replace or remove",
        ),
        (
            json!({"op": "replace", "path": "status", "value": {"id": 16}}),
            "status",
        ),
        (
            json!({"op": "replace", "path": "summary", "value": "y".repeat(101)}),
            "summary",
        ),
    ] {
        let (status, body) = cw.patch(&path, json!([operation.clone()])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{operation}");
        assert!(body.to_string().contains(expected), "{operation}: {body}");
    }
    let (_, unchanged) = cw.get(&path).await;
    assert_eq!(unchanged["summary"], "x");
}

#[tokio::test]
async fn patching_status_closes_and_reopens_the_ticket() {
    let (_sim, cw) = spawn_sim().await;
    let ticket = cw.ticket("close me").await;
    let path = format!("/service/tickets/{}", ticket["id"]);
    assert!(ticket.get("closedDate").is_none());
    let (_, closed) = cw
        .patch(
            &path,
            json!([{"op": "replace", "path": "status", "value": {"id": 34}}]),
        )
        .await;
    assert_eq!(closed["closedFlag"], true);
    assert!(closed["closedDate"].is_string());
    assert!(closed["closedBy"].is_string());
    let (_, still_closed) = cw
        .patch(
            &path,
            json!([{"op": "replace", "path": "status/name", "value": "Cancelled"}]),
        )
        .await;
    assert_eq!(
        still_closed["closedDate"], closed["closedDate"],
        "moving between closed statuses keeps the date"
    );
    let (_, reopened) = cw
        .patch(
            &path,
            json!([{"op": "replace", "path": "status/id", "value": 31}]),
        )
        .await;
    assert_eq!(reopened["closedFlag"], false);
    assert!(
        reopened.get("closedDate").is_none() && reopened.get("closedBy").is_none(),
        "{reopened}"
    );
    let (_, by_flag) = cw
        .patch(
            &path,
            json!([{"op": "replace", "path": "closedFlag", "value": true}]),
        )
        .await;
    assert_eq!(
        (
            by_flag["closedFlag"].as_bool(),
            by_flag["status"]["id"].as_i64()
        ),
        (Some(true), Some(34))
    );
}

#[tokio::test]
async fn put_replaces_the_whole_ticket() {
    let (_sim, cw) = spawn_sim().await;
    let ticket = cw
        .create_ticket(json!({"summary": "x", "company": {"id": 250}, "externalXRef": "a"}))
        .await;
    let path = format!("/service/tickets/{}", ticket["id"]);
    let (status, replaced) = cw
        .send(
            Method::PUT,
            &path,
            Some(json!({"summary": "replaced", "company": {"id": 252}, "board": {"id": 1}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["id"], ticket["id"]);
    assert_eq!(replaced["company"]["identifier"], "Initech");
    assert!(
        replaced.get("externalXRef").is_none(),
        "PUT drops what it does not send"
    );
    let (status, _) = cw
        .send(Method::PUT, &path, Some(json!({"summary": "no company"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn delete_returns_204_with_an_empty_body() {
    let (_sim, cw) = spawn_sim().await;
    let ticket = cw.ticket("bye").await;
    let path = format!("/service/tickets/{}", ticket["id"]);
    let response = cw.request(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());
    assert_eq!(cw.get(&path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        cw.send(Method::DELETE, &path, None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn count_returns_the_number_of_matching_tickets() {
    let (_sim, cw) = spawn_sim().await;
    for summary in ["disk full", "password reset", "disk slow"] {
        cw.ticket(summary).await;
    }
    assert_eq!(
        cw.get("/service/tickets/count").await.1,
        json!({"count": 3})
    );
    let (_, body) = cw
        .get("/service/tickets/count?conditions=summary%20like%20%22disk%25%22")
        .await;
    assert_eq!(body, json!({"count": 2}));
}

#[tokio::test]
async fn search_takes_filter_values_in_the_body() {
    let (_sim, cw) = spawn_sim().await;
    for summary in ["alpha", "beta", "gamma"] {
        cw.ticket(summary).await;
    }
    let (status, found) = cw
        .post(
            "/service/tickets/search",
            json!({"conditions": "summary != \"beta\"", "orderBy": "summary desc"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let summaries: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries, vec!["gamma", "alpha"]);
    let (status, body) = cw
        .post("/service/tickets/search", json!({"where": "x"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("FilterValues"));
}

// ---- Lists ---------------------------------------------------------------------------------------

#[tokio::test]
async fn conditions_filter_lists() {
    let (_sim, cw) = spawn_sim().await;
    let first = cw.ticket("Disk full on SRV01").await;
    cw.create_ticket(
        json!({"summary": "Password \"reset\"", "company": {"id": 251}, "board": {"id": 1}}),
    )
    .await;
    cw.ticket("Login failure").await;
    let cases = [
        (
            "board/name = \"Security Operations\" and closedFlag = false",
            2,
        ),
        (
            "summary like \"%full%\" or company/identifier = \"Globex\"",
            2,
        ),
        ("summary contains \"LOGIN\"", 1),
        (r#"summary = "Password \"reset\"""#, 1),
        ("status/id in (16, 31) AND NOT (summary like \"Disk%\")", 2),
        ("_info/dateEntered > [2020-01-01T00:00:00Z]", 3),
        ("_info/dateEntered < [2020-01-01T00:00:00Z]", 0),
        ("lastUpdated > [2020-01-01T00:00:00Z]", 3),
        ("team = null", 3),
    ];
    for (conditions, expected) in cases {
        let url = format!("/service/tickets?conditions={}", urlencode(conditions));
        let (status, body) = cw.get(&url).await;
        assert_eq!(status, StatusCode::OK, "{conditions}: {body}");
        assert_eq!(body.as_array().unwrap().len(), expected, "{conditions}");
    }
    let (_, body) = cw
        .get(&format!("/service/tickets?conditions=id={}", first["id"]))
        .await;
    assert_eq!(ids(&body), vec![first["id"].as_i64().unwrap()]);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn unparseable_conditions_get_400_with_a_message() {
    let (_sim, cw) = spawn_sim().await;
    for conditions in ["summary = ", "summary = unquoted", "(id = 1", "id # 1"] {
        let (status, body) = cw
            .get(&format!(
                "/service/tickets?conditions={}",
                urlencode(conditions)
            ))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{conditions}");
        assert!(
            body["message"].as_str().unwrap().contains("conditions"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn order_by_and_fields_shape_the_list() {
    let (_sim, cw) = spawn_sim().await;
    for summary in ["b", "c", "a"] {
        cw.ticket(summary).await;
    }
    let (_, body) = cw
        .get("/service/tickets?orderBy=summary%20desc&fields=id,summary,status/name")
        .await;
    let rows = body.as_array().unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r["summary"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["c", "b", "a"]
    );
    assert_eq!(rows[0].as_object().unwrap().len(), 3, "{}", rows[0]);
    assert_eq!(rows[0]["status"], json!({"name": "New"}));
    let (_, by_id) = cw
        .get(&format!(
            "/service/tickets/{}?fields=summary",
            rows[0]["id"]
        ))
        .await;
    assert_eq!(by_id, json!({"summary": "c"}));
}

#[tokio::test]
async fn page_size_defaults_to_25_and_is_clamped_to_1000() {
    let (_sim, cw) = spawn_sim().await;
    for n in 0..27 {
        cw.ticket(&format!("t{n}")).await;
    }
    let (_, default_page) = cw.get("/service/tickets").await;
    assert_eq!(default_page.as_array().unwrap().len(), 25);
    let (status, huge) = cw.get("/service/tickets?pageSize=5000").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(huge.as_array().unwrap().len(), 27);
    let (_, second) = cw.get("/service/tickets?page=2").await;
    assert_eq!(second.as_array().unwrap().len(), 2);
    assert_eq!(
        cw.get("/service/tickets?page=two").await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn navigable_lists_link_first_prev_next_last_with_absolute_urls() {
    let (sim, cw) = spawn_sim().await;
    for n in 0..5 {
        cw.ticket(&format!("t{n}")).await;
    }
    let link = |response: &Response| {
        response
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let first = cw
        .request(Method::GET, "/service/tickets?pageSize=2")
        .send()
        .await
        .unwrap();
    let root = format!("{}/v4_6_release/apis/3.0/service/tickets", sim.base_url());
    assert_eq!(
        link(&first).unwrap(),
        format!(
            "<{root}?pageSize=2&page=2>; rel=\"next\", <{root}?pageSize=2&page=3>; rel=\"last\""
        )
    );
    let middle = cw
        .request(Method::GET, "/service/tickets?pageSize=2&page=2")
        .send()
        .await
        .unwrap();
    let middle_link = link(&middle).unwrap();
    for rel in ["first", "prev", "next", "last"] {
        assert!(
            middle_link.contains(&format!("rel=\"{rel}\"")),
            "{middle_link}"
        );
    }
    let last = cw
        .request(Method::GET, "/service/tickets?pageSize=2&page=3")
        .send()
        .await
        .unwrap();
    let last_link = link(&last).unwrap();
    assert!(
        last_link.contains("rel=\"prev\"") && !last_link.contains("rel=\"next\""),
        "{last_link}"
    );
    let (_, rows) = read(last).await;
    assert_eq!(rows.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn forward_only_pagination_links_next_with_page_id() {
    let (_sim, cw) = spawn_sim().await;
    let mut created = Vec::new();
    for n in 0..5 {
        created.push(cw.ticket(&format!("t{n}")).await["id"].as_i64().unwrap());
    }
    let mut url = format!("{}/service/tickets?pageSize=2", cw.root);
    let mut seen = Vec::new();
    loop {
        let response = cw
            .request(Method::GET, &url)
            .header("pagination-type", "forward-only")
            .send()
            .await
            .unwrap();
        let link = response
            .headers()
            .get("link")
            .expect("forward-only always sends Link")
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            !link.contains("rel=\"last\"") && !link.contains("rel=\"prev\""),
            "{link}"
        );
        let (_, rows) = read(response).await;
        seen.extend(ids(&rows));
        if link.is_empty() {
            break;
        }
        let next = link
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap()
            .to_owned();
        assert!(
            next.contains(&format!("pageId={}", seen.last().unwrap())),
            "{next}"
        );
        url = next;
    }
    assert_eq!(seen, created);
}

// ---- Notes ---------------------------------------------------------------------------------------

#[tokio::test]
async fn notes_can_be_posted_listed_counted_and_read_by_id() {
    let (_sim, cw) = spawn_sim().await;
    let ticket = cw.ticket("noted").await;
    let notes = format!("/service/tickets/{}/notes", ticket["id"]);
    let (status, note) = cw
        .post(&notes, json!({"text": "Alert repeated", "detailDescriptionFlag": true, "internalAnalysisFlag": false, "resolutionFlag": false}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    assert_eq!(note["ticketId"], ticket["id"]);
    assert!(
        note["dateCreated"].is_string()
            && note["createdBy"].is_string()
            && note["_info"].is_object()
    );
    assert_eq!(
        cw.get(&format!("{notes}/count")).await.1,
        json!({"count": 1})
    );
    assert_eq!(cw.get(&format!("{notes}/{}", note["id"])).await.1, note);
    assert_eq!(
        cw.get(&format!("{notes}/999")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = cw.post(&notes, json!({"text": ""})).await;
    assert_eq!(
        (status, field_errors(&body)),
        (
            StatusCode::BAD_REQUEST,
            vec![("MissingRequiredField".into(), "text".into())]
        )
    );
    let (status, body) = cw.post(&notes, json!({"text": "x", "colour": "red"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("'colour' on object of type 'ServiceNote'"));
    assert_eq!(
        cw.get("/service/tickets/424242/notes").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn all_notes_is_a_merged_view_of_ticket_notes() {
    let (_sim, cw) = spawn_sim().await;
    let ticket = cw
        .create_ticket(
            json!({"summary": "x", "company": {"id": 250}, "initialDescription": "first"}),
        )
        .await;
    cw.post(
        &format!("/service/tickets/{}/notes", ticket["id"]),
        json!({"text": "second", "internalAnalysisFlag": true}),
    )
    .await;
    let (status, all) = cw
        .get(&format!("/service/tickets/{}/allNotes", ticket["id"]))
        .await;
    assert_eq!(status, StatusCode::OK);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert!(all
        .iter()
        .all(|n| n["noteType"] == "TicketNote" && n["ticket"]["id"] == ticket["id"]));
    assert_eq!(all[1]["internalAnalysisFlag"], true);
}

// ---- Boards and lookups --------------------------------------------------------------------------

#[tokio::test]
async fn boards_statuses_and_teams_are_seeded_with_board_specific_ids() {
    let (_sim, cw) = spawn_sim().await;
    let (_, boards) = cw
        .get("/service/boards?conditions=name%3D%22Security%20Operations%22")
        .await;
    assert_eq!(ids(&boards), vec![3]);
    let (_, statuses) = cw.get("/service/boards/3/statuses").await;
    let closed: Vec<(&str, bool)> = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["closedStatus"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        closed,
        vec![
            ("New", false),
            ("In Progress", false),
            ("Waiting Customer", false),
            ("Completed", true),
            ("Cancelled", true)
        ]
    );
    let (_, other) = cw.get("/service/boards/1/statuses").await;
    assert!(ids(&statuses).iter().all(|id| !ids(&other).contains(id)));
    assert_eq!(
        cw.get("/service/boards/3/statuses/count").await.1,
        json!({"count": 5})
    );
    assert_eq!(
        cw.get("/service/boards/1/teams").await.1[0]["name"],
        "Service Team"
    );
    assert_eq!(cw.get("/service/boards/3/teams/26").await.1["name"], "SOC");
}

#[tokio::test]
async fn priorities_severities_impacts_companies_and_system_info_are_seeded() {
    let (_sim, cw) = spawn_sim().await;
    assert_eq!(
        cw.get("/service/priorities/4").await.1["name"],
        "Priority 3 - Normal Response"
    );
    assert_eq!(
        cw.get("/service/severities")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(cw.get("/service/impacts/3").await.1["name"], "High");
    let (_, acme) = cw
        .get("/company/companies?conditions=identifier%3D%22Acme%22")
        .await;
    assert_eq!(ids(&acme), vec![250]);
    assert_eq!(
        cw.get("/company/companies/42").await.1["name"],
        "My.Sample.Company"
    );
    assert_eq!(
        cw.get("/company/companies/count").await.1,
        json!({"count": 4})
    );
    let (_, info) = cw.get("/system/info").await;
    assert!(info["licenseBits"].is_array() && info["serverTimeZone"].is_string());
}

#[tokio::test]
async fn unknown_setup_records_are_404_not_found() {
    let (_sim, cw) = spawn_sim().await;
    for (path, message) in [
        ("/service/boards/99", "Board 99 not found"),
        ("/service/boards/99/statuses", "Board 99 not found"),
        ("/service/priorities/77", "Priority 77 not found"),
        ("/company/companies/9", "Company 9 not found"),
    ] {
        let (status, body) = cw.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body, json!({"code": "NotFound", "message": message}));
    }
}

// ---- Documents -----------------------------------------------------------------------------------

fn document_form(ticket_id: &Value, content: Vec<u8>) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("RecordType", "Ticket")
        .text("recordid", ticket_id.to_string())
        .text("Title", "Evidence")
        .text("PrivateFlag", "true")
        .text("readOnlyFlay", "true")
        .part(
            "file",
            reqwest::multipart::Part::bytes(content)
                .file_name("TestAttachment.txt")
                .mime_str("text/plain")
                .unwrap(),
        )
}

#[tokio::test]
async fn documents_upload_as_multipart_then_list_count_and_download() {
    let (_sim, cw) = spawn_sim().await;
    let ticket = cw.ticket("attach").await;
    let response = cw
        .request(Method::POST, "/system/documents")
        .multipart(document_form(
            &ticket["id"],
            b"hello from the product".to_vec(),
        ))
        .send()
        .await
        .unwrap();
    let (status, info) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{info}");
    assert_eq!(info["fileName"], "TestAttachment.txt");
    assert_eq!(info["title"], "Evidence");
    assert_eq!(info["size"], 22);
    assert_eq!(
        (info["publicFlag"].as_bool(), info["readOnlyFlag"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(info["guid"].as_str().unwrap().len(), 36);
    let query = format!("recordType=Ticket&recordId={}", ticket["id"]);
    assert_eq!(
        ids(&cw.get(&format!("/system/documents?{query}")).await.1),
        vec![info["id"].as_i64().unwrap()]
    );
    assert_eq!(
        cw.get(&format!("/system/documents/count?{query}")).await.1,
        json!({"count": 1})
    );
    assert_eq!(
        cw.get("/system/documents/count?recordType=Ticket&recordId=1")
            .await
            .1,
        json!({"count": 0})
    );
    let download = cw
        .request(
            Method::GET,
            &format!("/system/documents/{}/download", info["id"]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(
        download.headers()["content-disposition"],
        "attachment; filename=\"TestAttachment.txt\""
    );
    assert_eq!(
        download.bytes().await.unwrap().as_ref(),
        b"hello from the product"
    );
}

#[tokio::test]
async fn documents_sent_as_json_get_415() {
    let (_sim, cw) = spawn_sim().await;
    let ticket = cw.ticket("x").await;
    let (status, body) = cw
        .post(
            "/system/documents",
            json!({"recordType": "Ticket", "recordId": ticket["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("multipart/form-data"));
}

#[tokio::test]
async fn documents_must_name_an_existing_ticket() {
    let (sim, cw) = spawn_sim().await;
    let response = cw
        .request(Method::POST, "/system/documents")
        .multipart(document_form(&json!(999_999), b"x".to_vec()))
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_errors(&body),
        vec![("InvalidField".into(), "recordId".into())]
    );
    let missing = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("a.txt"),
    );
    let (status, body) = read(
        cw.request(Method::POST, "/system/documents")
            .multipart(missing)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_errors(&body),
        vec![
            ("MissingRequiredField".into(), "recordType".into()),
            ("MissingRequiredField".into(), "recordId".into())
        ]
    );
    assert!(sim.state().documents().is_empty());
}

#[tokio::test]
async fn documents_over_the_size_limit_get_413() {
    let sim = spawn_with(SimulatorConfig {
        max_document_bytes: 1024,
        ..SimulatorConfig::default()
    })
    .await;
    let cw = Cw::new(&sim);
    let ticket = cw.ticket("big").await;
    let send = |size: usize| {
        cw.request(Method::POST, "/system/documents")
            .multipart(document_form(&ticket["id"], vec![b'a'; size]))
            .send()
    };
    assert_eq!(send(1024).await.unwrap().status(), StatusCode::CREATED);
    let (status, body) = read(send(1025).await.unwrap()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body["message"].as_str().unwrap().contains("1024"));
}

// ---- Faults --------------------------------------------------------------------------------------

#[tokio::test]
async fn rate_limit_fault_answers_429_with_retry_after_for_n_requests() {
    let (sim, cw) = spawn_sim().await;
    sim.faults().inject(Fault::rate_limited(7).times(2));
    for _ in 0..2 {
        let response = cw
            .request(Method::GET, "/service/boards")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "7");
        let (_, body) = read(response).await;
        assert_eq!(body["code"], "TooManyRequests");
    }
    assert_eq!(cw.get("/service/boards").await.0, StatusCode::OK);
}

#[tokio::test]
async fn server_error_fault_answers_500_connectwise_api() {
    let (sim, cw) = spawn_sim().await;
    sim.faults().inject(Fault::server_error().times(1));
    let (status, body) = cw.get("/system/info").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["code"], "ConnectWiseApi");
    assert!(body["message"].is_string());
    assert!(body["errors"].is_null() && body.get("errors").is_some());
    assert_eq!(cw.get("/system/info").await.0, StatusCode::OK);
}

#[tokio::test]
async fn unavailable_fault_answers_503_until_cleared() {
    let (sim, cw) = spawn_sim().await;
    sim.faults().inject(Fault::unavailable());
    assert_eq!(
        cw.get("/system/info").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        cw.get("/system/info").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    sim.faults().clear();
    assert_eq!(cw.get("/system/info").await.0, StatusCode::OK);
}

#[tokio::test]
async fn delay_fault_makes_a_client_with_a_shorter_timeout_time_out() {
    let (sim, cw) = spawn_sim().await;
    sim.faults()
        .inject(Fault::delay(Duration::from_secs(5)).times(1));
    let error = cw
        .request(Method::GET, "/system/info")
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert_eq!(cw.get("/system/info").await.0, StatusCode::OK);
}

#[tokio::test]
async fn codebase_change_answers_404_on_the_old_codebase_until_rediscovery() {
    let (sim, cw) = spawn_sim().await;
    sim.faults().inject(Fault::codebase_changed("v2025_2/"));
    let (status, _) = cw.get("/system/info").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let info: Value = reqwest::get(format!("{}/login/companyinfo/demo_msp", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["Codebase"], "v2025_2/");
    let moved = format!(
        "{}/{}apis/3.0/system/info",
        sim.base_url(),
        info["Codebase"].as_str().unwrap()
    );
    assert_eq!(cw.get(&moved).await.0, StatusCode::OK);
    assert_eq!(
        sim.api_url(),
        format!("{}/v2025_2/apis/3.0", sim.base_url())
    );
}

#[tokio::test]
async fn faults_are_switched_over_http_and_scoped_to_path_and_method() {
    let (sim, cw) = spawn_sim().await;
    let faults = format!("{}/__simulator/faults", sim.base_url());
    let http = reqwest::Client::new();
    let response = http
        .post(&faults)
        .json(&json!({"kind": "server_error", "path_prefix": "/service/tickets", "method": "POST"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(cw.get("/service/tickets").await.0, StatusCode::OK);
    let (status, _) = cw
        .post(
            "/service/tickets",
            json!({"summary": "x", "company": {"id": 250}}),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let listed: Value = http
        .get(&faults)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        http.delete(&faults).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    cw.ticket("after clearing").await;
    let bad = http
        .post(&faults)
        .json(&json!({"kind": "rate_limited", "retry_after": 3}))
        .send()
        .await
        .unwrap();
    let (status, body) = read(bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"].as_str().unwrap().contains("retry_after"),
        "{body}"
    );
}

#[tokio::test]
async fn the_request_log_is_served_without_credentials() {
    let (sim, cw) = spawn_sim().await;
    cw.ticket("logged").await;
    cw.get("/service/tickets?conditions=id%3D1").await;
    let log: Value = reqwest::get(format!("{}/__simulator/requests", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = log.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["method"], "POST");
    assert_eq!(entries[0]["path"], "/v4_6_release/apis/3.0/service/tickets");
    assert_eq!(entries[0]["status"], 201);
    assert_eq!(entries[1]["query"], "conditions=id%3D1");
    assert!(entries[1]["timestamp"].is_string());
    assert!(
        !log.to_string().contains("demo-private")
            && !log.to_string().to_lowercase().contains("authorization")
    );
}

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
