//! The Auditor client against the Auditor simulator over loopback: every operation, paging, each
//! error shape and its class, retries, timeouts and certificate pinning.

use std::net::SocketAddr;
use std::time::Duration;

use mspbridge_connectors::netwrix::{
    parse_record_page, with_retries, ActivityRecord, AuditorClient, AuditorError, AuditorPassword,
    AuditorSettings, FilterField, FilterList, FilterOperator, RetryPolicy, TlsMode, WireFormat,
};
use mspbridge_connectors::{Backoff, ErrorClass};
use mspbridge_simulators::auditor::{
    demo_records, spawn, AuditorFault, AuditorSimConfig, AuditorSimTls, AuditorSimulator,
};
use serde_json::json;

const USER: &str = r"ACME\svc-mspbridge";
const PASSWORD: &str = "Corr3ct-H0rse-Battery";
/// The first record of the demo data: a password reset at Acme.
const ACME_RESET_RID: &str = "20261123081241000A96B16A92C3F44959288945E9A11B251";

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn demo_simulator() -> AuditorSimulator {
    spawn(
        AuditorSimConfig::new(USER, PASSWORD).with_records(demo_records()),
        loopback(),
    )
    .await
    .unwrap()
}

fn settings_for(sim: &AuditorSimulator) -> AuditorSettings {
    AuditorSettings::new(
        sim.base_url().parse().unwrap(),
        USER,
        AuditorPassword::new(PASSWORD),
    )
}

fn client_for(sim: &AuditorSimulator) -> AuditorClient {
    AuditorClient::new(settings_for(sim)).unwrap()
}

fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(5)),
    }
}

fn api_requests(sim: &AuditorSimulator) -> usize {
    sim.requests().len()
}

#[tokio::test]
async fn search_by_rid_returns_the_record_with_its_details() {
    let sim = demo_simulator().await;
    let record = client_for(&sim)
        .search_by_rid(ACME_RESET_RID)
        .await
        .unwrap()
        .expect("the demo password reset exists");
    assert_eq!(record.who, r"ACME\helpdesk.anna");
    assert_eq!(record.action, "Modified");
    assert_eq!(
        record.workstation.as_deref(),
        Some("ACME-WS-014.acme.example")
    );
    assert_eq!(record.monitoring_plan_name(), Some("Acme Active Directory"));
    assert_eq!(record.item.as_deref(), Some("acme.example (Domain)"));
    assert_eq!(
        record.details_flattened(),
        "Password: Password reset\npwdLastSet: 2026-08-02 09:14:55 -> 2026-11-23 08:12:41"
    );
    assert_eq!(
        record.when_parsed().unwrap().to_rfc3339(),
        "2026-11-23T08:12:41+00:00"
    );

    let request = &sim.requests()[0];
    assert_eq!(request.path, "/netwrix/api/v1/activity_records/search");
    assert_eq!(request.query.as_deref(), Some("format=json&count=200"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&request.body).unwrap(),
        json!({ "FilterList": { "RID": { "Equals": ACME_RESET_RID } } })
    );
    assert!(request.authorized);
}

#[tokio::test]
async fn search_by_rid_of_an_unknown_record_is_none() {
    let sim = demo_simulator().await;
    let found = client_for(&sim)
        .search_by_rid("20990101000000000FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF")
        .await
        .unwrap();
    assert_eq!(found, None);
}

#[tokio::test]
async fn search_follows_continuation_marks_resending_the_same_filters() {
    let sim = demo_simulator().await;
    let mut settings = settings_for(&sim);
    settings.records_per_request = 2;
    let client = AuditorClient::new(settings).unwrap();
    let filters = FilterList::new()
        .with(FilterField::Where, FilterOperator::EndsWith, "acme.example")
        .with(FilterField::Action, FilterOperator::NotEqualTo, "Removed");
    let records = client.search(&filters).await.unwrap();
    let whats: Vec<&str> = records.iter().map(|record| record.what.as_str()).collect();
    assert_eq!(
        whats,
        [
            r"\example\acme\Users\Jane Doe",
            r"ACME\jsmith",
            r"ACME\jsmith",
            r"\example\acme\Users\Domain Admins"
        ]
    );
    let log = sim.requests();
    assert_eq!(
        log.len(),
        3,
        "two full pages, then the empty page that ends the data"
    );
    let bodies: Vec<serde_json::Value> = log
        .iter()
        .map(|request| serde_json::from_str(&request.body).unwrap())
        .collect();
    assert!(bodies[0].get("ContinuationMark").is_none());
    for body in &bodies[1..] {
        assert_eq!(body["FilterList"], bodies[0]["FilterList"]);
        assert!(body["ContinuationMark"].is_string());
    }
    assert_ne!(bodies[1]["ContinuationMark"], bodies[2]["ContinuationMark"]);
}

