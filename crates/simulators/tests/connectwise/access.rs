//! Routing, authentication and the headers every answer carries.

use super::*;

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
