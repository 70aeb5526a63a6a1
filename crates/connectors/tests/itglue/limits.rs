//! The request budget, 429s, slow pages, and the API key staying out of every output.

use super::*;

#[tokio::test]
async fn a_429_is_waited_out_and_the_call_repeated() {
    let sim = demo().await;
    let client = client(&sim);
    sim.faults().rate_limit_next(1, None);
    sim.faults().rate_limit_next(1, Some(Duration::ZERO));
    let check = client.test_connection().await.unwrap();
    assert_eq!(check.organization_count, Some(7));
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 429, 200]);
}

#[tokio::test]
async fn a_429_is_retried_even_for_creates() {
    let sim = demo().await;
    let client = client(&sim);
    let report_type = client.ensure_report_asset_type("Reports").await.unwrap();
    sim.state().clear_requests();
    sim.faults().rate_limit_next(1, Some(Duration::ZERO));
    client
        .create_flexible_asset(&NewFlexibleAsset {
            organization_id: 10,
            flexible_asset_type_id: report_type.type_id,
            traits: report_type.traits(&report("R", "<html/>")),
        })
        .await
        .unwrap();
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 201]);
    assert_eq!(sim.flexible_assets().len(), 1);
}

#[tokio::test]
async fn reaching_the_server_limit_reports_the_delay_it_asked_for() {
    let sim = start(ItGlueSimConfig {
        rate_limit: RateLimit {
            requests: 2,
            window: Duration::from_secs(300),
            send_retry_after: true,
        },
        ..ItGlueSimConfig::demo(KEY)
    })
    .await;
    let client = client_with(&sim, |s| s.retry = RetryPolicy::never());
    client.test_connection().await.unwrap();
    client.test_connection().await.unwrap();
    let error = client.test_connection().await.unwrap_err();
    let ErrorClass::RateLimited {
        retry_after: Some(delay),
    } = error.class()
    else {
        panic!("expected a rate limit with a delay, got {error:?}");
    };
    assert!(
        delay > Duration::from_secs(200) && delay <= Duration::from_secs(300),
        "{delay:?}"
    );
    assert!(error.to_string().contains("HTTP 429"), "{error}");
    assert_eq!(
        client.budget_remaining(),
        0,
        "the whole budget is held after a 429"
    );
}

#[tokio::test]
async fn the_client_budget_keeps_requests_under_the_server_limit() {
    // The server allows 2 requests per 200 ms; the client allows itself 2 per 500 ms, so it must
    // wait twice for six calls and never see a 429 (retries are off, so one would fail the test).
    let sim = start(ItGlueSimConfig {
        rate_limit: RateLimit {
            requests: 2,
            window: Duration::from_millis(200),
            send_retry_after: false,
        },
        ..ItGlueSimConfig::demo(KEY)
    })
    .await;
    let client = client_with(&sim, |s| {
        s.retry = RetryPolicy::never();
        s.budget = RequestBudget {
            max_requests: 2,
            window: Duration::from_millis(500),
        };
    });
    let clone = client.clone();
    for round in 0..3 {
        client.test_connection().await.unwrap();
        clone.test_connection().await.unwrap();
        assert_eq!(
            client.budget_used(),
            2,
            "round {round}: clones share one budget"
        );
        assert_eq!(clone.budget_remaining(), 0);
    }
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200; 6]);
    assert_eq!(client.budget().max_requests, 2);
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_api_key_never_reaches_logs_errors_or_debug_output() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim = demo().await;
    let client = client(&sim);
    let wrong = ItGlueClient::new(settings(&sim, "ITG.wrong-key-that-must-not-leak")).unwrap();

    let mut shown = Vec::new();
    client.list_organizations(&Filters::new()).await.unwrap();
    sim.faults().rate_limit_next(1, Some(Duration::ZERO));
    sim.faults().fail_next(500, 1);
    client.list_contacts(None).await.unwrap();
    let error = wrong.test_connection().await.unwrap_err();
    shown.push(error.to_string());
    shown.push(format!("{error:?}"));
    let missing = client.get_organization(424_242).await.unwrap_err();
    shown.push(format!("{missing} {missing:?}"));
    shown.push(format!("{client:?}"));
    shown.push(format!("{:?}", settings(&sim, KEY)));
    tracing::info!("end of capture");

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("end of capture"), "the capture works");
    assert!(
        logs.contains("IT Glue"),
        "client events were captured: {logs}"
    );
    for secret in [KEY, "ITG.wrong-key-that-must-not-leak"] {
        assert!(!logs.contains(secret), "key in logs:\n{logs}");
        for text in &shown {
            assert!(!text.contains(secret), "key in output: {text}");
        }
    }
}

#[tokio::test]
async fn a_page_that_times_out_at_the_gateway_is_read_in_smaller_pages() {
    let sim = demo().await;
    let client = client_with(&sim, |s| s.retry = RetryPolicy::never());
    sim.faults().fail_next(504, 1);
    let organizations = client.list_organizations(&Filters::new()).await.unwrap();
    assert_eq!(organizations.len(), 7);
    let requests = sim.requests();
    let queries: Vec<String> = requests
        .iter()
        .map(|r| r.query.clone().unwrap_or_default())
        .collect();
    assert_eq!(requests[0].status, 504);
    assert!(queries[0].contains("page%5Bsize%5D=1000"), "{queries:?}");
    assert_eq!(requests[1].status, 200);
    assert!(queries[1].contains("page%5Bsize%5D=500"), "{queries:?}");
    assert!(queries[1].contains("page%5Bnumber%5D=1"), "{queries:?}");
}

#[tokio::test]
async fn a_client_timeout_is_retryable() {
    let sim = demo().await;
    let client = client_with(&sim, |s| {
        s.retry = RetryPolicy::never();
        s.timeout = Duration::from_millis(50);
    });
    sim.faults().delay_next(Duration::from_secs(2), 1);
    let error = client.test_connection().await.unwrap_err();
    assert!(matches!(error, ItGlueError::Transport { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Retryable);
    assert!(error.to_string().contains("timed out"), "{error}");
}