#[tokio::test]
async fn enum_records_reads_every_page_or_stops_at_the_limit() {
    let sim = demo_simulator().await;
    let mut settings = settings_for(&sim);
    settings.records_per_request = 5;
    let client = AuditorClient::new(settings).unwrap();
    let all = client.enum_records(usize::MAX).await.unwrap();
    assert_eq!(all.len(), demo_records().len());
    assert_eq!(all[0].rid.as_deref(), Some(ACME_RESET_RID));
    let log = sim.requests();
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[1].method, "POST");
    assert!(
        log[1].body.starts_with('"'),
        "the mark is sent as a bare JSON string"
    );

    let first_six = client.enum_records(6).await.unwrap();
    assert_eq!(first_six[..], all[..6]);
}

#[tokio::test]
async fn written_records_come_back_with_a_rid_and_the_api_data_source() {
    let sim = spawn(AuditorSimConfig::new(USER, PASSWORD), loopback())
        .await
        .unwrap();
    let client = client_for(&sim);
    let record: ActivityRecord = serde_json::from_value(json!({
        "Who": r"GLOBEX\it.ops", "Action": "Modified", "ObjectType": "group",
        "What": r"\example\globex\Users\Enterprise Admins", "When": "2026-11-23T10:11:05Z",
        "Where": "DC01.globex.example", "Workstation": "GLOBEX-ADM-02.globex.example",
        "DetailList": [ { "PropertyName": "Member", "After": r"GLOBEX\contractor7" } ]
    }))
    .unwrap();
    client
        .write_records(std::slice::from_ref(&record))
        .await
        .unwrap();
    let stored = client.enum_records(10).await.unwrap();
    assert_eq!(stored.len(), 1);
    let rid = stored[0].rid.clone().unwrap();
    let fetched = client.search_by_rid(&rid).await.unwrap().unwrap();
    assert_eq!(fetched.data_source.as_deref(), Some("Netwrix API"));
    assert_eq!(fetched.details, record.details);
    assert_eq!(
        fetched.details_flattened(),
        r"Member: (none) -> GLOBEX\contractor7"
    );
}

#[tokio::test]
async fn wrong_credentials_are_a_permanent_error_naming_the_user_not_the_password() {
    let sim = demo_simulator().await;
    let mut settings = settings_for(&sim);
    settings.password = AuditorPassword::new("wrong-password-value");
    let client = AuditorClient::new(settings.clone()).unwrap();
    let error = client.search_by_rid(ACME_RESET_RID).await.unwrap_err();
    assert!(matches!(error, AuditorError::Unauthorized { .. }));
    assert_eq!(error.class(), ErrorClass::Permanent);
    assert_eq!(error.status(), Some(401));
    let message = error.to_string();
    assert!(
        message.contains(r"Netwrix Auditor rejected the credentials for user ACME\svc-mspbridge"),
        "{message}"
    );
    for shown in [
        message,
        format!("{error:?}"),
        format!("{settings:?}"),
        format!("{client:?}"),
    ] {
        assert!(!shown.contains("wrong-password-value"), "{shown}");
    }
}

#[tokio::test]
async fn a_url_without_the_api_is_a_permanent_not_found() {
    let sim = demo_simulator().await;
    let mut settings = settings_for(&sim);
    settings.url = format!("{}/not-auditor/", sim.base_url()).parse().unwrap();
    let error = AuditorClient::new(settings)
        .unwrap()
        .search_by_rid(ACME_RESET_RID)
        .await
        .unwrap_err();
    assert!(
        matches!(error, AuditorError::EndpointNotFound { .. }),
        "{error:?}"
    );
    assert_eq!(error.class(), ErrorClass::Permanent);
    assert!(error
        .to_string()
        .contains("/not-auditor/netwrix/api/v1/activity_records/search"));
}

