//! Transport and authentication: F1–F4.

use super::*;

#[tokio::test]
async fn f01_routes_have_no_prefix_and_unknown_paths_answer_html_404() {
    let sim = start().await;
    let ok = sim.get("/organizations").await;
    assert_eq!(ok.status, 200);

    for path in [
        "/api/organizations",
        "/nonsense",
        "/organizations/10/relationships/tickets_of_doom",
    ] {
        let reply = sim.get(path).await;
        assert_eq!(reply.status, 404, "{path}");
        assert!(
            reply.content_type.starts_with("text/html"),
            "{path}: {}",
            reply.content_type
        );
        assert!(reply
            .text
            .contains("The page you were looking for doesn't exist"));
    }
}

#[tokio::test]
async fn f02_missing_or_unknown_key_is_forbidden() {
    let sim = start().await;
    for request in [
        sim.http.get(sim.url("/organizations")),
        sim.http
            .get(sim.url("/organizations"))
            .header("x-api-key", "ITG.wrong"),
    ] {
        let reply = sim.raw(request).await;
        assert_eq!(reply.status, 403);
        assert_eq!(
            reply.json(),
            json!({"errors": [{"status": 403, "title": "Forbidden"}]})
        );
    }
}

#[tokio::test]
async fn f02_auth_failure_can_be_401_but_a_wrong_region_key_is_always_403() {
    let sim = start_with(|c| {
        c.auth_failure_status = 401;
        c.region = "eu".into();
        c.foreign_region_keys = vec!["ITG.us-account-key".into()];
    })
    .await;
    let unknown = sim
        .raw(
            sim.http
                .get(sim.url("/organizations"))
                .header("x-api-key", "ITG.nobody"),
        )
        .await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.json()["errors"][0]["title"], "Unauthorized");

    let wrong_region = sim
        .raw(
            sim.http
                .get(sim.url("/organizations"))
                .header("x-api-key", "ITG.us-account-key"),
        )
        .await;
    assert_eq!(wrong_region.status, 403);
}

#[tokio::test]
async fn f02_a_key_from_another_regions_simulator_is_forbidden() {
    let us = start().await;
    let eu = start_with(|c| {
        c.region = "eu".into();
        c.api_keys = vec!["ITG.eu-only".into()];
    })
    .await;
    let reply = eu
        .raw(
            eu.http
                .get(eu.url("/organizations"))
                .header("x-api-key", KEY),
        )
        .await;
    assert_eq!(reply.status, 403);
    let reply = us
        .raw(
            us.http
                .get(us.url("/organizations"))
                .header("x-api-key", "ITG.eu-only"),
        )
        .await;
    assert_eq!(reply.status, 403);
}

#[tokio::test]
async fn f03_writes_need_the_jsonapi_media_type() {
    let sim = start().await;
    let body = report_type_body("Media Type Check").to_string();
    for content_type in ["application/json", "text/plain"] {
        let reply = sim
            .raw(
                sim.http
                    .post(sim.url("/flexible_asset_types"))
                    .header("x-api-key", KEY)
                    .header(CONTENT_TYPE, content_type)
                    .body(body.clone()),
            )
            .await;
        assert_eq!(reply.status, 415, "{content_type}");
        assert_eq!(reply.json()["errors"][0]["status"], 415);
    }
    let missing = sim
        .raw(
            sim.http
                .post(sim.url("/flexible_asset_types"))
                .header("x-api-key", KEY)
                .body(body.clone()),
        )
        .await;
    assert_eq!(missing.status, 415);

    let with_charset = sim
        .raw(
            sim.http
                .post(sim.url("/flexible_asset_types"))
                .header("x-api-key", KEY)
                .header(CONTENT_TYPE, "application/vnd.api+json; charset=utf-8")
                .body(body),
        )
        .await;
    assert_eq!(with_charset.status, 201, "{}", with_charset.text);
    assert_eq!(
        with_charset.content_type,
        "application/vnd.api+json; charset=utf-8"
    );

    // GET ignores Content-Type entirely.
    let get = sim
        .raw(
            sim.http
                .get(sim.url("/organizations"))
                .header("x-api-key", KEY)
                .header(CONTENT_TYPE, "text/plain"),
        )
        .await;
    assert_eq!(get.status, 200);
    assert_eq!(get.content_type, "application/vnd.api+json; charset=utf-8");
}

#[tokio::test]
async fn f04_rate_limit_is_per_key_over_a_rolling_window() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap());
    let sim = start_with(|c| {
        c.api_keys.push("ITG.second-key".into());
        c.rate_limit = RateLimit {
            requests: 3,
            window: Duration::from_secs(60),
            send_retry_after: false,
        };
        c.clock = Arc::new(clock.clone());
    })
    .await;
    for _ in 0..2 {
        assert_eq!(sim.get("/organizations").await.status, 200);
    }
    clock.advance(Duration::from_secs(30));
    assert_eq!(sim.get("/organizations").await.status, 200);
    let throttled = sim.get("/organizations").await;
    assert_eq!(throttled.status, 429);
    assert_eq!(
        throttled.json(),
        json!({"errors": [{"status": 429, "title": "Too Many Requests"}]})
    );
    assert!(throttled.headers.get("retry-after").is_none());

    let other = sim
        .raw(
            sim.http
                .get(sim.url("/organizations"))
                .header("x-api-key", "ITG.second-key"),
        )
        .await;
    assert_eq!(other.status, 200, "another key has its own budget");

    // The first two requests leave the window 60 s after they were made; the third stays inside.
    clock.advance(Duration::from_secs(30));
    assert_eq!(sim.get("/organizations").await.status, 200);
    assert_eq!(sim.get("/organizations").await.status, 200);
    assert_eq!(sim.get("/organizations").await.status, 429);
}

#[tokio::test]
async fn f04_throttle_can_send_retry_after_and_429s_can_be_injected() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap());
    let sim = start_with(|c| {
        c.rate_limit = RateLimit::new(1, Duration::from_secs(300)).with_retry_after();
        c.clock = Arc::new(clock.clone());
    })
    .await;
    assert_eq!(sim.get("/organizations").await.status, 200);
    clock.advance(Duration::from_secs(100));
    let throttled = sim.get("/organizations").await;
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.headers["retry-after"], "200");

    clock.advance(Duration::from_secs(200));
    sim.sim.faults().rate_limit_next(2, None);
    assert_eq!(sim.get("/organizations").await.status, 429);
    assert_eq!(sim.get("/organizations").await.status, 429);
    assert_eq!(sim.get("/organizations").await.status, 200);
}
