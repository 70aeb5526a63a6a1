//! Ticket notes and the seeded setup records (boards, statuses, teams, priorities, companies).

use super::*;

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

#[tokio::test]
async fn notes_can_be_replaced_patched_and_deleted() {
    let (sim, cw) = spawn_sim().await;
    let ticket = cw.ticket("noted").await;
    let notes = format!("/service/tickets/{}/notes", ticket["id"]);
    let (_, note) = cw
        .post(
            &notes,
            json!({"text": "draft", "detailDescriptionFlag": true}),
        )
        .await;
    let one = format!("{notes}/{}", note["id"]);
    let (status, replaced) = cw
        .send(
            Method::PUT,
            &one,
            Some(json!({"text": "final", "internalAnalysisFlag": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        (
            replaced["text"].as_str(),
            replaced["internalFlag"].as_bool()
        ),
        (Some("final"), Some(true))
    );
    assert_eq!(replaced["dateCreated"], note["dateCreated"]);
    let (status, patched) = cw
        .patch(
            &one,
            json!([{"op": "replace", "path": "/Text", "value": "patched"}]),
        )
        .await;
    assert_eq!(
        (status, patched["text"].as_str()),
        (StatusCode::OK, Some("patched"))
    );
    let (status, body) = cw
        .patch(
            &one,
            json!([{"op": "replace", "path": "createdBy", "value": "me"}]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("the path createdBy is not valid"));
    let (status, _) = cw
        .patch(
            &one,
            json!([{"op": "remove", "path": "internalAnalysisFlag"}]),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a note needs one section flag"
    );
    assert_eq!(
        cw.send(Method::DELETE, &one, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert!(sim.state().notes(ticket["id"].as_i64().unwrap()).is_empty());
    assert_eq!(cw.get(&one).await.0, StatusCode::NOT_FOUND);
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
