//! Reading, patching, replacing, deleting, counting and searching tickets.

use super::*;

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

#[tokio::test]
async fn moving_a_ticket_to_another_board_takes_its_default_status_and_drops_the_old_team() {
    let (_sim, cw) = spawn_sim().await;
    let ticket = cw
        .create_ticket(
            json!({"summary": "move me", "company": {"id": 250}, "board": {"id": 3},
                              "status": {"id": 32}, "team": {"id": 26}}),
        )
        .await;
    let path = format!("/service/tickets/{}", ticket["id"]);
    let (status, moved) = cw
        .patch(
            &path,
            json!([{"op": "replace", "path": "board/id", "value": 1}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["board"]["id"], 1);
    assert_eq!(moved["status"]["id"], 16);
    assert!(moved["team"].is_null(), "{moved}");
    let (status, chosen) = cw
        .patch(
            &path,
            json!([
                {"op": "replace", "path": "board", "value": {"id": 3}},
                {"op": "replace", "path": "status", "value": {"name": "Waiting Customer"}}
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{chosen}");
    assert_eq!(chosen["status"]["id"], 33);
}