#[tokio::test]
async fn a_validation_error_carries_the_error_list() {
    let sim = demo_simulator().await;
    let error = client_for(&sim)
        .search_by_rid(&"9".repeat(60))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert_eq!(error.class(), ErrorClass::Permanent);
    assert_eq!(error.entries()[0].category, "InputError");
    assert!(
        error
            .to_string()
            .contains("InputError: Filter RID value is longer than 49"),
        "{error}"
    );
}

#[tokio::test]
async fn an_oversized_write_is_a_permanent_payload_too_large() {
    let mut config = AuditorSimConfig::new(USER, PASSWORD);
    config.max_body_bytes = 100;
    let sim = spawn(config, loopback()).await.unwrap();
    let record = demo_records().remove(0);
    let record: ActivityRecord =
        serde_json::from_value(serde_json::to_value(&record).unwrap()).unwrap();
    let error = client_for(&sim).write_records(&[record]).await.unwrap_err();
    assert!(
        matches!(error, AuditorError::PayloadTooLarge { .. }),
        "{error:?}"
    );
    assert_eq!(error.class(), ErrorClass::Permanent);
}

#[tokio::test]
async fn server_errors_are_retryable_and_keep_auditors_description() {
    let sim = demo_simulator().await;
    sim.faults().push(AuditorFault::DatabaseUnavailable);
    let error = client_for(&sim)
        .search_by_rid(ACME_RESET_RID)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(500));
    assert_eq!(error.class(), ErrorClass::Retryable);
    assert_eq!(
        error.to_string(),
        "Netwrix Auditor answered HTTP 500: ServerError: 0x80040C0A SQL Server cannot be contacted"
    );
    sim.faults().push(AuditorFault::EmptyServerError);
    let error = client_for(&sim)
        .search_by_rid(ACME_RESET_RID)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Netwrix Auditor answered HTTP 500 with no error details"
    );
}

#[tokio::test]
async fn with_retries_rides_out_500_and_503() {
    let sim = demo_simulator().await;
    sim.faults().push(AuditorFault::DatabaseUnavailable);
    sim.faults().push(AuditorFault::ServiceBusy);
    let client = client_for(&sim);
    let record = with_retries(&fast_retries(3), || client.search_by_rid(ACME_RESET_RID))
        .await
        .unwrap();
    assert!(record.is_some());
    assert_eq!(api_requests(&sim), 3);
}

#[tokio::test]
async fn with_retries_gives_up_after_the_last_attempt() {
    let sim = demo_simulator().await;
    sim.faults().set_always(Some(AuditorFault::ServiceBusy));
    let client = client_for(&sim);
    let error = with_retries(&fast_retries(3), || client.search_by_rid(ACME_RESET_RID))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert_eq!(api_requests(&sim), 3);
}

#[tokio::test]
async fn with_retries_does_not_repeat_permanent_failures() {
    let sim = demo_simulator().await;
    let mut wrong_password = settings_for(&sim);
    wrong_password.password = AuditorPassword::new("nope");
    let mut wrong_path = settings_for(&sim);
    wrong_path.url = format!("{}/elsewhere/", sim.base_url()).parse().unwrap();
    let cases = [
        (
            AuditorClient::new(wrong_password).unwrap(),
            "1".repeat(60),
            401,
        ),
        (client_for(&sim), "2".repeat(60), 400),
        (
            AuditorClient::new(wrong_path).unwrap(),
            ACME_RESET_RID.to_owned(),
            404,
        ),
    ];
    for (client, rid, status) in cases {
        let before = api_requests(&sim);
        let error = with_retries(&fast_retries(5), || client.search_by_rid(&rid))
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(status));
        let sent = api_requests(&sim) - before;
        // A 404 is answered before the request reaches the API, so it is not in the log.
        assert!(sent <= 1, "HTTP {status} was sent {sent} times");
    }

    let mut config = AuditorSimConfig::new(USER, PASSWORD);
    config.max_body_bytes = 10;
    let small = spawn(config, loopback()).await.unwrap();
    let record: ActivityRecord =
        serde_json::from_value(serde_json::to_value(demo_records().remove(0)).unwrap()).unwrap();
    let client = client_for(&small);
    let error = with_retries(&fast_retries(5), || {
        client.write_records(std::slice::from_ref(&record))
    })
    .await
    .unwrap_err();
    assert_eq!(error.status(), Some(413));
    assert_eq!(api_requests(&small), 1);
}

