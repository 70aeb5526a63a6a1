//! Conditions, ordering, projection and both pagination styles.

use super::*;

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
