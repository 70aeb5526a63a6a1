//! Creating tickets: validation, reference resolution and initial notes.

use super::*;

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
