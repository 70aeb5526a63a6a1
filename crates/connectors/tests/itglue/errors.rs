//! Authentication, the connection test, and every shape of error IT Glue answers with.

use super::*;

#[tokio::test]
async fn test_connection_succeeds_with_a_good_key() {
    let sim = demo().await;
    let check = client(&sim).test_connection().await.unwrap();
    assert_eq!(check.organization_count, Some(7));
    assert_eq!(check.base_url, sim.base_url());
}

#[tokio::test]
async fn a_wrong_key_and_a_wrong_region_are_both_explained() {
    let sim = start(ItGlueSimConfig {
        foreign_region_keys: vec![FOREIGN_KEY.to_string()],
        ..ItGlueSimConfig::demo(KEY)
    })
    .await;
    for key in ["ITG.not-a-key-of-this-account", FOREIGN_KEY] {
        let client = ItGlueClient::new(settings(&sim, key)).unwrap();
        let error = client.test_connection().await.unwrap_err();
        assert!(
            matches!(error, ItGlueError::Unauthorized { status: 403, .. }),
            "{error:?}"
        );
        assert_eq!(error.class(), ErrorClass::Permanent);
        let text = error.to_string();
        assert!(
            text.contains(sim.base_url()),
            "names where it connected: {text}"
        );
        assert!(text.contains("API key is wrong"), "{text}");
        assert!(text.contains("another region"), "{text}");
        assert!(!text.contains(key), "the key never appears: {text}");
    }
}

#[tokio::test]
async fn a_401_is_treated_as_an_authentication_problem_too() {
    let sim = start(ItGlueSimConfig {
        auth_failure_status: 401,
        ..ItGlueSimConfig::demo(KEY)
    })
    .await;
    let client = ItGlueClient::new(settings(&sim, "ITG.wrong")).unwrap();
    let error = client.list_contacts(None).await.unwrap_err();
    assert!(
        matches!(error, ItGlueError::Unauthorized { status: 401, .. }),
        "{error:?}"
    );
}

#[test]
fn the_region_is_named_when_a_region_was_configured() {
    use mspbridge_connectors::itglue::ItGlueRegion;
    let error = ItGlueError::from_status(
        403,
        "GET /organizations".to_string(),
        br#"{"errors":[{"status":403,"title":"Forbidden"}]}"#,
        None,
        &ItGlueBase::Region(ItGlueRegion::Au).describe(),
    );
    let text = error.to_string();
    assert!(
        text.contains("region AU (https://api.au.itglue.com)"),
        "{text}"
    );
}

#[test]
fn every_observed_error_body_reads_as_a_clear_message() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/itglue/errors_observed.json"
    );
    let observed: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let expected = [
        "Unprocessable Entity: Request contains invalid trait keys (at `data/attributes/traits`)",
        "Unprocessable Entity: can't be blank (at `/data/attributes/flexible-asset-traits.url`)",
        "Unprocessable Entity: must exist (at `/data/attributes/configuration-type`)",
        "Valid organization_id is required (at `data/attributes/organization_id`)",
        "Cannot index flexible assets without providing a flexible asset type ID filter",
        "bulk action not allowed for Flexible Asset using this route (at `data`)",
        "bulk action not allowed for Flexible Asset using this route (at `data`)",
        "Unauthorized: Unauthorized resource access (at `id`)",
    ];
    assert_eq!(observed.len(), expected.len());
    for (case, want) in observed.iter().zip(expected) {
        let body = serde_json::to_vec(&case["body"]).unwrap();
        assert_eq!(describe_error_body(&body), want, "{}", case["context"]);
        let status = u16::try_from(case["http_status"].as_u64().unwrap()).unwrap();
        let error = ItGlueError::from_status(
            status,
            "POST /flexible_assets".to_string(),
            &body,
            None,
            "explicit URL http://127.0.0.1",
        );
        assert_eq!(error.class(), ErrorClass::Permanent);
        assert!(error.to_string().contains(want), "{error}");
    }
}

#[tokio::test]
async fn validation_errors_from_the_server_carry_its_message() {
    let sim = demo().await;
    let client = client(&sim);
    let report_type = client.ensure_report_asset_type("Reports").await.unwrap();

    let mut unknown = report_type.traits(&report("R", "<html/>"));
    unknown.insert("no-such-field".to_string(), json!("x"));
    let error = client
        .create_flexible_asset(&NewFlexibleAsset {
            organization_id: 10,
            flexible_asset_type_id: report_type.type_id,
            traits: unknown,
        })
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(422));
    assert!(
        error
            .to_string()
            .contains("Request contains invalid trait keys"),
        "{error}"
    );

    let mut missing = Map::new();
    missing.insert("report-generation-date".to_string(), json!("2026-11-02"));
    let error = client
        .create_flexible_asset(&NewFlexibleAsset {
            organization_id: 10,
            flexible_asset_type_id: report_type.type_id,
            traits: missing,
        })
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("can't be blank"), "{text}");
    assert!(text.contains("report-name"), "{text}");
}

#[tokio::test]
async fn an_unknown_route_answers_html_and_says_so() {
    let sim = demo().await;
    let error = client(&sim)
        .related_items(ResourceRef {
            kind: ResourceKind::ChecklistTemplate,
            id: 1,
        })
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert!(error.to_string().contains("HTML page"), "{error}");
}

#[tokio::test]
async fn server_errors_are_retried_for_reads_but_not_for_creates() {
    let sim = demo().await;
    let client = client(&sim);
    sim.faults().fail_next(503, 2);
    let organizations = client.list_organizations(&Filters::new()).await.unwrap();
    assert_eq!(organizations.len(), 7);
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![503, 503, 200]);

    let report_type = client.ensure_report_asset_type("Reports").await.unwrap();
    sim.state().clear_requests();
    sim.faults().fail_next(502, 1);
    let error = client
        .create_flexible_asset(&NewFlexibleAsset {
            organization_id: 10,
            flexible_asset_type_id: report_type.type_id,
            traits: report_type.traits(&report("R", "<html/>")),
        })
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Retryable, "{error}");
    assert_eq!(
        sim.requests().len(),
        1,
        "an unknown-outcome create is left to the job runner"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let mut settings = ItGlueSettings::new(
        ItGlueBase::Url(format!("http://{address}").parse().unwrap()),
        KEY,
    );
    settings.retry = RetryPolicy::never();
    let error = ItGlueClient::new(settings)
        .unwrap()
        .test_connection()
        .await
        .unwrap_err();
    assert!(matches!(error, ItGlueError::Transport { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Retryable);
    let text = error.to_string();
    assert!(
        text.to_ascii_lowercase().contains("connection refused"),
        "the root cause is spelled out: {text}"
    );
}