#[tokio::test]
async fn a_slow_answer_times_out_as_retryable_and_a_retry_succeeds() {
    let sim = demo_simulator().await;
    sim.faults().push(AuditorFault::Delay { millis: 5_000 });
    let mut settings = settings_for(&sim);
    settings.timeout = Duration::from_millis(200);
    let client = AuditorClient::new(settings).unwrap();
    let record = with_retries(&fast_retries(2), || async {
        let result = client.search_by_rid(ACME_RESET_RID).await;
        if let Err(error) = &result {
            assert!(matches!(error, AuditorError::Timeout { .. }), "{error:?}");
            assert_eq!(error.class(), ErrorClass::Retryable);
            assert!(
                error.to_string().contains("did not answer within 200ms"),
                "{error}"
            );
        }
        result
    })
    .await
    .unwrap();
    assert!(record.is_some());
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_transport_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let settings = AuditorSettings::new(
        format!("http://127.0.0.1:{port}").parse().unwrap(),
        USER,
        AuditorPassword::new(PASSWORD),
    );
    let error = AuditorClient::new(settings)
        .unwrap()
        .search_by_rid(ACME_RESET_RID)
        .await
        .unwrap_err();
    assert!(matches!(error, AuditorError::Transport { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Retryable);
    assert!(error.is_retried_in_place());
    assert!(!error.to_string().contains(PASSWORD));
}

async fn https_simulator() -> AuditorSimulator {
    spawn(
        AuditorSimConfig::new(USER, PASSWORD)
            .with_records(demo_records())
            .with_tls(AuditorSimTls::self_signed_localhost()),
        loopback(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_pinned_certificate_is_accepted_in_any_fingerprint_spelling() {
    let sim = https_simulator().await;
    let fingerprint = sim.certificate_sha256_hex().unwrap();
    let colon_upper: String = fingerprint
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    for pin in [fingerprint, colon_upper] {
        let mut settings = settings_for(&sim);
        settings.tls = TlsMode::PinnedSha256(pin);
        let record = AuditorClient::new(settings)
            .unwrap()
            .search_by_rid(ACME_RESET_RID)
            .await
            .unwrap();
        assert!(record.is_some());
    }
}

#[tokio::test]
async fn another_certificate_is_rejected_by_the_pin_without_retrying() {
    let sim = https_simulator().await;
    let mut settings = settings_for(&sim);
    let wrong = "ab".repeat(32);
    settings.tls = TlsMode::PinnedSha256(wrong.clone());
    let client = AuditorClient::new(settings).unwrap();
    let error = with_retries(&fast_retries(4), || client.search_by_rid(ACME_RESET_RID))
        .await
        .unwrap_err();
    assert!(
        matches!(error, AuditorError::CertificateMismatch { .. }),
        "{error:?}"
    );
    assert_eq!(error.class(), ErrorClass::Permanent);
    let message = error.to_string();
    assert!(
        message.contains("does not match the pinned SHA-256"),
        "{message}"
    );
    assert!(message.contains(&wrong), "{message}");
    assert!(
        message.contains(&sim.certificate_sha256_hex().unwrap()),
        "{message}"
    );
    assert_eq!(
        api_requests(&sim),
        0,
        "no request may pass an unpinned certificate"
    );
}

#[tokio::test]
async fn verified_tls_rejects_the_self_signed_certificate_and_accept_invalid_takes_it() {
    let sim = https_simulator().await;
    let error = client_for(&sim)
        .search_by_rid(ACME_RESET_RID)
        .await
        .unwrap_err();
    assert!(
        matches!(error, AuditorError::CertificateRejected { .. }),
        "{error:?}"
    );
    assert_eq!(error.class(), ErrorClass::Permanent);

    let mut settings = settings_for(&sim);
    settings.tls = TlsMode::AcceptInvalid;
    let record = AuditorClient::new(settings)
        .unwrap()
        .search_by_rid(ACME_RESET_RID)
        .await
        .unwrap();
    assert!(record.is_some());
}

#[test]
fn settings_report_every_problem_at_once() {
    let mut settings = AuditorSettings::new(
        "http://auditor.acme.example:9699".parse().unwrap(),
        " ",
        AuditorPassword::new(PASSWORD),
    );
    settings.records_per_request = 1001;
    settings.tls = TlsMode::PinnedSha256("not-hex".to_owned());
    let error = AuditorClient::new(settings).unwrap_err();
    let message = error.to_string();
    for expected in [
        "username is empty",
        "records_per_request is 1001, it must be between 1 and 1000",
        "\"not-hex\" is not a SHA-256",
        "a pinned certificate needs an https:// url",
    ] {
        assert!(
            message.contains(expected),
            "{message} should mention {expected}"
        );
    }
    assert_eq!(error.class(), ErrorClass::Permanent);
    assert!(!message.contains(PASSWORD));
}

#[test]
fn every_status_maps_to_the_documented_class() {
    let api = |status| AuditorError::Api {
        status,
        errors: Vec::new(),
        retry_after: None,
    };
    let url = || "https://auditor.example/".to_owned();
    let cases = [
        (api(400), ErrorClass::Permanent, false),
        (
            AuditorError::Unauthorized {
                username: USER.to_owned(),
            },
            ErrorClass::Permanent,
            false,
        ),
        (
            AuditorError::EndpointNotFound { url: url() },
            ErrorClass::Permanent,
            false,
        ),
        (
            AuditorError::MethodNotAllowed {
                method: "GET".to_owned(),
                url: url(),
            },
            ErrorClass::Permanent,
            false,
        ),
        (
            AuditorError::PayloadTooLarge { bytes: 1 },
            ErrorClass::Permanent,
            false,
        ),
        (api(500), ErrorClass::Retryable, true),
        (api(503), ErrorClass::Retryable, true),
        (api(502), ErrorClass::Retryable, false),
        (
            AuditorError::Timeout {
                url: url(),
                timeout: Duration::from_secs(1),
            },
            ErrorClass::Retryable,
            true,
        ),
    ];
    for (error, class, retried_in_place) in cases {
        assert_eq!(error.class(), class, "{error}");
        assert_eq!(error.is_retried_in_place(), retried_in_place, "{error}");
    }
}

#[test]
fn retry_backoff_doubles_up_to_the_cap() {
    let policy = RetryPolicy {
        max_attempts: 6,
        backoff: Backoff::new(Duration::from_millis(100), Duration::from_millis(350)),
    };
    let waits: Vec<u128> = (1..=4)
        .map(|attempt| policy.backoff_after(attempt).as_millis())
        .collect();
    // Each wait is the doubled one stretched by a jitter of up to a quarter, never over the cap.
    assert!((100..=125).contains(&waits[0]), "{waits:?}");
    assert!((200..=250).contains(&waits[1]), "{waits:?}");
    assert_eq!(&waits[2..], [350, 350]);
}

#[tokio::test]
async fn xml_pages_read_the_same_as_json_pages() {
    let sim = demo_simulator().await;
    let fetch = |format: &'static str| {
        let url = format!(
            "{}/netwrix/api/v1/activity_records/enum?count=1000{format}",
            sim.base_url()
        );
        async move {
            reqwest::Client::new()
                .get(url)
                .basic_auth(USER, Some(PASSWORD))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        }
    };
    let xml = parse_record_page(&fetch("").await, WireFormat::Xml).unwrap();
    let json = parse_record_page(&fetch("&format=json").await, WireFormat::Json).unwrap();
    assert_eq!(xml.records.len(), demo_records().len());
    assert_eq!(xml.records, json.records);
    assert_eq!(xml.continuation_mark, json.continuation_mark);
}

#[tokio::test]
async fn probe_reads_one_record_and_reports_bad_credentials() {
    let sim = demo_simulator().await;
    client_for(&sim).probe().await.unwrap();
    assert_eq!(
        sim.requests()[0].query.as_deref(),
        Some("format=json&count=1")
    );
    let mut settings = settings_for(&sim);
    settings.username = r"ACME\someone-else".to_owned();
    let error = AuditorClient::new(settings)
        .unwrap()
        .probe()
        .await
        .unwrap_err();
    assert!(
        matches!(error, AuditorError::Unauthorized { .. }),
        "{error:?}"
    );
}
