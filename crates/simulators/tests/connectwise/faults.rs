//! Run-time fault injection and the request log.

use super::*;

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
async fn hold_response_writes_the_note_but_holds_the_answer_back() {
    let (sim, cw) = spawn_sim().await;
    let ticket = cw.ticket("Held note").await;
    let id = ticket["id"].as_i64().unwrap();
    sim.faults().inject(
        Fault::hold_response(Duration::from_secs(5))
            .on_path("/service/tickets/*/notes")
            .on_method("POST")
            .times(1),
    );
    // The client gives up before the answer comes; the note is on the ticket all the same.
    let error = cw
        .request(Method::POST, &format!("/service/tickets/{id}/notes"))
        .json(&json!({"text": "written while the answer is held", "detailDescriptionFlag": true}))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    let texts: Vec<Value> = sim
        .state()
        .notes(id)
        .into_iter()
        .map(|note| note["text"].clone())
        .collect();
    assert!(
        texts.contains(&json!("written while the answer is held")),
        "{texts:?}"
    );
    assert_eq!(sim.faults().held_total(), 1);
    // Other paths are not held, and the fault is used up.
    assert_eq!(cw.get("/system/info").await.0, StatusCode::OK);
    let (status, _) = cw
        .post(
            &format!("/service/tickets/{id}/notes"),
            json!({"text": "answered at once", "detailDescriptionFlag": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(sim.faults().held_total(), 1);
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
